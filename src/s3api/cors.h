// Cross-origin rules for browsers calling the API directly (presigned uploads, POST forms, the
// SDK in a page): one policy from the configuration, applied to every bucket. Preflights are
// answered without authentication, as S3 does; actual responses carry the allow/expose headers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::s3api {

struct CorsPolicy {
    std::vector<std::string> allowed_origins{"*"};  // "*" or exact origins; "https://*.x.com" ok
    std::vector<std::string> allowed_methods{"GET", "PUT", "POST", "DELETE", "HEAD"};
    std::vector<std::string> allowed_headers{"*"};
    std::vector<std::string> expose_headers{"ETag"};
    int max_age_seconds = 3600;

    bool origin_allowed(std::string_view origin) const;
    bool method_allowed(std::string_view method) const;
    bool header_allowed(std::string_view header) const;
};

using HeaderPairs = std::vector<std::pair<std::string, std::string>>;

// Headers for an OPTIONS preflight, or nullopt when the policy refuses it (403 CORSResponse).
std::optional<HeaderPairs> preflight_headers(const CorsPolicy& policy, std::string_view origin,
                                             std::string_view method,
                                             std::string_view request_headers);
// Headers added to an actual response for a request carrying Origin (empty when not allowed).
HeaderPairs response_cors_headers(const CorsPolicy& policy, std::string_view origin);

// "a, b,c" -> {"a","b","c"}
std::vector<std::string> split_list(std::string_view text);

}  // namespace pf::s3api
