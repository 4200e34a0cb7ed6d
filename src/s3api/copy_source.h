// The source side of CopyObject and UploadPartCopy: the x-amz-copy-source header, its
// conditionals and range, and a tap that computes a checksum of the bytes as they are copied.
#pragma once

#include "base/byte_stream.h"
#include "crypto/checksum.h"
#include "s3api/s3_error.h"

#include <optional>
#include <string>
#include <string_view>

namespace pf::s3api {

struct CopySource {
    std::string bucket;
    std::string key;
};

// "bucket/key", "/bucket/key", with an optional "?versionId=..." (only "null" exists here).
std::optional<S3Error> parse_copy_source(std::string_view header, CopySource& out);

// Passes bytes through, feeding a checksum calculator.
class ChecksumTap : public ByteSource {
public:
    ChecksumTap(ByteSource& inner, std::optional<crypto::ChecksumAlgorithm> algorithm);
    Result<std::size_t> read(std::span<char> out) override;
    // base64 of the checksum; empty when no algorithm. Call once, after the end.
    std::string finish();

private:
    ByteSource& inner_;
    std::optional<crypto::ChecksumCalculator> calculator_;
};

}  // namespace pf::s3api
