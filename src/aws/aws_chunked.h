// Decoder for `Content-Encoding: aws-chunked` bodies (S3 streaming uploads): unsigned chunks with
// a checksum trailer, and signed chunks (each signature verified against the chain) with or
// without a signed trailer. Tolerant of the framing variants real SDKs send (see the reference
// sheet, 1.10); strict about what the bytes mean: a wrong chunk signature, a trailer checksum that
// does not match, or a length other than x-amz-decoded-content-length is an error at the read that
// detects it, so nothing invalid is ever committed.
#pragma once

#include "aws/sigv4.h"
#include "base/byte_stream.h"
#include "crypto/checksum.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::aws {

struct AwsChunkedOptions {
    // Present for STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]; absent for unsigned.
    std::optional<ChunkSignatureChain> signatures;
    bool expect_trailer = false; // -TRAILER variants (names from x-amz-trailer)
    // The trailer header names announced in x-amz-trailer (lowercase), e.g. x-amz-checksum-crc32.
    std::vector<std::string> announced_trailers;
    std::optional<std::uint64_t> decoded_content_length; // x-amz-decoded-content-length
    std::size_t max_chunk_header = 4096;                 // bytes of one "size;ext\r\n" line
    std::size_t max_trailer_bytes = 16 * 1024;
};

// Errors: every decoding failure's public message starts with the S3 error code it maps to
// ("IncompleteBody: ...", "InvalidRequest: ...", "BadDigest: ...", "SignatureDoesNotMatch: ...");
// the ErrorCode is CorruptInput for framing, length and checksum failures and Unauthenticated for
// chunk or trailer signature failures. Errors of the wrapped wire source pass through unchanged.
// The S3 layer maps any error of read() through aws_chunked_error_code() and
// aws_chunked_error_message(). Bytes are handed out before the chunk carrying them is verified:
// only a read that returns 0 (the end) means the whole body is valid.
class AwsChunkedSource : public ByteSource {
public:
    AwsChunkedSource(ByteSource& wire, AwsChunkedOptions options);
    ~AwsChunkedSource() override;
    Result<std::size_t> read(std::span<char> out) override;

    // Trailer headers received (lowercase name, value), valid after the end was read.
    const std::vector<std::pair<std::string, std::string>>& trailers() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

// What S3 error code a read() failure maps to: "SignatureDoesNotMatch" (Unauthenticated),
// "BadDigest", "IncompleteBody", "InvalidRequest"; for errors of the wire underneath,
// "RequestTimeout" (Timeout), "IncompleteBody" (CorruptInput) or "InternalError" (anything else).
std::string_view aws_chunked_error_code(const Error& error);
// The client-facing message without the "<code>: " prefix.
std::string_view aws_chunked_error_message(const Error& error);

} // namespace pf::aws
