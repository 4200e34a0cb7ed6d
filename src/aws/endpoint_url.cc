#include "aws/endpoint_url.h"

#include "aws/uri_encoding.h"
#include "base/ascii.h"

#include <algorithm>
#include <charconv>

namespace pf::aws {
namespace {

constexpr std::size_t kMaxEndpointBytes = 2048;

Error bad(std::string_view url, const std::string& why) {
    return make_error(ErrorCode::InvalidArgument,
                      "endpoint URL \"" + std::string(url.substr(0, 200)) + "\": " + why);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
           c == '.' || c == '_';
}

}  // namespace

Result<EndpointUrl> EndpointUrl::parse(std::string_view url) {
    if (url.size() > kMaxEndpointBytes) {
        return bad(url, "longer than 2 KiB");
    }
    const std::size_t scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) {
        return bad(url, "expected scheme://host[:port][/path]");
    }
    EndpointUrl out;
    out.scheme = ascii_lowercase(url.substr(0, scheme_end));
    if (out.scheme != "http" && out.scheme != "https") {
        return bad(url, "scheme must be http or https");
    }
    std::string_view rest = url.substr(scheme_end + 3);
    if (rest.find_first_of("?#") != std::string_view::npos) {
        return bad(url, "must not have a query or fragment");
    }
    const std::size_t slash = rest.find('/');
    const std::string_view authority = rest.substr(0, slash);
    const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (authority.find('@') != std::string_view::npos) {
        return bad(url, "must not carry user information (credentials come from AWS_* variables)");
    }
    std::string_view port_text;
    if (authority.starts_with("[")) {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            return bad(url, "unterminated IPv6 literal");
        }
        out.host = ascii_lowercase(authority.substr(0, close + 1));
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return bad(url, "unexpected text after the IPv6 literal");
            }
            port_text = after.substr(1);
        }
        const std::string_view inner = std::string_view(out.host).substr(1, out.host.size() - 2);
        if (inner.empty() || !std::all_of(inner.begin(), inner.end(), [](char c) {
                return c == ':' || c == '.' || is_digit(c) || (c >= 'a' && c <= 'f');
            })) {
            return bad(url, "malformed IPv6 literal");
        }
    } else {
        const std::size_t colon = authority.find(':');
        out.host = ascii_lowercase(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
        }
        if (!std::all_of(out.host.begin(), out.host.end(), is_host_char)) {
            return bad(url, "host has characters outside letters, digits, '-', '.', '_'");
        }
    }
    if (out.host.empty()) {
        return bad(url, "no host");
    }
    if (!port_text.empty() || authority.ends_with(":")) {
        unsigned port = 0;
        const auto [end, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (port_text.empty() || port_text.size() > 5 || ec != std::errc() ||
            end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
            return bad(url, "port must be a number from 1 to 65535");
        }
        // The default port is left out, as HTTP clients leave it out of the Host header.
        const bool is_default =
            (out.scheme == "http" && port == 80) || (out.scheme == "https" && port == 443);
        if (!is_default) {
            out.port = std::to_string(port);
        }
    }
    auto decoded = percent_decode_path(path);
    if (!decoded) {
        return bad(url, "malformed %-escape in the path");
    }
    out.base_path = std::move(*decoded);
    while (!out.base_path.empty() && out.base_path.back() == '/') {
        out.base_path.pop_back();
    }
    return out;
}

std::string EndpointUrl::authority() const {
    return port.empty() ? host : host + ":" + port;
}

bool EndpointUrl::host_is_ip() const {
    if (host.starts_with("[")) {
        return true;
    }
    int dots = 0;
    for (const char c : host) {
        if (c == '.') {
            ++dots;
        } else if (!is_digit(c)) {
            return false;
        }
    }
    return dots == 3;
}

}  // namespace pf::aws
