// Where a photo's bytes come from: a file on disk or a buffer in memory (an S3 object body).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace pf::imaging {

class PhotoSource {
public:
    static PhotoSource from_file(std::filesystem::path path) {
        PhotoSource s;
        s.path_ = std::move(path);
        s.name_ = s.path_.string();
        return s;
    }
    // `name` is only used in messages (e.g. the S3 key).
    static PhotoSource from_bytes(std::shared_ptr<const std::string> bytes, std::string name) {
        PhotoSource s;
        s.bytes_ = std::move(bytes);
        s.name_ = std::move(name);
        return s;
    }

    bool is_file() const { return bytes_ == nullptr; }
    const std::filesystem::path& path() const { return path_; }
    const std::shared_ptr<const std::string>& bytes() const { return bytes_; }
    const std::string& name() const { return name_; }

private:
    PhotoSource() = default;
    std::filesystem::path path_;
    std::shared_ptr<const std::string> bytes_;
    std::string name_;
};

}  // namespace pf::imaging
