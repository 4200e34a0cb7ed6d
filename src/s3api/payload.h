// The body of an upload as the store receives it: HTTP framing already removed by http/, then
// aws-chunked decoding when the client used it, then verification of everything the client
// declared about the bytes (x-amz-content-sha256, x-amz-checksum-*, the declared length, the size
// limit). Failures surface at the read that detects them, so the store never commits a body that
// failed; failure() then tells which S3 error it was. Content-MD5 is checked against the MD5 the
// store computes anyway (check_content_md5), so each byte is MD5-hashed once.
#pragma once

#include "aws/aws_chunked.h"
#include "crypto/checksum.h"
#include "crypto/digest.h"
#include "http/server.h"
#include "s3api/authenticator.h"
#include "s3api/s3_error.h"
#include "s3api/s3_request.h"
#include "storage/object_store.h"

#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace pf::s3api {

class Payload : public ByteSource {
public:
    // Validates the headers that describe the body (lengths, Content-MD5 syntax, checksum
    // headers) before a byte is read. max_bytes: the largest body this operation accepts.
    static std::variant<std::unique_ptr<Payload>, S3Error> open(const S3Request& request,
                                                                http::RequestBody& body,
                                                                PayloadPlan plan,
                                                                std::uint64_t max_bytes);
    ~Payload() override;

    Result<std::size_t> read(std::span<char> out) override;

    // The S3 error behind the last failed read.
    const std::optional<S3Error>& failure() const { return failure_; }
    // Size the client declared for the decoded body, when it did.
    std::optional<std::uint64_t> declared_length() const { return declared_length_; }
    // After the end was read: the body's flexible checksum, if the client sent or asked for one.
    std::optional<crypto::ChecksumAlgorithm> checksum_algorithm() const { return algorithm_; }
    const std::string& checksum_value() const { return checksum_value_; }
    // Whether the client sent Content-MD5 (a body read without the store needs its own MD5 only
    // then).
    bool has_content_md5() const { return !content_md5_.empty(); }
    // Compares a Content-MD5 header, if any, with the MD5 the store computed.
    std::optional<S3Error> check_content_md5(const storage::BodyDigest& digest) const;

private:
    Payload() = default;
    Result<std::size_t> fail(S3Error error, ErrorCode code);
    Result<std::size_t> finish();

    ByteSource* source_ = nullptr;  // the wire body or the aws-chunked decoder
    std::unique_ptr<aws::AwsChunkedSource> chunked_;
    std::optional<crypto::Sha256> sha256_;
    std::string expected_sha256_;
    std::optional<crypto::ChecksumCalculator> checksum_;
    std::optional<crypto::ChecksumAlgorithm> algorithm_;
    std::string expected_checksum_;  // from a header; empty when none
    std::string checksum_value_;
    std::string content_md5_;        // base64 from the header
    std::optional<std::uint64_t> declared_length_;
    std::uint64_t max_bytes_ = 0;
    std::uint64_t received_ = 0;
    bool done_ = false;
    std::optional<S3Error> failure_;
};

}  // namespace pf::s3api
