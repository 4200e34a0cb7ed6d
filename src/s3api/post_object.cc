// Browser POST uploads (a form with a signed policy): the form is read up to the file, the
// signature and every policy condition are checked, then the file streams into the store with the
// policy's size range enforced while it arrives.
#include "aws/post_policy.h"
#include "base/ascii.h"
#include "aws/uri_encoding.h"
#include "s3api/change_cause.h"
#include "s3api/exchange.h"
#include "s3api/form_data.h"
#include "s3api/metadata.h"
#include "s3api/xml_writer.h"

#include <algorithm>
#include <cctype>

namespace pf::s3api {
namespace {

// Counts the file's bytes and stops it at the limit, so an oversized upload fails while it
// arrives rather than after it was written.
class BoundedSource : public ByteSource {
public:
    BoundedSource(ByteSource& inner, std::uint64_t limit,
                  std::optional<crypto::ChecksumAlgorithm> algorithm)
        : inner_(inner), limit_(limit) {
        if (algorithm) {
            checksum_.emplace(*algorithm);
        }
    }
    Result<std::size_t> read(std::span<char> out) override {
        auto n = inner_.read(out);
        if (!n) {
            return n;
        }
        count_ += *n;
        if (count_ > limit_) {
            too_large_ = true;
            return make_error(ErrorCode::TooLarge, "upload larger than allowed");
        }
        if (checksum_ && *n > 0) {
            checksum_->update(std::string_view(out.data(), *n));
        }
        return n;
    }
    bool too_large() const { return too_large_; }
    std::uint64_t count() const { return count_; }
    std::string checksum() { return checksum_ ? checksum_->finish_base64() : ""; }

private:
    ByteSource& inner_;
    std::uint64_t limit_;
    std::uint64_t count_ = 0;
    bool too_large_ = false;
    std::optional<crypto::ChecksumCalculator> checksum_;
};

}  // namespace

void S3Service::post_object(Exchange& x) {
    auto boundary = form_boundary(x.req.header("content-type").value_or(""));
    if (!boundary) {
        return x.reply_error(s3_error("InvalidArgument", "The multipart/form-data boundary is missing.")
                                 .with("ArgumentName", "Content-Type"));
    }
    // Whatever the client declares, a POST body is bounded by the object limit plus the form.
    FormDataReader form(x.body, *boundary, {});
    if (auto read = form.read_fields(); !read) {
        if (read.error().code == ErrorCode::NotFound) {
            return x.reply_error(s3_error("InvalidArgument", read.error().client_message())
                                     .with("ArgumentName", "file"));
        }
        if (read.error().code == ErrorCode::Timeout) {
            return x.reply_error(s3_error("RequestTimeout"));
        }
        return x.reply_error(s3_error("MalformedPOSTRequest", read.error().client_message()));
    }
    // Field names are case-insensitive; policy conditions and metadata use lowercase.
    std::vector<std::pair<std::string, std::string>> lowered;
    for (const auto& [name, value] : form.fields()) {
        lowered.emplace_back(ascii_lowercase(name), value);
    }
    auto field = [&](std::string_view name) -> std::optional<std::string> {
        for (const auto& [n, v] : lowered) {
            if (n == name) return v;
        }
        return std::nullopt;
    };
    if (field("awsaccesskeyid") && field("signature")) {
        return x.reply_error(s3_error("InvalidRequest",
                                      "POST uploads signed with Signature Version 2 are not "
                                      "supported; sign the policy with AWS4-HMAC-SHA256 (boto3: "
                                      "Config(signature_version='s3v4'))."));
    }
    auto policy_text = field("policy");
    auto signature = field("x-amz-signature");
    auto credential = field("x-amz-credential");
    auto amz_date = field("x-amz-date");
    if (!policy_text || !signature || !credential || !amz_date) {
        // Anonymous form uploads would need a public-write bucket, which Photoflux never has.
        return x.reply_error(s3_error("AccessDenied",
                                      "POST uploads need policy, x-amz-algorithm, x-amz-credential, "
                                      "x-amz-date and x-amz-signature fields."));
    }
    if (field("x-amz-algorithm") != "AWS4-HMAC-SHA256") {
        return x.reply_error(s3_error("InvalidArgument", "x-amz-algorithm must be AWS4-HMAC-SHA256")
                                 .with("ArgumentName", "x-amz-algorithm"));
    }
    auto principal = authenticator_.verify_post_signature(*credential, *amz_date, *policy_text, *signature);
    if (auto* error = std::get_if<S3Error>(&principal)) {
        return x.reply_error(*error);
    }
    auto policy = aws::parse_post_policy(*policy_text);
    if (!policy) {
        return x.reply_error(s3_error("InvalidPolicyDocument",
                                      "Invalid Policy: " + policy.error().client_message()));
    }
    auto key = field("key");
    if (!key || key->empty()) {
        return x.reply_error(s3_error("InvalidArgument", "Bucket POST must contain a field named 'key'.")
                                 .with("ArgumentName", "key"));
    }
    std::string final_key = *key;
    if (auto at = final_key.find("${filename}"); at != std::string::npos) {
        final_key.replace(at, 11, form.file_name());
    }
    if (auto error = validate_key(final_key)) {
        return x.reply_error(*error);
    }
    auto fields_ok = aws::check_post_policy_fields(*policy, form.fields(), x.req.bucket, final_key,
                                                   authenticator_.now());
    if (!fields_ok) {
        return x.reply_error(s3_error("AccessDenied", fields_ok.error().client_message()));
    }

    storage::ObjectMetadata metadata;
    if (auto error = metadata_from_fields(lowered, metadata)) {
        return x.reply_error(*error);
    }
    std::optional<crypto::ChecksumAlgorithm> algorithm;
    std::string expected_checksum;
    for (const auto& [name, value] : lowered) {
        if (name.starts_with("x-amz-checksum-")) {
            algorithm = crypto::parse_checksum_algorithm(name.substr(15));
            expected_checksum = value;
        }
    }
    std::uint64_t limit = options_.max_object_bytes;
    if (policy->content_length_range) {
        limit = std::min<std::uint64_t>(limit, policy->content_length_range->second);
    }
    BoundedSource file(form.file(), limit, algorithm);
    std::optional<S3Error> commit_failure;
    auto before_commit = [&](const storage::BodyDigest& digest,
                             storage::ObjectMetadata& m) -> Result<void> {
        if (auto size_ok = aws::check_post_policy_size(*policy, digest.size); !size_ok) {
            commit_failure = s3_error(size_ok.error().code == ErrorCode::TooLarge ? "EntityTooLarge"
                                                                                   : "EntityTooSmall",
                                      size_ok.error().client_message());
            return size_ok;
        }
        if (algorithm) {
            std::string computed = file.checksum();
            if (computed != expected_checksum) {
                commit_failure = s3_error("BadDigest", "The " + std::string(crypto::checksum_name(*algorithm)) +
                                                           " you specified did not match the calculated checksum.");
                return make_error(ErrorCode::CorruptInput, "checksum mismatch");
            }
            m.checksum_algorithm = std::string(crypto::checksum_name(*algorithm));
            m.checksum_value = computed;
            m.checksum_type = "FULL_OBJECT";
        }
        return {};
    };
    auto info = store_.put_object(x.req.bucket, final_key, file, std::move(metadata), {}, before_commit,
                                  change_cause(x.req, std::get<Principal>(principal),
                                               "ObjectCreated:Post", x.common_headers));
    if (!info) {
        if (file.too_large()) return x.reply_error(s3_error("EntityTooLarge"));
        if (commit_failure) return x.reply_error(*commit_failure);
        if (info.error().code == ErrorCode::NotFound) {
            return x.reply_error(s3_error("NoSuchBucket").with("BucketName", x.req.bucket));
        }
        if (info.error().code == ErrorCode::CorruptInput || info.error().code == ErrorCode::Timeout) {
            return x.reply_error(s3_error("IncompleteBody", info.error().client_message()));
        }
        return x.reply_error(s3_error_from(info.error()));
    }
    // The rest of the form (fields after the file are ignored, as on S3) is not read: the
    // connection closes after the response.
    std::string location = "/" + x.req.bucket + "/" + aws::uri_encode(final_key, true);
    HeaderPairs headers{{"ETag", quoted(info->etag)}, {"Location", location}};
    if (auto redirect = field("success_action_redirect"); redirect && !redirect->empty()) {
        std::string target = *redirect + (redirect->find('?') == std::string::npos ? "?" : "&") +
                             "bucket=" + aws::uri_encode(x.req.bucket, false) +
                             "&key=" + aws::uri_encode(final_key, false) +
                             "&etag=" + aws::uri_encode(quoted(info->etag), false);
        headers.emplace_back("Location", target);
        headers.erase(headers.begin() + 1);
        return x.reply_empty(303, std::move(headers));
    }
    auto status = field("success_action_status").value_or("204");
    if (status == "201") {
        XmlWriter xml;
        xml.open("PostResponse")
            .element("Location", location)
            .element("Bucket", x.req.bucket)
            .element("Key", final_key)
            .element("ETag", quoted(info->etag));
        return x.reply_xml(201, xml.take(), std::move(headers));
    }
    x.reply_empty(status == "200" ? 200 : 204, std::move(headers));
}

}  // namespace pf::s3api
