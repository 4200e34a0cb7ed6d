// One S3 request as the handlers see it: which bucket and key it addresses (path-style or
// virtual-hosted), its decoded query parameters, and the exchange used to answer it. Parsing the
// address is the one place that turns a URL into a bucket and a key, with every rule on names and
// keys applied there.
#pragma once

#include "aws/uri_encoding.h"
#include "http/server.h"
#include "s3api/s3_error.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::s3api {

struct S3Request {
    const http::Request* http = nullptr;
    std::string request_id;
    std::string bucket;        // empty: service level (ListBuckets)
    std::string key;           // empty: bucket level
    std::string decoded_path;  // the request path decoded once (what SigV4 canonicalises)
    aws::QueryParams query;    // decoded, in wire order
    bool virtual_hosted = false;

    bool has(std::string_view name) const;
    std::optional<std::string> param(std::string_view name) const;
    std::optional<std::string_view> header(std::string_view lowercase_name) const {
        return http->header(lowercase_name);
    }
    // "/bucket/key" as S3 reports it in <Resource>.
    std::string resource() const;
};

struct AddressingOptions {
    std::vector<std::string> virtual_host_domains;  // "localhost", "s3.example.com"
};

// Splits the target into bucket, key and query. InvalidURI for malformed escapes; the name and
// key rules are applied by validate_bucket_name / validate_key where an operation needs them.
std::optional<S3Error> parse_s3_request(const http::Request& http, const AddressingOptions& options,
                                        S3Request& out);

// S3's bucket naming rules (3-63 chars, lowercase letters, digits, '.', '-', start and end with a
// letter or digit, not an IP address, no "..", not starting with '_' (the reserved /_/ prefix).
std::optional<S3Error> validate_bucket_name(std::string_view name);
// Keys: valid UTF-8, at most 1024 bytes, no NUL, no "." or ".." path segment.
std::optional<S3Error> validate_key(std::string_view key);

}  // namespace pf::s3api
