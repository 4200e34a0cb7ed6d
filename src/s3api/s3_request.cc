#include "s3api/s3_request.h"
#include "base/ascii.h"

#include <algorithm>
#include <cctype>

namespace pf::s3api {
namespace {

std::string_view host_without_port(std::string_view host) {
    if (!host.empty() && host.front() == '[') {  // IPv6 literal
        auto end = host.find(']');
        return end == std::string_view::npos ? host : host.substr(0, end + 1);
    }
    auto colon = host.rfind(':');
    return colon == std::string_view::npos ? host : host.substr(0, colon);
}

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t extra = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + extra >= s.size()) {  // truncated sequence
            return false;
        }
        for (std::size_t k = 1; k <= extra; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (cc & 0x3F);
        }
        // Overlong forms, surrogates and values beyond Unicode are not UTF-8.
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
            (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += extra + 1;
    }
    return true;
}

}  // namespace

bool S3Request::has(std::string_view name) const {
    return std::any_of(query.begin(), query.end(), [&](const auto& p) { return p.first == name; });
}

std::optional<std::string> S3Request::param(std::string_view name) const {
    for (const auto& [k, v] : query) {
        if (k == name) {
            return v;
        }
    }
    return std::nullopt;
}

std::string S3Request::resource() const {
    std::string r = "/";
    if (!bucket.empty()) {
        r += bucket;
        if (!key.empty()) {
            r += "/" + key;
        }
    }
    return r;
}

std::optional<S3Error> parse_s3_request(const http::Request& http, const AddressingOptions& options,
                                        S3Request& out) {
    out.http = &http;
    auto path = aws::percent_decode_path(http.path());
    if (!path || path->empty() || path->front() != '/') {
        return s3_error("InvalidURI");
    }
    auto query = aws::parse_query(http.query());
    if (!query) {
        return s3_error("InvalidURI");
    }
    out.decoded_path = *path;
    out.query = std::move(*query);

    std::string host = ascii_lowercase(host_without_port(http.header("host").value_or("")));
    for (const auto& domain : options.virtual_host_domains) {
        if (host.size() > domain.size() + 1 && host.ends_with(domain) &&
            host[host.size() - domain.size() - 1] == '.') {
            out.bucket = host.substr(0, host.size() - domain.size() - 1);
            out.key = out.decoded_path.substr(1);
            out.virtual_hosted = true;
            return std::nullopt;
        }
    }
    std::string_view rest = std::string_view(out.decoded_path).substr(1);
    auto slash = rest.find('/');
    if (slash == std::string_view::npos) {
        out.bucket = std::string(rest);
    } else {
        out.bucket = std::string(rest.substr(0, slash));
        out.key = std::string(rest.substr(slash + 1));
    }
    return std::nullopt;
}

std::optional<S3Error> validate_bucket_name(std::string_view name) {
    auto invalid = [&](std::string why) {
        return s3_error("InvalidBucketName", "The specified bucket is not valid: " + why)
            .with("BucketName", std::string(name));
    };
    if (name.size() < 3 || name.size() > 63) {
        return invalid("a bucket name has 3 to 63 characters");
    }
    for (char c : name) {
        if (!(std::islower(static_cast<unsigned char>(c)) ||
              std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-')) {
            return invalid("use only lowercase letters, digits, '.' and '-'");
        }
    }
    auto alnum = [](char c) {
        return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c));
    };
    if (!alnum(name.front()) || !alnum(name.back())) {
        return invalid("a bucket name starts and ends with a letter or digit");
    }
    if (name.find("..") != std::string_view::npos) {
        return invalid("a bucket name has no two adjacent periods");
    }
    int dots = 0;
    bool digits_and_dots = true;
    for (char c : name) {
        dots += c == '.';
        digits_and_dots = digits_and_dots && (c == '.' || std::isdigit(static_cast<unsigned char>(c)));
    }
    if (dots == 3 && digits_and_dots) {
        return invalid("a bucket name is not formatted as an IP address");
    }
    return std::nullopt;
}

std::optional<S3Error> validate_key(std::string_view key) {
    if (key.size() > 1024) {
        return s3_error("KeyTooLongError")
            .with("Size", std::to_string(key.size()))
            .with("MaxSizeAllowed", "1024");
    }
    for (char c : key) {
        // Control characters cannot appear in an XML 1.0 listing (not even as references), so
        // a key holding one could be stored but never listed: refused up front.
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
            return s3_error("InvalidArgument",
                            "Object keys cannot contain control characters (including NUL).");
        }
    }
    if (!valid_utf8(key)) {
        return s3_error("InvalidArgument", "Object keys must be valid UTF-8.");
    }
    // "." and ".." segments mean something to file systems and to many tools that mirror a
    // bucket onto one; Photoflux refuses them rather than store keys that look like traversal.
    std::size_t start = 0;
    while (start <= key.size()) {
        auto end = key.find('/', start);
        auto segment = key.substr(start, end == std::string_view::npos ? key.size() - start
                                                                        : end - start);
        if (segment == "." || segment == "..") {
            return s3_error("InvalidArgument",
                            "Object keys cannot contain a '.' or '..' path segment.");
        }
        if (end == std::string_view::npos) {
            break;
        }
        start = end + 1;
    }
    return std::nullopt;
}

}  // namespace pf::s3api
