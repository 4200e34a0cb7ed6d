#include "storage/metadata_codec.h"

#include <charconv>
#include <optional>

namespace pf::storage {
namespace {

// Field names. User metadata is stored as "m:<name>" so that any name survives.
constexpr std::string_view kUserPrefix = "m:";

void put(std::string& out, std::string_view bytes) {
    out += std::to_string(bytes.size());
    out += ':';
    out += bytes;
    out += ',';
}

void put_field(std::string& out, std::string_view name, std::string_view value) {
    if (value.empty()) {
        return;  // absent and empty are the same thing for every system field
    }
    put(out, name);
    put(out, value);
}

// Reads one netstring from the front of `in`.
std::optional<std::string_view> take(std::string_view& in) {
    std::size_t colon = in.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 20) {
        return std::nullopt;
    }
    std::size_t length = 0;
    auto [end, ec] = std::from_chars(in.data(), in.data() + colon, length);
    if (ec != std::errc() || end != in.data() + colon) {
        return std::nullopt;
    }
    std::size_t available = in.size() - colon - 1;  // bytes after the colon
    if (available == 0 || length > available - 1 || in[colon + 1 + length] != ',') {
        return std::nullopt;
    }
    std::string_view value = in.substr(colon + 1, length);
    in.remove_prefix(colon + 1 + length + 1);
    return value;
}

}  // namespace

std::string encode_metadata(const ObjectMetadata& m) {
    std::string out;
    put_field(out, "content-type", m.content_type);
    put_field(out, "content-encoding", m.content_encoding);
    put_field(out, "content-disposition", m.content_disposition);
    put_field(out, "cache-control", m.cache_control);
    put_field(out, "content-language", m.content_language);
    put_field(out, "expires", m.expires);
    put_field(out, "checksum-algorithm", m.checksum_algorithm);
    put_field(out, "checksum-value", m.checksum_value);
    put_field(out, "checksum-type", m.checksum_type);
    for (const auto& [name, value] : m.user) {
        // Written even when empty: "x-amz-meta-a:" (empty value) is a real header.
        put(out, std::string(kUserPrefix) + name);
        put(out, value);
    }
    return out;
}

Result<ObjectMetadata> decode_metadata(std::string_view in) {
    ObjectMetadata m;
    while (!in.empty()) {
        auto name = take(in);
        auto value = name ? take(in) : std::nullopt;
        if (!name || !value) {
            return make_error(ErrorCode::Internal, "index damaged: malformed object metadata");
        }
        std::string v(*value);
        if (name->starts_with(kUserPrefix)) {
            m.user.emplace_back(std::string(name->substr(kUserPrefix.size())), std::move(v));
        } else if (*name == "content-type") {
            m.content_type = std::move(v);
        } else if (*name == "content-encoding") {
            m.content_encoding = std::move(v);
        } else if (*name == "content-disposition") {
            m.content_disposition = std::move(v);
        } else if (*name == "cache-control") {
            m.cache_control = std::move(v);
        } else if (*name == "content-language") {
            m.content_language = std::move(v);
        } else if (*name == "expires") {
            m.expires = std::move(v);
        } else if (*name == "checksum-algorithm") {
            m.checksum_algorithm = std::move(v);
        } else if (*name == "checksum-value") {
            m.checksum_value = std::move(v);
        } else if (*name == "checksum-type") {
            m.checksum_type = std::move(v);
        }
        // Anything else was written by a newer version: skipped.
    }
    return m;
}

}  // namespace pf::storage
