#include "s3api/copy_source.h"

#include "aws/uri_encoding.h"
#include "s3api/s3_request.h"

namespace pf::s3api {

std::optional<S3Error> parse_copy_source(std::string_view header, CopySource& out) {
    std::string_view text = header;
    std::string_view version;
    if (auto q = text.find('?'); q != std::string_view::npos) {
        auto query = text.substr(q + 1);
        text = text.substr(0, q);
        if (query.starts_with("versionId=")) {
            version = query.substr(10);
        }
    }
    if (!version.empty() && version != "null") {
        return s3_error("NoSuchVersion").with("VersionId", std::string(version));
    }
    auto decoded = aws::percent_decode_path(text);
    if (!decoded) {
        return s3_error("InvalidArgument", "Invalid copy source encoding.")
            .with("ArgumentName", "x-amz-copy-source");
    }
    std::string_view path = *decoded;
    if (path.starts_with('/')) {
        path.remove_prefix(1);
    }
    auto slash = path.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == path.size()) {
        return s3_error("InvalidArgument", "Copy Source must mention the source bucket and key: "
                                           "sourcebucket/sourcekey.")
            .with("ArgumentName", "x-amz-copy-source");
    }
    out.bucket = std::string(path.substr(0, slash));
    out.key = std::string(path.substr(slash + 1));
    if (auto error = validate_bucket_name(out.bucket)) {
        return error;
    }
    return validate_key(out.key);
}

ChecksumTap::ChecksumTap(ByteSource& inner, std::optional<crypto::ChecksumAlgorithm> algorithm)
    : inner_(inner) {
    if (algorithm) {
        calculator_.emplace(*algorithm);
    }
}

Result<std::size_t> ChecksumTap::read(std::span<char> out) {
    auto n = inner_.read(out);
    if (n && *n > 0 && calculator_) {
        calculator_->update(std::string_view(out.data(), *n));
    }
    return n;
}

std::string ChecksumTap::finish() { return calculator_ ? calculator_->finish_base64() : ""; }

}  // namespace pf::s3api
