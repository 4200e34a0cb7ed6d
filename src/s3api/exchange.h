// Internal to s3api: one request/response exchange as the operation handlers use it. The common
// S3 response headers (request ids, CORS) are added here, so no handler can forget them.
#pragma once

#include "s3api/conditions.h"
#include "s3api/payload.h"
#include "s3api/s3_service.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pf::s3api {

struct S3Service::Exchange {
    Exchange(http::RequestBody& request_body, http::Response& http_response)
        : body(request_body), res(http_response) {}

    S3Request req;
    http::RequestBody& body;
    http::Response& res;
    AuthResult auth;
    HeaderPairs common_headers;  // request ids, CORS
    bool is_head = false;

    // Sends an S3 error document (status only for HEAD).
    void reply_error(const S3Error& error);
    void reply_xml(int status, std::string xml, HeaderPairs headers = {});
    void reply_empty(int status, HeaderPairs headers = {});
    // Starts a response with the common headers added; the caller streams the body.
    Result<void> start(int status, HeaderPairs headers, std::optional<std::uint64_t> length);

    // Reads a small request body (XML) whole, verified like any payload. max_bytes beyond which
    // the request is refused with MaxMessageLengthExceeded before reading.
    std::optional<S3Error> read_small_body(std::size_t max_bytes, std::string& out);
};

// "\"" + etag + "\""
inline std::string quoted(std::string_view etag) {
    std::string out;
    out.reserve(etag.size() + 2);
    out += '"';
    out += etag;
    out += '"';
    return out;
}

}  // namespace pf::s3api
