#include "aws/header_auth.h"

#include "aws/time_format.h"
#include "crypto/constant_time.h"

#include <algorithm>

namespace pf::aws {
namespace {

std::optional<std::string_view> header(const HeaderList& headers, std::string_view name) {
    for (const auto& [n, v] : headers) {
        if (n == name) return std::string_view(v);
    }
    return std::nullopt;
}

}  // namespace

Result<std::string> verify_header_signature(const HeaderAuthRequest& request,
                                            const HeaderAuthOptions& options) {
    const HeaderList& headers = *request.headers;
    auto authorization = header(headers, "authorization");
    if (!authorization) {
        return make_error(ErrorCode::Unauthenticated, "Missing Authentication Token");
    }
    if (!authorization->starts_with(kAlgorithm)) {
        return make_error(ErrorCode::InvalidArgument,
                          "Only AWS4-HMAC-SHA256 (Signature Version 4) is supported.");
    }
    auto parsed = parse_authorization_header(*authorization);
    if (!parsed) {
        return make_error(ErrorCode::InvalidArgument,
                          "The Authorization header is malformed: " + parsed.error().message);
    }
    if (parsed->scope.service != options.service) {
        return make_error(ErrorCode::InvalidArgument,
                          "Credential should be scoped to correct service: '" + options.service +
                              "'.");
    }
    const auto& signed_headers = parsed->signed_headers;
    if (std::find(signed_headers.begin(), signed_headers.end(), "host") == signed_headers.end()) {
        return make_error(ErrorCode::InvalidArgument, "The host header must be signed.");
    }
    auto secret = options.secret_for ? options.secret_for(parsed->access_key_id) : std::nullopt;
    if (!secret) {
        return make_error(ErrorCode::NotFound,
                          "The security token included in the request is invalid.");
    }
    std::string amz_date;
    std::optional<std::chrono::system_clock::time_point> when;
    if (auto d = header(headers, "x-amz-date")) {
        amz_date = std::string(*d);
        when = parse_amz_date(*d);
    } else if (auto hd = header(headers, "date")) {
        when = parse_http_date(*hd);
        if (when) amz_date = format_amz_date(*when);
    }
    if (!when) {
        return make_error(ErrorCode::InvalidArgument,
                          "Authorization header requires existence of either a 'X-Amz-Date' or a "
                          "'Date' header.");
    }
    if (amz_date.substr(0, 8) != parsed->scope.date) {
        return make_error(ErrorCode::Forbidden,
                          "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                          "of date from HTTP: '" + parsed->scope.date + "' != '" +
                              amz_date.substr(0, 8) + "'");
    }
    // AWS's wording: SDKs recognise "Signature expired" as clock skew and correct for it.
    if (*when + options.max_clock_skew < options.now) {
        return make_error(ErrorCode::Forbidden,
                          "Signature expired: " + amz_date + " is now earlier than " +
                              format_amz_date(options.now - options.max_clock_skew));
    }
    if (*when - options.max_clock_skew > options.now) {
        return make_error(ErrorCode::Forbidden,
                          "Signature not yet current: " + amz_date + " is still later than " +
                              format_amz_date(options.now + options.max_clock_skew));
    }
    auto path = percent_decode_path(request.raw_path);
    auto query = parse_query(request.raw_query);
    if (!path || !query) {
        return make_error(ErrorCode::Forbidden, "The request URI has a malformed percent-encoding.");
    }
    CanonicalRequestInput input;
    input.method = std::string(request.method);
    input.path = *path;
    input.s3_path_rules = false;
    input.query = std::move(*query);
    input.headers = headers;
    input.signed_headers = signed_headers;
    input.payload_hash = request.payload_sha256_hex;
    const std::string canonical = canonical_request(input);
    const std::string to_sign = string_to_sign(amz_date, parsed->scope, canonical);
    const std::string expected = signature(signing_key(*secret, parsed->scope), to_sign);
    if (!crypto::constant_time_equal(expected, parsed->signature)) {
        return make_error(ErrorCode::Forbidden,
                          "The request signature we calculated does not match the signature you "
                          "provided. Check your AWS Secret Access Key and signing method.");
    }
    return parsed->access_key_id;
}

}  // namespace pf::aws
