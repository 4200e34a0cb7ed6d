// In-memory http::Request / RequestBody / Response for the console's unit tests: a request is a
// plain struct, the response records status, headers and body (thread-safe, so a test can watch
// an event stream that another thread writes).
#pragma once

#include "http/server.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace pf::console::testing {

inline http::Request make_request(std::string method, std::string target,
                                  std::vector<std::pair<std::string, std::string>> headers = {},
                                  std::string remote = "192.0.2.7:40000") {
    http::Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.headers = std::move(headers);
    r.remote_address = std::move(remote);
    return r;
}

class StringBody : public http::RequestBody {
public:
    explicit StringBody(std::string data = {}) : data_(std::move(data)) {}
    Result<std::size_t> read(std::span<char> out) override {
        std::size_t n = std::min(out.size(), data_.size() - pos_);
        std::memcpy(out.data(), data_.data() + pos_, n);
        pos_ += n;
        return n;
    }
    std::uint64_t bytes_read() const override { return pos_; }
    bool finished() const override { return pos_ == data_.size(); }

private:
    std::string data_;
    std::size_t pos_ = 0;
};

class CaptureResponse : public http::Response {
public:
    CaptureResponse() = default;
    // Movable (for helpers that return one); the lock and condition are fresh.
    CaptureResponse(CaptureResponse&& other) noexcept {
        std::lock_guard lock(other.mutex_);
        status_ = other.status_;
        headers_ = std::move(other.headers_);
        content_length_ = other.content_length_;
        body_ = std::move(other.body_);
        started_ = other.started_;
        finished_ = other.finished_;
    }

    Result<void> start(int status, std::vector<std::pair<std::string, std::string>> headers,
                       std::optional<std::uint64_t> content_length) override {
        std::lock_guard lock(mutex_);
        status_ = status;
        headers_ = std::move(headers);
        content_length_ = content_length;
        started_ = true;
        changed_.notify_all();
        return {};
    }
    Result<void> write(std::span<const char> bytes) override {
        std::lock_guard lock(mutex_);
        body_.append(bytes.data(), bytes.size());
        changed_.notify_all();
        return {};
    }
    Result<void> finish() override {
        std::lock_guard lock(mutex_);
        finished_ = true;
        changed_.notify_all();
        return {};
    }
    bool started() const override {
        std::lock_guard lock(mutex_);
        return started_;
    }
    void close_after() override {}

    int status() const {
        std::lock_guard lock(mutex_);
        return status_;
    }
    std::string body() const {
        std::lock_guard lock(mutex_);
        return body_;
    }
    std::optional<std::uint64_t> content_length() const {
        std::lock_guard lock(mutex_);
        return content_length_;
    }
    std::optional<std::string> header(const std::string& name) const {
        std::lock_guard lock(mutex_);
        for (const auto& [n, v] : headers_) {
            if (n == name) {
                return v;
            }
        }
        return std::nullopt;
    }
    // Waits (up to `timeout`) until the body contains `text`.
    bool wait_for(const std::string& text,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout,
                                 [&] { return body_.find(text) != std::string::npos; });
    }

private:
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    int status_ = 0;
    std::vector<std::pair<std::string, std::string>> headers_;
    std::optional<std::uint64_t> content_length_;
    std::string body_;
    bool started_ = false;
    bool finished_ = false;
};

}  // namespace pf::console::testing
