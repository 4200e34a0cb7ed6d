// A streaming reader of multipart/form-data bodies (browser POST uploads). Fields before the file
// are read into memory under strict limits; the file part is exposed as a ByteSource that ends at
// the closing boundary, so a large upload is never held in memory.
#pragma once

#include "base/byte_stream.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::s3api {

// "multipart/form-data; boundary=abc" -> "abc" (quotes removed); nullopt when absent.
std::optional<std::string> form_boundary(std::string_view content_type);

class FormDataReader {
public:
    struct Limits {
        std::size_t max_field_bytes = 20 * 1024;
        std::size_t max_total_field_bytes = 64 * 1024;
        std::size_t max_parts = 100;
    };
    FormDataReader(ByteSource& body, std::string boundary, Limits limits);
    ~FormDataReader();

    // Reads every part up to the one named "file" (case-insensitive). Fields keep the names as
    // sent. InvalidArgument for malformed framing or limits; NotFound when the body has no file.
    Result<void> read_fields();
    const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
    const std::string& file_name() const { return file_name_; }
    const std::string& file_content_type() const { return file_content_type_; }
    // The file's bytes, ending at the boundary that follows them. Valid after read_fields().
    ByteSource& file();

private:
    class FileSource;
    Result<std::size_t> fill();  // reads more of the body into the buffer
    Result<std::string> read_header_block();
    Result<void> read_until_delimiter(std::string& out, std::size_t limit);

    ByteSource& body_;
    std::string delimiter_;  // "\r\n--" + boundary
    Limits limits_;
    std::string buffer_;
    std::size_t pos_ = 0;
    bool eof_ = false;
    std::vector<std::pair<std::string, std::string>> fields_;
    std::string file_name_;
    std::string file_content_type_;
    std::unique_ptr<FileSource> file_;
    friend class FileSource;
};

}  // namespace pf::s3api
