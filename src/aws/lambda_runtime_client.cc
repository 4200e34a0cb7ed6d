#include "aws/lambda_runtime_client.h"

#include "aws/uri_encoding.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>

namespace pf::aws {
namespace {

// Lambda's payloads are at most 6 MB; the cap only guards memory against a broken endpoint.
constexpr std::size_t kMaxEventBytes = 32u << 20;
constexpr std::size_t kMaxRequestIdBytes = 256;
constexpr std::size_t kMaxErrorMessageBytes = 64 * 1024;

class StringSink final : public ByteSink {
public:
    explicit StringSink(std::size_t limit) : limit_(limit) {}
    Result<void> write(std::span<const char> bytes) override {
        if (bytes.size() > limit_ - text_.size()) {
            return make_error(ErrorCode::TooLarge, "the invocation event is over " +
                                                       std::to_string(limit_ >> 20) + " MiB");
        }
        text_.append(bytes.data(), bytes.size());
        return {};
    }
    std::string take() { return std::move(text_); }

private:
    std::size_t limit_;
    std::string text_;
};

// Header values must not carry CR/LF; an error type is a short token anyway.
std::string header_safe(std::string_view text, std::size_t limit) {
    std::string out;
    for (const char c : text.substr(0, limit)) {
        const auto u = static_cast<unsigned char>(c);
        out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
    }
    return out;
}

Error status_error(const std::string& what, const TransportResponse& response) {
    const int status = response.status;
    std::string detail = what + ": HTTP " + std::to_string(status);
    if (!response.body.empty()) {
        detail += " " + response.body.substr(0, 512);
    }
    if (status >= 500) {
        return make_error(ErrorCode::Unavailable,
                          "runtime API reports " + detail + "; the runtime must exit");
    }
    if (status == 413) {
        return make_error(ErrorCode::TooLarge, detail);
    }
    if (status == 403) {
        return make_error(ErrorCode::Forbidden, detail);
    }
    return make_error(ErrorCode::InvalidArgument, detail);
}

std::string error_body(const FunctionError& error) {
    nlohmann::json body;
    body["errorMessage"] = error.error_message.substr(0, kMaxErrorMessageBytes);
    body["errorType"] = error.error_type;
    body["stackTrace"] = nlohmann::json::array();
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::pair<std::string, std::string>> error_headers(const FunctionError& error) {
    return {{"content-type", "application/vnd.aws.lambda.error+json"},
            {"lambda-runtime-function-error-type", header_safe(error.error_type, 256)}};
}

// One POST to the Runtime API; any 2xx (202 in practice) is success.
Result<void> post(HttpTransport& transport, const std::string& base, const std::string& path,
                  std::vector<std::pair<std::string, std::string>> headers, std::string body) {
    TransportRequest request;
    request.method = "POST";
    request.url = base + path;
    request.headers = std::move(headers);
    request.body = std::move(body);
    const std::string what = "POST " + path;
    auto response = transport.send(request);
    if (!response) {
        Error error = response.error();
        error.message = what + ": " + error.message;
        return error;
    }
    if (response->status < 200 || response->status > 299) {
        return status_error(what, *response);
    }
    return {};
}

}  // namespace

LambdaRuntimeClient::LambdaRuntimeClient(HttpTransport& transport, std::string runtime_api)
    : transport_(transport), base_("http://" + runtime_api + "/2018-06-01") {}

Result<Invocation> LambdaRuntimeClient::next() {
    TransportRequest request;
    request.method = "GET";
    request.url = base_ + "/runtime/invocation/next";
    // The environment may be frozen between invocations for any length of time.
    request.timeout = std::chrono::milliseconds(0);
    StringSink sink(kMaxEventBytes);
    auto response = transport_.send(request, &sink);
    const std::string what = "GET /runtime/invocation/next";
    if (!response) {
        Error error = response.error();
        error.message = what + ": " + error.message;
        return error;
    }
    if (response->status != 200) {
        return status_error(what, *response);
    }
    Invocation invocation;
    invocation.request_id = response->header("lambda-runtime-aws-request-id");
    if (invocation.request_id.empty() || invocation.request_id.size() > kMaxRequestIdBytes) {
        return make_error(ErrorCode::Internal,
                          what + ": no usable Lambda-Runtime-Aws-Request-Id header");
    }
    const std::string deadline = response->header("lambda-runtime-deadline-ms");
    if (!deadline.empty()) {
        std::int64_t ms = 0;
        const auto [end, ec] = std::from_chars(deadline.data(), deadline.data() + deadline.size(), ms);
        if (ec != std::errc() || end != deadline.data() + deadline.size() || ms < 0) {
            return make_error(ErrorCode::Internal,
                              what + ": malformed Lambda-Runtime-Deadline-Ms \"" +
                                  deadline.substr(0, 32) + "\"");
        }
        invocation.deadline_ms = ms;
    }
    invocation.function_arn = response->header("lambda-runtime-invoked-function-arn");
    invocation.trace_id = response->header("lambda-runtime-trace-id");
    invocation.payload = sink.take();
    return invocation;
}

Result<void> LambdaRuntimeClient::respond(const std::string& request_id, const std::string& body) {
    return post(transport_, base_, "/runtime/invocation/" + uri_encode(request_id, false) + "/response",
                {{"content-type", "application/json"}}, body);
}

Result<void> LambdaRuntimeClient::fail(const std::string& request_id, const FunctionError& error) {
    return post(transport_, base_, "/runtime/invocation/" + uri_encode(request_id, false) + "/error",
                error_headers(error), error_body(error));
}

Result<void> LambdaRuntimeClient::init_error(const FunctionError& error) {
    return post(transport_, base_, "/runtime/init/error", error_headers(error), error_body(error));
}

}  // namespace pf::aws
