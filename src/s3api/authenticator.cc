#include "s3api/authenticator.h"

#include "aws/time_format.h"
#include "crypto/constant_time.h"

#include <algorithm>
#include <charconv>

namespace pf::s3api {
namespace {

using Clock = std::chrono::system_clock;

constexpr std::string_view kSigV2Refused =
    "The authorization mechanism you have provided is not supported. Please use "
    "AWS4-HMAC-SHA256. (boto3: create the client with Config(signature_version='s3v4').)";

bool is_hex64(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

aws::HeaderList header_list(const http::Request& http) {
    return aws::HeaderList(http.headers.begin(), http.headers.end());
}

// Headers whose meaning changes what is stored or who may read it: present but unsigned, they
// could be added to a presigned URL by whoever holds it, so they must be signed.
std::optional<std::string> unsigned_sensitive_header(const http::Request& http,
                                                     const std::vector<std::string>& signed_headers) {
    for (const auto& [name, value] : http.headers) {
        bool sensitive = name.starts_with("x-amz-meta-") || name == "x-amz-acl" ||
                         name.starts_with("x-amz-copy-source") || name == "x-amz-tagging" ||
                         name == "x-amz-metadata-directive" || name.starts_with("x-amz-grant-");
        if (sensitive &&
            std::find(signed_headers.begin(), signed_headers.end(), name) == signed_headers.end()) {
            return name;
        }
    }
    return std::nullopt;
}

// host must be signed (it names the bucket for virtual-hosted requests), and so must every
// sensitive header that is present.
std::optional<S3Error> check_signed_headers(const http::Request& http,
                                            const std::vector<std::string>& signed_headers) {
    if (std::find(signed_headers.begin(), signed_headers.end(), "host") == signed_headers.end()) {
        return s3_error("AccessDenied", "The host header must be signed.");
    }
    if (auto name = unsigned_sensitive_header(http, signed_headers)) {
        return s3_error("AccessDenied",
                        "There were headers present in the request which were not signed")
            .with("HeadersNotSigned", *name);
    }
    return std::nullopt;
}

S3Error signature_mismatch(std::string_view access_key, const std::string& string_to_sign,
                           std::string_view provided, const std::string& canonical) {
    // S3 returns what it signed so a client author can find the difference; none of it is secret.
    return s3_error("SignatureDoesNotMatch")
        .with("AWSAccessKeyId", std::string(access_key))
        .with("StringToSign", string_to_sign)
        .with("SignatureProvided", std::string(provided))
        .with("CanonicalRequest", canonical);
}

}  // namespace

std::variant<AuthResult, S3Error> Authenticator::authenticate(const S3Request& request) const {
    const auto& http = *request.http;
    if (auto authorization = http.header("authorization")) {
        if (authorization->starts_with("AWS ")) {
            return s3_error("InvalidRequest", std::string(kSigV2Refused));
        }
        if (authorization->starts_with("AWS4-ECDSA-P256-SHA256")) {
            return s3_error("NotImplemented", "SigV4a (AWS4-ECDSA-P256-SHA256) is not supported.");
        }
        return header_auth(request, *authorization);
    }
    if (request.has("X-Amz-Algorithm") || request.has("X-Amz-Signature") ||
        request.has("X-Amz-Credential")) {
        return presigned_auth(request);
    }
    if (request.has("AWSAccessKeyId") && request.has("Signature")) {
        return s3_error("InvalidRequest", std::string(kSigV2Refused));
    }
    AuthResult anonymous;
    // An anonymous body is never signed; a streaming form would still need decoding.
    if (auto sha = http.header("x-amz-content-sha256");
        sha && *sha == "STREAMING-UNSIGNED-PAYLOAD-TRAILER") {
        anonymous.payload.kind = PayloadPlan::Kind::StreamingUnsigned;
    }
    return anonymous;
}

std::variant<AuthResult, S3Error> Authenticator::header_auth(const S3Request& request,
                                                             std::string_view authorization) const {
    const auto& http = *request.http;
    auto parsed = aws::parse_authorization_header(authorization);
    if (!parsed) {
        return s3_error("AuthorizationHeaderMalformed",
                        "The authorization header is malformed; " + parsed.error().message);
    }
    if (parsed->scope.service != "s3") {
        return s3_error("AuthorizationHeaderMalformed",
                        "The authorization header is malformed; the credential scope names service "
                        "'" + parsed->scope.service + "', expected 's3'.");
    }
    auto secret = credentials_.secret_for(parsed->access_key_id);
    if (!secret) {
        return s3_error("InvalidAccessKeyId").with("AWSAccessKeyId", parsed->access_key_id);
    }

    std::string amz_date;
    std::optional<Clock::time_point> request_time;
    if (auto d = http.header("x-amz-date")) {
        amz_date = std::string(*d);
        request_time = aws::parse_amz_date(*d);
    } else if (auto hd = http.header("date")) {
        request_time = aws::parse_http_date(*hd);
        if (request_time) {
            amz_date = aws::format_amz_date(*request_time);
        }
    }
    if (!request_time) {
        return s3_error("AccessDenied",
                        "AWS authentication requires a valid Date or x-amz-date header");
    }
    if (amz_date.substr(0, 8) != parsed->scope.date) {
        return s3_error("AuthorizationHeaderMalformed",
                        "The authorization header is malformed; Invalid credential date. Date is "
                        "not the same as X-Amz-Date: " + parsed->scope.date + ".");
    }
    auto now = options_.now();
    auto skew = now > *request_time ? now - *request_time : *request_time - now;
    if (skew > options_.max_clock_skew) {
        return s3_error("RequestTimeTooSkewed")
            .with("RequestTime", aws::format_http_date(*request_time))
            .with("ServerTime", aws::format_iso8601_millis(now))
            .with("MaxAllowedSkewMilliseconds", std::to_string(options_.max_clock_skew.count()));
    }

    auto content_sha = http.header("x-amz-content-sha256");
    if (!content_sha) {
        return s3_error("InvalidRequest",
                        "Missing required header for this request: x-amz-content-sha256");
    }
    AuthResult result;
    result.principal = Principal{false, parsed->access_key_id};
    std::string_view sha = *content_sha;
    if (sha == aws::kUnsignedPayload) {
        result.payload.kind = PayloadPlan::Kind::Unsigned;
    } else if (is_hex64(sha)) {
        result.payload.kind = PayloadPlan::Kind::SignedHash;
        result.payload.expected_sha256 = std::string(sha);
    } else if (sha == "STREAMING-UNSIGNED-PAYLOAD-TRAILER") {
        result.payload.kind = PayloadPlan::Kind::StreamingUnsigned;
    } else if (sha == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") {
        result.payload.kind = PayloadPlan::Kind::StreamingSigned;
    } else if (sha == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER") {
        result.payload.kind = PayloadPlan::Kind::StreamingSignedTrailer;
    } else if (sha.starts_with("STREAMING-AWS4-ECDSA-P256-SHA256")) {
        return s3_error("NotImplemented", "SigV4a streaming payloads are not supported.");
    } else {
        return s3_error("InvalidArgument",
                        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                        "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")
            .with("ArgumentName", "x-amz-content-sha256")
            .with("ArgumentValue", std::string(sha));
    }

    const auto& signed_headers = parsed->signed_headers;
    if (auto error = check_signed_headers(http, signed_headers)) {
        return *error;
    }

    aws::CanonicalRequestInput input;
    input.method = http.method;
    input.path = request.decoded_path;
    input.s3_path_rules = true;
    input.query = request.query;
    input.headers = header_list(http);
    input.signed_headers = signed_headers;
    input.payload_hash = std::string(sha);
    std::string canonical = aws::canonical_request(input);
    std::string to_sign = aws::string_to_sign(amz_date, parsed->scope, canonical);
    std::string key = aws::signing_key(*secret, parsed->scope);
    std::string expected = aws::signature(key, to_sign);
    if (!crypto::constant_time_equal(expected, parsed->signature)) {
        return signature_mismatch(parsed->access_key_id, to_sign, parsed->signature, canonical);
    }
    if (result.payload.kind == PayloadPlan::Kind::StreamingSigned ||
        result.payload.kind == PayloadPlan::Kind::StreamingSignedTrailer) {
        result.payload.chain.emplace(key, amz_date, parsed->scope, parsed->signature);
    }
    return result;
}

std::variant<AuthResult, S3Error> Authenticator::presigned_auth(const S3Request& request) const {
    const auto& http = *request.http;
    auto query_error = [](std::string message) {
        return s3_error("AuthorizationQueryParametersError", std::move(message));
    };
    auto algorithm = request.param("X-Amz-Algorithm");
    if (!algorithm || *algorithm != aws::kAlgorithm) {
        return query_error("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
    }
    auto credential = request.param("X-Amz-Credential");
    auto amz_date = request.param("X-Amz-Date");
    auto expires_text = request.param("X-Amz-Expires");
    auto signed_text = request.param("X-Amz-SignedHeaders");
    auto provided = request.param("X-Amz-Signature");
    if (!credential || !amz_date || !expires_text || !signed_text || !provided) {
        return query_error(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
            "X-Amz-Expires parameters.");
    }
    auto cred = aws::parse_credential(*credential);
    if (!cred) {
        return query_error("Error parsing the X-Amz-Credential parameter; " +
                           cred.error().message);
    }
    auto& [access_key, scope] = *cred;
    if (scope.service != "s3") {
        return query_error("Error parsing the X-Amz-Credential parameter; incorrect service \"" +
                           scope.service + "\". This endpoint belongs to \"s3\".");
    }
    auto request_time = aws::parse_amz_date(*amz_date);
    if (!request_time || amz_date->substr(0, 8) != scope.date) {
        return query_error("X-Amz-Date must be in the ISO8601 Long Format "
                           "\"yyyyMMdd'T'HHmmss'Z'\" and match the credential date");
    }
    long long expires = 0;
    auto [end, ec] = std::from_chars(expires_text->data(),
                                     expires_text->data() + expires_text->size(), expires);
    if (ec != std::errc() || end != expires_text->data() + expires_text->size() || expires < 0) {
        return query_error("X-Amz-Expires should be a number");
    }
    if (expires > 604800) {
        return query_error(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800");
    }
    auto secret = credentials_.secret_for(access_key);
    if (!secret) {
        return s3_error("InvalidAccessKeyId").with("AWSAccessKeyId", access_key);
    }
    auto now = options_.now();
    if (now + options_.max_clock_skew < *request_time) {
        return s3_error("AccessDenied", "Request is not valid yet")
            .with("X-Amz-Date", *amz_date)
            .with("ServerTime", aws::format_iso8601_millis(now));
    }
    auto expiry = *request_time + std::chrono::seconds(expires);
    if (now > expiry) {
        return s3_error("AccessDenied", "Request has expired")
            .with("X-Amz-Expires", *expires_text)
            .with("Expires", aws::format_iso8601_millis(expiry))
            .with("ServerTime", aws::format_iso8601_millis(now));
    }

    std::vector<std::string> signed_headers;
    for (std::size_t start = 0; start <= signed_text->size();) {
        auto semi = signed_text->find(';', start);
        signed_headers.push_back(signed_text->substr(
            start, semi == std::string::npos ? std::string::npos : semi - start));
        if (semi == std::string::npos) {
            break;
        }
        start = semi + 1;
    }
    if (auto error = check_signed_headers(http, signed_headers)) {
        return *error;
    }

    aws::CanonicalRequestInput input;
    input.method = http.method;
    input.path = request.decoded_path;
    input.s3_path_rules = true;
    for (const auto& p : request.query) {
        if (p.first != "X-Amz-Signature") {
            input.query.push_back(p);
        }
    }
    input.headers = header_list(http);
    input.signed_headers = signed_headers;
    input.payload_hash = request.param("X-Amz-Content-Sha256").value_or(std::string(aws::kUnsignedPayload));
    std::string canonical = aws::canonical_request(input);
    std::string to_sign = aws::string_to_sign(*amz_date, scope, canonical);
    std::string expected = aws::signature(aws::signing_key(*secret, scope), to_sign);
    if (!crypto::constant_time_equal(expected, *provided)) {
        return signature_mismatch(access_key, to_sign, *provided, canonical);
    }
    AuthResult result;
    result.principal = Principal{false, access_key};
    result.payload.kind = PayloadPlan::Kind::Unsigned;
    if (auto sha = http.header("x-amz-content-sha256");
        sha && *sha == "STREAMING-UNSIGNED-PAYLOAD-TRAILER") {
        result.payload.kind = PayloadPlan::Kind::StreamingUnsigned;
    }
    return result;
}

std::variant<Principal, S3Error> Authenticator::verify_post_signature(
    std::string_view credential, std::string_view amz_date, std::string_view policy_base64,
    std::string_view provided) const {
    auto cred = aws::parse_credential(credential);
    if (!cred) {
        return s3_error("InvalidArgument", "Invalid x-amz-credential: " + cred.error().message)
            .with("ArgumentName", "x-amz-credential");
    }
    auto& [access_key, scope] = *cred;
    if (amz_date.substr(0, 8) != scope.date || !aws::parse_amz_date(amz_date)) {
        return s3_error("InvalidArgument", "x-amz-date must match the credential's date")
            .with("ArgumentName", "x-amz-date");
    }
    auto secret = credentials_.secret_for(access_key);
    if (!secret) {
        return s3_error("InvalidAccessKeyId").with("AWSAccessKeyId", access_key);
    }
    std::string expected = aws::post_policy_signature(*secret, scope, policy_base64);
    if (!crypto::constant_time_equal(expected, provided)) {
        return s3_error("SignatureDoesNotMatch")
            .with("AWSAccessKeyId", access_key)
            .with("StringToSign", std::string(policy_base64));
    }
    return Principal{false, access_key};
}

}  // namespace pf::s3api
