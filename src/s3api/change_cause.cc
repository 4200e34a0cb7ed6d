#include "s3api/change_cause.h"

#include "base/ascii.h"
#include "crypto/encoding.h"
#include "crypto/random.h"

#include <cstdio>

namespace pf::s3api {

std::string client_ip(std::string_view remote_address) {
    if (remote_address.starts_with('[')) {
        auto end = remote_address.find(']');
        return std::string(end == std::string_view::npos ? remote_address.substr(1)
                                                         : remote_address.substr(1, end - 1));
    }
    // IPv4 "a.b.c.d:port". A bare IPv6 address has several colons and no port to strip.
    auto colon = remote_address.find(':');
    if (colon != std::string_view::npos &&
        remote_address.find(':', colon + 1) == std::string_view::npos) {
        return std::string(remote_address.substr(0, colon));
    }
    return std::string(remote_address);
}

std::optional<std::string> valid_trace_header(std::string_view value) {
    if (value.empty() || value.size() > kMaxTraceIdBytes) {
        return std::nullopt;
    }
    for (char c : value) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f || c == '"' || c == '\\') {
            return std::nullopt;
        }
    }
    // "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=...;Sampled=1": Root may come anywhere.
    if (!value.starts_with("Root=") && value.find(";Root=") == std::string_view::npos) {
        return std::nullopt;
    }
    return std::string(value);
}

std::string new_trace_id(std::string_view request_id, std::chrono::system_clock::time_point now) {
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    char epoch[16];
    std::snprintf(epoch, sizeof epoch, "%08llx",
                  static_cast<unsigned long long>(seconds) & 0xFFFFFFFFull);
    std::string unique;
    for (char c : request_id) {
        if (crypto::hex_digit_value(c) >= 0 && unique.size() < 24) {
            unique += ascii_lower(c);
        }
    }
    if (unique.size() < 24) {
        unique += crypto::random_hex(12).substr(0, 24 - unique.size());
    }
    return "Root=1-" + std::string(epoch) + "-" + unique;
}

storage::ChangeCause change_cause(const S3Request& request, const Principal& principal,
                                  std::string_view event_name, const HeaderPairs& response_headers,
                                  std::chrono::system_clock::time_point now) {
    storage::ChangeCause cause;
    cause.event_name = std::string(event_name);
    cause.request_id = request.request_id;
    for (const auto& [name, value] : response_headers) {
        if (ascii_iequals(name, "x-amz-request-id")) {
            cause.request_id = value;
        } else if (ascii_iequals(name, "x-amz-id-2")) {
            cause.host_id = value;
        }
    }
    if (request.http != nullptr) {
        cause.source_ip = client_ip(request.http->remote_address);
        if (auto header = request.http->header("x-amzn-trace-id")) {
            if (auto valid = valid_trace_header(*header)) {
                cause.trace_id = std::move(*valid);
            }
        }
    }
    if (cause.trace_id.empty()) {
        cause.trace_id = new_trace_id(request.request_id, now);
    }
    cause.principal_id =
        principal.anonymous ? std::string("Anonymous") : "AWS:" + principal.access_key_id;
    return cause;
}

}  // namespace pf::s3api
