#include "function/http_client_transport.h"

#include "base/ascii.h"

namespace pf::function {
namespace {

http::ClientOptions client_options(const HttpClientTransportOptions& options) {
    http::ClientOptions out;
    out.timeout = options.timeout;
    out.connect_timeout = options.connect_timeout;
    out.max_response_bytes = options.max_response_bytes;
    out.ca_file = options.ca_file;
    out.verify_tls = options.verify_tls;
    out.user_agent = options.user_agent;
    out.address_policy = http::AddressPolicy::allow_all();
    return out;
}

// Headers http::HttpClient sets itself (and refuses from callers).
bool managed_by_client(std::string_view name) {
    return ascii_iequals(name, "host") || ascii_iequals(name, "content-length") ||
           ascii_iequals(name, "transfer-encoding") || ascii_iequals(name, "connection") ||
           ascii_iequals(name, "expect");
}

}  // namespace

HttpClientTransport::HttpClientTransport(HttpClientTransportOptions options)
    : client_(client_options(options)) {}

Result<aws::TransportResponse> HttpClientTransport::send(const aws::TransportRequest& request,
                                                         ByteSink* body_sink) {
    http::ClientRequest out;
    out.method = request.method;
    out.url = request.url;
    for (const auto& header : request.headers) {
        if (!managed_by_client(header.first)) {
            out.headers.push_back(header);
        }
    }
    if (request.body_source != nullptr) {
        out.body_source = request.body_source;
        out.body_length = request.body_length;
    } else {
        out.body = request.body;
    }
    out.response_sink = body_sink;
    if (request.timeout && request.timeout->count() == 0) {
        out.no_timeout = true;  // the transport's "zero: no limit" (a long poll)
    } else {
        out.timeout = request.timeout;
    }
    auto response = client_.send(out);
    if (!response) {
        return response.error();
    }
    const bool success = response->status >= 200 && response->status <= 299;
    if (response->body_truncated && success && body_sink == nullptr) {
        // A cut XML result would be misread; error bodies may be cut, they are only reported.
        return make_error(ErrorCode::TooLarge,
                          request.method + " " + http::redact_url(request.url) +
                              ": response body over " +
                              std::to_string(client_.options().max_response_bytes) + " bytes");
    }
    aws::TransportResponse result;
    result.status = response->status;
    result.headers = std::move(response->headers);
    result.body = std::move(response->body);
    return result;
}

}  // namespace pf::function
