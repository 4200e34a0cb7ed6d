// An in-test aws::HttpTransport: records every request (reading a streamed body out in full) and
// answers from a script, one entry per call. A 2xx answer's body goes to the caller's sink when
// there is one, as the real transport does.
#pragma once

#include "aws/http_transport.h"
#include "aws/time_format.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pf::aws::test {

struct RecordedCall {
    TransportRequest request;  // body_source cleared
    std::string streamed_body;
    bool had_sink = false;
    std::optional<std::string> header(const std::string& name) const {
        for (const auto& [n, v] : request.headers) {
            if (n == name) {
                return v;
            }
        }
        return std::nullopt;
    }
};

inline TransportResponse answer(int status, std::string body = {},
                                std::vector<std::pair<std::string, std::string>> headers = {}) {
    TransportResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
}

inline std::string s3_error(const std::string& code, const std::string& message) {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" +
           message + "</Message><RequestId>REQ123</RequestId><HostId>h</HostId></Error>";
}

class FakeTransport final : public HttpTransport {
public:
    using Step = std::function<Result<TransportResponse>(const RecordedCall&, ByteSink*)>;

    // Queue a fixed answer or error.
    void then(Result<TransportResponse> result) {
        steps_.push_back([result](const RecordedCall&, ByteSink*) { return result; });
    }
    // Queue a computed answer.
    void then_do(Step step) { steps_.push_back(std::move(step)); }
    // Answer for every call once the script has run out.
    void otherwise(Step step) { fallback_ = std::move(step); }

    Result<TransportResponse> send(const TransportRequest& request, ByteSink* sink) override {
        RecordedCall call;
        call.request = request;
        call.request.body_source = nullptr;
        call.had_sink = sink != nullptr;
        if (request.body_source != nullptr) {
            char buffer[65536];
            while (call.streamed_body.size() < request.body_length) {
                auto n = request.body_source->read(buffer);
                if (!n || *n == 0) {
                    break;
                }
                call.streamed_body.append(buffer, *n);
            }
        }
        calls.push_back(call);
        Step step;
        if (!steps_.empty()) {
            step = std::move(steps_.front());
            steps_.pop_front();
        } else if (fallback_) {
            step = fallback_;
        } else {
            ADD_FAILURE() << "unexpected request " << request.method << " " << request.url;
            return make_error(ErrorCode::Internal, "fake transport: no answer scripted");
        }
        auto result = step(call, sink);
        if (result && sink != nullptr && result->status >= 200 && result->status <= 299 &&
            !result->body.empty()) {
            if (auto written = sink->write(result->body); !written) {
                return written.error();
            }
            result->body.clear();
        }
        return result;
    }

    std::vector<RecordedCall> calls;

private:
    std::deque<Step> steps_;
    Step fallback_;
};

// A ByteSource over a string, read in small pieces so streaming code sees several reads.
class StringSource final : public ByteSource {
public:
    explicit StringSource(std::string text, std::size_t piece = 4096)
        : text_(std::move(text)), piece_(piece) {}
    Result<std::size_t> read(std::span<char> out) override {
        const std::size_t n = std::min({out.size(), piece_, text_.size() - offset_});
        std::copy_n(text_.data() + offset_, n, out.data());
        offset_ += n;
        return n;
    }
    std::size_t offset() const { return offset_; }

private:
    std::string text_;
    std::size_t piece_;
    std::size_t offset_ = 0;
};

class StringSink final : public ByteSink {
public:
    Result<void> write(std::span<const char> bytes) override {
        text.append(bytes.data(), bytes.size());
        return {};
    }
    std::string text;
};

}  // namespace pf::aws::test
