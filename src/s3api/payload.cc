#include "s3api/payload.h"
#include "base/ascii.h"

#include "crypto/encoding.h"

#include <charconv>

namespace pf::s3api {
namespace {

std::optional<std::uint64_t> parse_length(std::string_view text) {
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

const crypto::ChecksumAlgorithm kAllAlgorithms[] = {
    crypto::ChecksumAlgorithm::Crc32, crypto::ChecksumAlgorithm::Crc32c,
    crypto::ChecksumAlgorithm::Crc64Nvme, crypto::ChecksumAlgorithm::Sha1,
    crypto::ChecksumAlgorithm::Sha256};

}  // namespace

Payload::~Payload() = default;

std::variant<std::unique_ptr<Payload>, S3Error> Payload::open(const S3Request& request,
                                                              http::RequestBody& body,
                                                              PayloadPlan plan,
                                                              std::uint64_t max_bytes) {
    const auto& http = *request.http;
    std::unique_ptr<Payload> p(new Payload());
    p->max_bytes_ = max_bytes;
    p->source_ = &body;

    bool chunked_encoding = false;
    if (auto ce = http.header("content-encoding"); ce && ce->find("aws-chunked") != std::string_view::npos) {
        chunked_encoding = true;
    }
    bool streaming = plan.kind == PayloadPlan::Kind::StreamingUnsigned ||
                     plan.kind == PayloadPlan::Kind::StreamingSigned ||
                     plan.kind == PayloadPlan::Kind::StreamingSignedTrailer;

    if (!http.content_length && !http.chunked) {
        return s3_error("MissingContentLength");
    }
    if (streaming || chunked_encoding) {
        aws::AwsChunkedOptions options;
        if (auto decoded = http.header("x-amz-decoded-content-length")) {
            auto n = parse_length(*decoded);
            if (!n) {
                return s3_error("InvalidArgument", "x-amz-decoded-content-length is not a number")
                    .with("ArgumentName", "x-amz-decoded-content-length");
            }
            options.decoded_content_length = *n;
            p->declared_length_ = *n;
        }
        options.signatures = std::move(plan.chain);
        options.expect_trailer = plan.kind == PayloadPlan::Kind::StreamingUnsigned ||
                                 plan.kind == PayloadPlan::Kind::StreamingSignedTrailer;
        if (auto trailer = http.header("x-amz-trailer")) {
            std::string names(*trailer);
            std::size_t start = 0;
            while (start < names.size()) {
                auto comma = names.find(',', start);
                std::string name = names.substr(start, comma == std::string::npos ? std::string::npos
                                                                                  : comma - start);
                while (!name.empty() && name.front() == ' ') name.erase(0, 1);
                while (!name.empty() && name.back() == ' ') name.pop_back();
                name = ascii_lowercase(name);
                if (!name.empty()) options.announced_trailers.push_back(name);
                if (comma == std::string::npos) break;
                start = comma + 1;
            }
            for (const auto& name : options.announced_trailers) {
                for (auto alg : kAllAlgorithms) {
                    if (name == crypto::checksum_header(alg)) {
                        p->algorithm_ = alg;
                    }
                }
            }
        }
        p->chunked_ = std::make_unique<aws::AwsChunkedSource>(body, std::move(options));
        p->source_ = p->chunked_.get();
    } else {
        if (http.content_length) {
            p->declared_length_ = *http.content_length;
        }
        if (plan.kind == PayloadPlan::Kind::SignedHash) {
            p->sha256_.emplace();
            p->expected_sha256_ = plan.expected_sha256;
        }
    }
    if (p->declared_length_ && *p->declared_length_ > max_bytes) {
        return s3_error("EntityTooLarge")
            .with("ProposedSize", std::to_string(*p->declared_length_))
            .with("MaxSizeAllowed", std::to_string(max_bytes));
    }

    // A checksum in a header is verified here; one in a trailer is verified by the decoder.
    for (auto alg : kAllAlgorithms) {
        if (auto value = http.header(crypto::checksum_header(alg))) {
            auto raw = crypto::base64_decode(*value);
            if (!raw || raw->size() != crypto::checksum_size(alg)) {
                return s3_error("InvalidRequest",
                                "Value for " + crypto::checksum_header(alg) +
                                    " header is invalid.");
            }
            p->algorithm_ = alg;
            p->expected_checksum_ = std::string(*value);
        }
    }
    if (!p->algorithm_) {
        if (auto named = http.header("x-amz-sdk-checksum-algorithm")) {
            auto alg = crypto::parse_checksum_algorithm(*named);
            if (!alg) {
                return s3_error("InvalidRequest",
                                "Checksum algorithm " + std::string(*named) + " is not supported.");
            }
            p->algorithm_ = alg;
        }
    }
    bool trailer_checksum = p->chunked_ && p->algorithm_ && p->expected_checksum_.empty();
    if (p->algorithm_ && !trailer_checksum) {
        p->checksum_.emplace(*p->algorithm_);
    }

    if (auto md5 = http.header("content-md5")) {
        auto raw = crypto::base64_decode(*md5);
        if (!raw || raw->size() != 16) {
            return s3_error("InvalidDigest");
        }
        p->content_md5_ = std::string(*md5);
    }
    return p;
}

Result<std::size_t> Payload::fail(S3Error error, ErrorCode code) {
    std::string message = error.code + ": " + error.message;
    failure_ = std::move(error);
    return make_error(code, message);
}

Result<std::size_t> Payload::read(std::span<char> out) {
    if (done_) {
        return std::size_t{0};
    }
    auto n = source_->read(out);
    if (!n) {
        if (chunked_) {
            auto code = aws::aws_chunked_error_code(n.error());
            return fail(s3_error(code, std::string(aws::aws_chunked_error_message(n.error()))),
                        n.error().code);
        }
        if (n.error().code == ErrorCode::Timeout) {
            return fail(s3_error("RequestTimeout"), ErrorCode::Timeout);
        }
        return fail(s3_error("IncompleteBody"), n.error().code);
    }
    if (*n == 0) {
        return finish();
    }
    received_ += *n;
    if (received_ > max_bytes_) {
        return fail(s3_error("EntityTooLarge").with("MaxSizeAllowed", std::to_string(max_bytes_)),
                    ErrorCode::TooLarge);
    }
    std::string_view bytes(out.data(), *n);
    if (sha256_) {
        sha256_->update(bytes);
    }
    if (checksum_) {
        checksum_->update(bytes);
    }
    return n;
}

Result<std::size_t> Payload::finish() {
    done_ = true;
    if (declared_length_ && received_ != *declared_length_) {
        return fail(s3_error("IncompleteBody"), ErrorCode::CorruptInput);
    }
    if (sha256_) {
        std::string computed = crypto::hex_encode(sha256_->finish());
        if (computed != expected_sha256_) {
            return fail(s3_error("XAmzContentSHA256Mismatch")
                            .with("ClientComputedContentSHA256", expected_sha256_)
                            .with("S3ComputedContentSHA256", computed),
                        ErrorCode::CorruptInput);
        }
    }
    if (checksum_) {
        checksum_value_ = checksum_->finish_base64();
        if (!expected_checksum_.empty() && checksum_value_ != expected_checksum_) {
            return fail(s3_error("BadDigest", "The " +
                                                  std::string(crypto::checksum_name(*algorithm_)) +
                                                  " you specified did not match the calculated "
                                                  "checksum."),
                        ErrorCode::CorruptInput);
        }
    } else if (chunked_ && algorithm_) {
        for (const auto& [name, value] : chunked_->trailers()) {
            if (name == crypto::checksum_header(*algorithm_)) {
                checksum_value_ = value;
            }
        }
    }
    return std::size_t{0};
}

std::optional<S3Error> Payload::check_content_md5(const storage::BodyDigest& digest) const {
    if (content_md5_.empty()) {
        return std::nullopt;
    }
    auto raw = crypto::hex_decode(digest.md5_hex);
    if (!raw || crypto::base64_encode(*raw) != content_md5_) {
        return s3_error("BadDigest");
    }
    return std::nullopt;
}

}  // namespace pf::s3api
