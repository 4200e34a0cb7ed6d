// AWS Signature Version 4: the canonical request, the string to sign, the signing key and the
// signature, for both sides. Clients (the function's S3/SNS calls) sign with it; the server
// verifies header-signed and presigned requests by recomputing with the client's own
// SignedHeaders list. Streaming chunk and trailer signatures and POST-policy signatures too.
#pragma once

#include "aws/uri_encoding.h"
#include "base/result.h"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::aws {

inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// "20130524/us-east-1/s3/aws4_request"
struct CredentialScope {
    std::string date; // yyyymmdd
    std::string region;
    std::string service;
    std::string to_string() const;
};

// Headers as received: lowercase names, values as sent (duplicates kept as separate entries).
using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct CanonicalRequestInput {
    std::string method;
    std::string path;          // decoded path ("/bucket/a b.jpg")
    bool s3_path_rules = true; // S3: encode once, no normalisation; others: normalise, twice
    QueryParams query;         // decoded pairs; X-Amz-Signature must already be left out
    HeaderList headers;        // all request headers (lowercase names)
    std::vector<std::string> signed_headers; // lowercase, as the client listed them
    std::string payload_hash;                // hex, UNSIGNED-PAYLOAD or STREAMING-...
};

// The canonical request text. Signed headers missing from `headers` canonicalise as empty values
// (the caller decides whether that is an error).
std::string canonical_request(const CanonicalRequestInput& input);
std::string string_to_sign(std::string_view amz_date, const CredentialScope& scope,
                           std::string_view canonical_request_text);
// kSigning = HMAC chain over date, region, service, "aws4_request" (raw 32 bytes as a string).
std::string signing_key(std::string_view secret_access_key, const CredentialScope& scope);
// lowercase hex HMAC-SHA256(signing_key, string_to_sign)
std::string signature(std::string_view signing_key_bytes, std::string_view string_to_sign_text);

// Authorization: AWS4-HMAC-SHA256 Credential=AK/scope, SignedHeaders=a;b, Signature=hex
struct AuthorizationHeader {
    std::string access_key_id;
    CredentialScope scope;
    std::vector<std::string> signed_headers;
    std::string signature;
};
// InvalidArgument with a message naming what is malformed.
Result<AuthorizationHeader> parse_authorization_header(std::string_view value);
// "AK/20130524/us-east-1/s3/aws4_request" -> access key + scope.
Result<std::pair<std::string, CredentialScope>> parse_credential(std::string_view value);

// Streaming payload signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]): each chunk's
// signature chains from the previous one, starting at the request's seed signature.
class ChunkSignatureChain {
public:
    ChunkSignatureChain(std::string signing_key_bytes, std::string amz_date, CredentialScope scope,
                        std::string seed_signature);
    // Signature the next chunk must carry, given its data's SHA-256 (hex); advances the chain.
    std::string next_chunk_signature(std::string_view chunk_sha256_hex);
    // Signature of the trailer block ("name:value\n" lines), after the final chunk.
    std::string trailer_signature(std::string_view trailer_lines);

private:
    std::string key_;
    std::string amz_date_;
    std::string scope_;
    std::string previous_;
};

// Client side: sign a request (adds x-amz-date, x-amz-content-sha256 for S3, x-amz-security-token,
// Authorization). `headers` must include host.
struct SigningCredentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token; // empty when none
};
struct SignRequest {
    std::string method;
    std::string path; // decoded
    QueryParams query;
    HeaderList headers; // lowercase names; must contain "host"
    std::string payload_hash;
    std::string region;
    std::string service;
    std::chrono::system_clock::time_point now;
};
// Returns the headers to add (x-amz-date, [x-amz-content-sha256], [x-amz-security-token],
// authorization). Signs every header in `headers` except the ones an HTTP client or proxy may
// set or rewrite (content-length, transfer-encoding, expect, user-agent, connection, ...). An
// empty payload_hash means an empty body.
HeaderList sign_request(const SignRequest& request, const SigningCredentials& credentials);
// Presigned URL query parameters (including X-Amz-Signature) for a request signed on `host` only.
QueryParams presign_query(const SignRequest& request, const SigningCredentials& credentials,
                          std::chrono::seconds expires);

// POST policy signature: hex HMAC-SHA256(signing key, base64 policy text).
std::string post_policy_signature(std::string_view secret_access_key, const CredentialScope& scope,
                                  std::string_view policy_base64);

} // namespace pf::aws
