// In-memory http::Request / RequestBody for s3api unit tests (the real server is exercised by the
// http tests and the end-to-end suite).
#pragma once

#include "http/server.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace pf::s3api::testing {

inline http::Request make_request(std::string method, std::string target,
                                  std::vector<std::pair<std::string, std::string>> headers) {
    http::Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.headers = std::move(headers);
    return r;
}

// Serves a fixed string in reads of at most `slice` bytes.
class StringBody : public http::RequestBody {
public:
    explicit StringBody(std::string data, std::size_t slice = 1 << 20)
        : data_(std::move(data)), slice_(slice) {}
    Result<std::size_t> read(std::span<char> out) override {
        std::size_t n = std::min({out.size(), slice_, data_.size() - pos_});
        std::memcpy(out.data(), data_.data() + pos_, n);
        pos_ += n;
        return n;
    }
    std::uint64_t bytes_read() const override { return pos_; }
    bool finished() const override { return pos_ == data_.size(); }

private:
    std::string data_;
    std::size_t slice_;
    std::size_t pos_ = 0;
};

}  // namespace pf::s3api::testing
