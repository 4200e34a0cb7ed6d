// Who sent a request, proven by SigV4: the Authorization header, a presigned URL, or nothing
// (anonymous, allowed only where a bucket is public-read). Also decides how the body must be
// verified (signed hash, streaming chunk signatures, unsigned), since that is part of the
// signature. POST-policy uploads are authenticated from their form fields by post_object.cc with
// verify_post_signature.
#pragma once

#include "aws/sigv4.h"
#include "s3api/s3_error.h"
#include "s3api/s3_request.h"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <variant>

namespace pf::s3api {

// Looks up the secret of an access key (serve has one key pair; the function host adds scoped
// ones later).
class CredentialStore {
public:
    virtual ~CredentialStore() = default;
    virtual std::optional<std::string> secret_for(std::string_view access_key_id) const = 0;
};

// How the request body must be checked, from x-amz-content-sha256.
struct PayloadPlan {
    enum class Kind {
        Unsigned,                 // UNSIGNED-PAYLOAD, presigned, anonymous
        SignedHash,               // hex SHA-256 of the body: verify it
        StreamingUnsigned,        // STREAMING-UNSIGNED-PAYLOAD-TRAILER
        StreamingSigned,          // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
        StreamingSignedTrailer,   // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
    };
    Kind kind = Kind::Unsigned;
    std::string expected_sha256;  // SignedHash
    std::optional<aws::ChunkSignatureChain> chain;  // StreamingSigned*
};

struct Principal {
    bool anonymous = true;
    std::string access_key_id;
};

struct AuthResult {
    Principal principal;
    PayloadPlan payload;
};

struct AuthOptions {
    std::chrono::milliseconds max_clock_skew{15 * 60 * 1000};
    std::function<std::chrono::system_clock::time_point()> now = [] {
        return std::chrono::system_clock::now();
    };
};

class Authenticator {
public:
    Authenticator(const CredentialStore& credentials, AuthOptions options)
        : credentials_(credentials), options_(std::move(options)) {}

    std::variant<AuthResult, S3Error> authenticate(const S3Request& request) const;

    // POST policy uploads: the form's x-amz-credential / x-amz-date / x-amz-signature over the
    // base64 policy. Returns the principal or the S3 error.
    std::variant<Principal, S3Error> verify_post_signature(std::string_view credential,
                                                           std::string_view amz_date,
                                                           std::string_view policy_base64,
                                                           std::string_view signature) const;

    std::chrono::system_clock::time_point now() const { return options_.now(); }

private:
    std::variant<AuthResult, S3Error> header_auth(const S3Request& request,
                                                  std::string_view authorization) const;
    std::variant<AuthResult, S3Error> presigned_auth(const S3Request& request) const;

    const CredentialStore& credentials_;
    AuthOptions options_;
};

}  // namespace pf::s3api
