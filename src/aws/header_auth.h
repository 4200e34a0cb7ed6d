// Verifying a request signed with SigV4 in its Authorization header, for the JSON/REST APIs serve
// speaks besides S3 (the Lambda API). The caller maps the error to its protocol: the Error's code
// says which kind of failure it is, the message is the wording AWS uses.
//   Unauthenticated  no Authorization header (MissingAuthenticationToken)
//   InvalidArgument  malformed header, missing date, wrong service scope (IncompleteSignature)
//   NotFound         unknown access key (UnrecognizedClientException / InvalidClientTokenId)
//   Forbidden        the signature does not match, or the request time is outside the skew
//                    (InvalidSignatureException)
#pragma once

#include "aws/sigv4.h"
#include "base/result.h"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pf::aws {

struct HeaderAuthRequest {
    std::string_view method;
    std::string_view raw_path;   // still percent-encoded
    std::string_view raw_query;  // without '?'
    const HeaderList* headers = nullptr;  // lowercase names
    std::string payload_sha256_hex;       // of the body as received
};

struct HeaderAuthOptions {
    std::string service;  // the scope's service that is accepted ("lambda")
    std::function<std::optional<std::string>(std::string_view access_key_id)> secret_for;
    std::chrono::system_clock::time_point now;
    std::chrono::milliseconds max_clock_skew{15 * 60 * 1000};
};

// The access key id of the verified caller.
Result<std::string> verify_header_signature(const HeaderAuthRequest& request,
                                            const HeaderAuthOptions& options);

}  // namespace pf::aws
