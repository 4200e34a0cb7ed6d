// The one seam between the AWS clients (S3, SNS, the Lambda Runtime API) and the network. aws/
// builds, signs and parses requests; the transport only moves bytes. It is implemented above this
// layer (function/ adapts http::HttpClient), so aws/ stays free of libcurl and the clients can be
// unit-tested against any server.
//
// Errors: Timeout / Unavailable (connection refused, reset, DNS, TLS) are retryable;
// InvalidArgument (bad URL) is not. Any HTTP answer, whatever its status, is a value.
#pragma once

#include "base/byte_stream.h"
#include "base/result.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::aws {

struct TransportRequest {
    std::string method;  // "GET", "PUT", "POST", "HEAD", "DELETE"
    std::string url;     // absolute, already encoded (what was signed)
    // Sent as given (names lowercase). Host and Content-Length are managed by the transport.
    std::vector<std::pair<std::string, std::string>> headers;
    // Either an in-memory body, or a streamed one of known length (body_source set).
    std::string body;
    ByteSource* body_source = nullptr;
    std::uint64_t body_length = 0;  // with body_source
    // Whole-request budget; nullopt: the transport's default. Zero: no limit (a long poll).
    std::optional<std::chrono::milliseconds> timeout;
};

struct TransportResponse {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
    std::string body;  // empty when the body went to a sink
    std::string header(std::string_view lowercase_name) const {
        for (const auto& [name, value] : headers) {
            if (name == lowercase_name) return value;
        }
        return {};
    }
};

class HttpTransport {
public:
    virtual ~HttpTransport() = default;
    // With `body_sink`, a 2xx response body is streamed into it (an error of the sink aborts the
    // transfer and is returned); other statuses keep their (bounded) body in the response.
    virtual Result<TransportResponse> send(const TransportRequest& request,
                                           ByteSink* body_sink = nullptr) = 0;
};

}  // namespace pf::aws
