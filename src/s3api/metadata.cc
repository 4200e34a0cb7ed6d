#include "s3api/metadata.h"

namespace pf::s3api {
namespace {

constexpr std::size_t kMaxUserMetadataBytes = 2048;

// Removes the aws-chunked token: it describes the transfer, not the stored object.
std::string without_aws_chunked(std::string_view encoding) {
    std::string out;
    for (auto& token : split_list(encoding)) {
        if (token == "aws-chunked") {
            continue;
        }
        if (!out.empty()) {
            out += ",";
        }
        out += token;
    }
    return out;
}

}  // namespace

std::optional<S3Error> metadata_from_fields(
    const std::vector<std::pair<std::string, std::string>>& fields, storage::ObjectMetadata& out) {
    std::size_t user_bytes = 0;
    for (const auto& [name, value] : fields) {
        if (name == "content-type") {
            out.content_type = value;
        } else if (name == "content-encoding") {
            out.content_encoding = without_aws_chunked(value);
        } else if (name == "content-disposition") {
            out.content_disposition = value;
        } else if (name == "cache-control") {
            out.cache_control = value;
        } else if (name == "content-language") {
            out.content_language = value;
        } else if (name == "expires") {
            out.expires = value;
        } else if (name.starts_with("x-amz-meta-")) {
            std::string key = name.substr(11);
            user_bytes += key.size() + value.size();
            out.user.emplace_back(std::move(key), value);
        }
    }
    if (user_bytes > kMaxUserMetadataBytes) {
        return s3_error("MetadataTooLarge")
            .with("Size", std::to_string(user_bytes))
            .with("MaxSizeAllowed", std::to_string(kMaxUserMetadataBytes));
    }
    if (out.content_type.empty()) {
        out.content_type = "binary/octet-stream";  // S3's default
    }
    return std::nullopt;
}

HeaderPairs metadata_headers(const storage::ObjectMetadata& m) {
    HeaderPairs headers;
    headers.emplace_back("Content-Type", m.content_type.empty() ? "binary/octet-stream" : m.content_type);
    auto add = [&](const char* name, const std::string& value) {
        if (!value.empty()) {
            headers.emplace_back(name, value);
        }
    };
    add("Content-Encoding", m.content_encoding);
    add("Content-Disposition", m.content_disposition);
    add("Cache-Control", m.cache_control);
    add("Content-Language", m.content_language);
    add("Expires", m.expires);
    for (const auto& [name, value] : m.user) {
        headers.emplace_back("x-amz-meta-" + name, value);
    }
    return headers;
}

}  // namespace pf::s3api
