// aws::HttpTransport on http::HttpClient (libcurl): how the function's S3, SNS and Lambda Runtime
// API clients reach the network. The destinations are the operator's own endpoints (loopback in
// serve mode, a private network when self-hosted, AWS otherwise), so the address policy allows
// every address, unlike webhook deliveries.
#pragma once

#include "aws/http_transport.h"
#include "http/client.h"

#include <chrono>
#include <cstddef>
#include <string>

namespace pf::function {

struct HttpClientTransportOptions {
    // Per-request default (TransportRequest::timeout nullopt). Generous: a photo GET or a
    // derivative PUT may be tens of megabytes.
    std::chrono::milliseconds timeout{std::chrono::minutes(5)};
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
    // Bodies kept in memory (XML results, error documents, SNS answers); streamed bodies are not
    // bounded by this. A 2xx body that does not fit is an error (TooLarge), never cut silently.
    std::size_t max_response_bytes = 8u << 20;
    std::string ca_file;     // PEM bundle; empty: the system's store
    bool verify_tls = true;  // false only for development endpoints with self-signed certificates
    std::string user_agent = "photoflux-function";
};

class HttpClientTransport final : public aws::HttpTransport {
public:
    explicit HttpClientTransport(HttpClientTransportOptions options = {});

    Result<aws::TransportResponse> send(const aws::TransportRequest& request,
                                        ByteSink* body_sink = nullptr) override;

private:
    http::HttpClient client_;
};

}  // namespace pf::function
