#include "s3api/cors.h"
#include "base/ascii.h"

#include <algorithm>
#include <cctype>

namespace pf::s3api {
namespace {

// One '*' wildcard, as S3's AllowedOrigin supports ("https://*.example.com").
bool wildcard_match(std::string_view pattern, std::string_view value) {
    auto star = pattern.find('*');
    if (star == std::string_view::npos) {
        return ascii_iequals(pattern, value);
    }
    auto head = pattern.substr(0, star);
    auto tail = pattern.substr(star + 1);
    return value.size() >= head.size() + tail.size() && ascii_iequals(value.substr(0, head.size()), head) &&
           ascii_iequals(value.substr(value.size() - tail.size()), tail);
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) {
            out += ", ";
        }
        out += item;
    }
    return out;
}

}  // namespace

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto comma = text.find(',', start);
        auto item = text.substr(start, comma == std::string_view::npos ? text.size() - start
                                                                       : comma - start);
        while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) {
            item.remove_prefix(1);
        }
        while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) {
            item.remove_suffix(1);
        }
        if (!item.empty()) {
            out.emplace_back(item);
        }
        if (comma == std::string_view::npos) {
            break;
        }
        start = comma + 1;
    }
    return out;
}

bool CorsPolicy::origin_allowed(std::string_view origin) const {
    return std::any_of(allowed_origins.begin(), allowed_origins.end(),
                       [&](const std::string& p) { return wildcard_match(p, origin); });
}

bool CorsPolicy::method_allowed(std::string_view method) const {
    return std::any_of(allowed_methods.begin(), allowed_methods.end(),
                       [&](const std::string& m) { return m == method; });
}

bool CorsPolicy::header_allowed(std::string_view header) const {
    return std::any_of(allowed_headers.begin(), allowed_headers.end(),
                       [&](const std::string& p) { return wildcard_match(p, header); });
}

std::optional<HeaderPairs> preflight_headers(const CorsPolicy& policy, std::string_view origin,
                                             std::string_view method,
                                             std::string_view request_headers) {
    if (origin.empty() || !policy.origin_allowed(origin) || !policy.method_allowed(method)) {
        return std::nullopt;
    }
    auto requested = split_list(request_headers);
    for (const auto& h : requested) {
        if (!policy.header_allowed(h)) {
            return std::nullopt;
        }
    }
    HeaderPairs headers{
        {"Access-Control-Allow-Origin", std::string(origin)},
        {"Access-Control-Allow-Methods", join(policy.allowed_methods)},
        {"Access-Control-Max-Age", std::to_string(policy.max_age_seconds)},
        {"Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"},
    };
    if (!requested.empty()) {
        headers.emplace_back("Access-Control-Allow-Headers", join(requested));
    }
    if (!policy.expose_headers.empty()) {
        headers.emplace_back("Access-Control-Expose-Headers", join(policy.expose_headers));
    }
    return headers;
}

HeaderPairs response_cors_headers(const CorsPolicy& policy, std::string_view origin) {
    if (origin.empty() || !policy.origin_allowed(origin)) {
        return {};
    }
    HeaderPairs headers{{"Access-Control-Allow-Origin", std::string(origin)}, {"Vary", "Origin"}};
    if (!policy.expose_headers.empty()) {
        headers.emplace_back("Access-Control-Expose-Headers", join(policy.expose_headers));
    }
    return headers;
}

}  // namespace pf::s3api
