// The outbound HTTP/HTTPS client for webhook deliveries and for the function's S3 / SNS / Lambda
// Runtime API calls (through function/http_client_transport.h); libcurl stays behind this header.
//
// One send() is one request on a fresh connection: no redirects (a 3xx is returned as a status),
// no proxies (environment variables such as https_proxy are ignored, so the connection goes where
// the policy checked), no cookies, no decompression. The AddressPolicy is applied to every
// resolved address at the moment its socket is opened, after DNS, and checked again on the
// connected address before the request is sent, so neither a hostname that resolves to a
// private address nor DNS rebinding gets around it. The response body is read up to
// max_response_bytes and the rest discarded (the transfer stops there, see body_truncated).
// The URL's path is sent as given (no "/./" or "/../" removal: an S3 key may contain them).
//
// Streaming, for bodies that must not be held in memory: a request body may come from a
// ByteSource of known length (sent with that Content-Length), and a 2xx response body may go to
// a ByteSink (any other status keeps its bounded body in the response, so an error document can
// still be read). A request may also run without a total timeout (a long poll); the connect
// timeout still applies.
//
// Errors (Error::code) say what the caller should do:
//   Forbidden        the destination is refused by the AddressPolicy (every address it resolved
//                    to was refused; the message names each and why) — permanent
//   InvalidArgument  bad URL (not http/https, no host, unparsable), bad method or header —
//                    permanent
//   Timeout          the connect or total timeout ran out — retryable
//   Unavailable      DNS failure, connection refused/reset, TLS handshake or certificate
//                    failure, the peer closed early — retryable
//   Internal         libcurl out of memory or misbehaving — retryable
// Any HTTP answer, whatever its status, is a value (ClientResponse), not an error.
//
// Thread-safe: send() is const and uses its own easy handle per call, so one HttpClient may be
// shared by any number of threads. The message of an error never contains the URL's query or
// userinfo (they may carry secrets).
#pragma once

#include "base/byte_stream.h"
#include "base/result.h"
#include "http/address_policy.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pf::http {

struct ClientOptions {
    std::chrono::milliseconds timeout{15'000};          // whole request, connect included (SNS)
    std::chrono::milliseconds connect_timeout{15'000};  // DNS + TCP connect + TLS handshake
    std::size_t max_response_bytes = 64 * 1024;         // response body kept; more is discarded
    std::size_t max_response_header_bytes = 64 * 1024;  // response headers kept; more dropped
    std::string user_agent = "photoflux";
    std::string ca_file;           // PEM bundle to verify servers with; empty: the system's store
    bool verify_tls = true;        // false only for development; never in production configs
    AddressPolicy address_policy;  // default: public unicast only
};

struct ClientRequest {
    std::string method = "POST";  // an HTTP token: "POST", "GET", "PUT", ...
    std::string url;              // http:// or https:// only
    // Sent in this order. Host, Content-Length and Transfer-Encoding are managed by the client.
    // Without a Content-Type none is sent. Names and values must not contain CR or LF.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;  // sent with a Content-Length (also when empty, for POST and PUT)
    // A streamed body instead of `body` (which must then be empty): exactly body_length bytes
    // are read from it and sent with that Content-Length. A source that ends early, or fails,
    // fails the request (its own error is returned). Not read again after send() returns.
    ByteSource* body_source = nullptr;
    std::uint64_t body_length = 0;
    // With a sink, a 2xx response body is written to it instead of ClientResponse::body (no
    // size limit: the sink decides); an error from the sink stops the transfer and is what
    // send() returns. Other statuses keep their body in the response, bounded as usual.
    ByteSink* response_sink = nullptr;
    // This request's total timeout instead of ClientOptions::timeout (a delivery attempt's
    // budget); the connect timeout stays the smaller of the two.
    std::optional<std::chrono::milliseconds> timeout;
    // No total timeout at all (a long poll such as the Lambda Runtime API's /next); `timeout`
    // is then ignored. The connect timeout still applies.
    bool no_timeout = false;
};

struct ClientResponse {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;  // names lowercased, wire order
    std::string body;  // at most max_response_bytes; empty when it went to response_sink
    bool body_truncated = false;  // the body was longer and the transfer stopped there
    std::uint64_t sink_bytes = 0;  // bytes written to response_sink
    std::string remote_address;   // the IP the request went to ("127.0.0.1", "::1")

    // First value of a header (name lowercase), or empty.
    std::string header(std::string_view lowercase_name) const;
};

class HttpClient {
public:
    explicit HttpClient(ClientOptions options = {});

    Result<ClientResponse> send(const ClientRequest& request) const;

    const ClientOptions& options() const { return options_; }

private:
    ClientOptions options_;
};

// The URL without userinfo, query or fragment ("https://example.com:8443/hook"), for logs and
// error messages; "<invalid URL>" when it does not parse.
std::string redact_url(const std::string& url);

}  // namespace pf::http
