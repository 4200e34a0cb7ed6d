// Multipart uploads: Create, UploadPart, UploadPartCopy, Complete (part list validated against
// what was uploaded: order, ETags, the 5 MiB minimum; composite or full-object checksums), Abort,
// ListParts and ListMultipartUploads.
#include "aws/time_format.h"
#include "s3api/change_cause.h"
#include "s3api/conditions.h"
#include "s3api/copy_source.h"
#include "s3api/exchange.h"
#include "s3api/metadata.h"
#include "s3api/xml_reader.h"
#include "s3api/xml_writer.h"

#include <charconv>
#include <map>

namespace pf::s3api {
namespace {

constexpr int kMaxParts = 10000;
constexpr std::size_t kMaxCompleteBody = 8 * 1024 * 1024;

std::optional<int> parse_int(std::string_view text) {
    int v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return v;
}

std::variant<int, S3Error> part_number(const S3Request& req) {
    auto n = parse_int(req.param("partNumber").value_or(""));
    if (!n || *n < 1 || *n > kMaxParts) {
        return s3_error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
            .with("ArgumentName", "partNumber")
            .with("ArgumentValue", req.param("partNumber").value_or(""));
    }
    return *n;
}

void owner(XmlWriter& xml, std::string_view element) {
    xml.open(element).element("ID", "photoflux").element("DisplayName", "photoflux").close();
}

}  // namespace

void S3Service::create_multipart(Exchange& x) {
    storage::ObjectMetadata metadata;
    if (auto error = metadata_from_fields(x.req.http->headers, metadata)) {
        return x.reply_error(*error);
    }
    HeaderPairs headers;
    if (auto alg_name = x.req.header("x-amz-checksum-algorithm")) {
        auto alg = crypto::parse_checksum_algorithm(*alg_name);
        if (!alg) {
            return x.reply_error(s3_error("InvalidRequest", "Checksum algorithm " + std::string(*alg_name) + " is not supported."));
        }
        std::string type(x.req.header("x-amz-checksum-type").value_or(
            *alg == crypto::ChecksumAlgorithm::Crc64Nvme ? "FULL_OBJECT" : "COMPOSITE"));
        if (type != "COMPOSITE" && type != "FULL_OBJECT") {
            return x.reply_error(s3_error("InvalidRequest", "Checksum type must be COMPOSITE or FULL_OBJECT."));
        }
        // Whole-object values are not derivable from SHA part digests; CRC64NVME has no composite.
        bool sha = *alg == crypto::ChecksumAlgorithm::Sha1 || *alg == crypto::ChecksumAlgorithm::Sha256;
        if ((sha && type == "FULL_OBJECT") ||
            (*alg == crypto::ChecksumAlgorithm::Crc64Nvme && type == "COMPOSITE")) {
            return x.reply_error(s3_error("InvalidRequest", "The " + std::string(crypto::checksum_name(*alg)) +
                                                                " checksum does not support the " + type + " type."));
        }
        metadata.checksum_algorithm = std::string(crypto::checksum_name(*alg));
        metadata.checksum_type = type;
        headers.emplace_back("x-amz-checksum-algorithm", metadata.checksum_algorithm);
        headers.emplace_back("x-amz-checksum-type", type);
    }
    std::string ignored;
    if (auto error = x.read_small_body(64 * 1024, ignored)) {
        return x.reply_error(*error);
    }
    auto upload = store_.create_multipart(x.req.bucket, x.req.key, std::move(metadata));
    if (!upload) {
        return x.reply_error(s3_error_from(upload.error(), "NoSuchBucket").with("BucketName", x.req.bucket));
    }
    XmlWriter xml;
    xml.open("InitiateMultipartUploadResult", kS3Namespace)
        .element("Bucket", x.req.bucket)
        .element("Key", x.req.key)
        .element("UploadId", upload->upload_id);
    x.reply_xml(200, xml.take(), std::move(headers));
}

void S3Service::upload_part(Exchange& x) {
    auto number = part_number(x.req);
    if (auto* error = std::get_if<S3Error>(&number)) {
        return x.reply_error(*error);
    }
    std::string upload_id = x.req.param("uploadId").value_or("");
    auto upload = store_.get_multipart(x.req.bucket, x.req.key, upload_id);
    if (!upload) {
        return x.reply_error(s3_error_from(upload.error(), "NoSuchUpload").with("UploadId", upload_id));
    }
    auto opened = Payload::open(x.req, x.body, std::move(x.auth.payload), options_.max_object_bytes);
    if (auto* error = std::get_if<S3Error>(&opened)) {
        return x.reply_error(*error);
    }
    auto& payload = *std::get<std::unique_ptr<Payload>>(opened);
    std::optional<S3Error> commit_failure;
    std::string checksum_name;
    auto before_commit = [&](const storage::BodyDigest& digest,
                             storage::ObjectMetadata& m) -> Result<void> {
        if (auto error = payload.check_content_md5(digest)) {
            commit_failure = *error;
            return make_error(ErrorCode::CorruptInput, "Content-MD5 mismatch");
        }
        if (payload.checksum_algorithm() && !payload.checksum_value().empty()) {
            checksum_name = std::string(crypto::checksum_name(*payload.checksum_algorithm()));
            if (!upload->metadata.checksum_algorithm.empty() &&
                checksum_name != upload->metadata.checksum_algorithm) {
                commit_failure = s3_error("InvalidRequest",
                                          "Checksum Type mismatch occurred, expected checksum Type: " +
                                              upload->metadata.checksum_algorithm + ", actual checksum Type: " +
                                              checksum_name);
                return make_error(ErrorCode::InvalidArgument, "checksum algorithm mismatch");
            }
            m.checksum_value = payload.checksum_value();
        }
        return {};
    };
    auto part = store_.upload_part(x.req.bucket, x.req.key, upload_id, std::get<int>(number),
                                   payload, before_commit);
    if (!part) {
        if (payload.failure()) return x.reply_error(*payload.failure());
        if (commit_failure) return x.reply_error(*commit_failure);
        return x.reply_error(s3_error_from(part.error(), "NoSuchUpload").with("UploadId", upload_id));
    }
    HeaderPairs headers{{"ETag", quoted(part->etag)}};
    if (!checksum_name.empty()) {
        if (auto alg = crypto::parse_checksum_algorithm(checksum_name)) {
            headers.emplace_back(crypto::checksum_header(*alg), part->checksum_value);
        }
    }
    x.reply_empty(200, std::move(headers));
}

void S3Service::upload_part_copy(Exchange& x) {
    auto number = part_number(x.req);
    if (auto* error = std::get_if<S3Error>(&number)) {
        return x.reply_error(*error);
    }
    std::string upload_id = x.req.param("uploadId").value_or("");
    auto upload = store_.get_multipart(x.req.bucket, x.req.key, upload_id);
    if (!upload) {
        return x.reply_error(s3_error_from(upload.error(), "NoSuchUpload").with("UploadId", upload_id));
    }
    CopySource source;
    if (auto error = parse_copy_source(*x.req.header("x-amz-copy-source"), source)) {
        return x.reply_error(*error);
    }
    std::string ignored;
    if (auto error = x.read_small_body(64 * 1024, ignored)) {
        return x.reply_error(*error);
    }
    auto reader = store_.open_object(source.bucket, source.key);
    if (!reader) {
        if (reader.error().code == ErrorCode::NotFound) {
            if (!store_.head_bucket(source.bucket)) {
                return x.reply_error(s3_error("NoSuchBucket").with("BucketName", source.bucket));
            }
            return x.reply_error(s3_error("NoSuchKey").with("Key", source.key));
        }
        return x.reply_error(s3_error_from(reader.error()));
    }
    const auto& info = (*reader)->info();
    if (evaluate_conditions(*x.req.http, info, "x-amz-copy-source-") != ConditionOutcome::Proceed) {
        return x.reply_error(s3_error("PreconditionFailed").with("Condition", "x-amz-copy-source-If-Match"));
    }
    if (auto range_header = x.req.header("x-amz-copy-source-range")) {
        // Unlike GET's Range, a copy range must be explicit and inside the object.
        ByteRange range;
        auto outcome = parse_range(*range_header, info.size, range);
        if (outcome != RangeOutcome::Partial || range_header->find("=-") != std::string_view::npos ||
            range_header->ends_with("-")) {
            return x.reply_error(s3_error("InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
                                     .with("ArgumentName", "x-amz-copy-source-range"));
        }
        if (auto ranged = (*reader)->set_range(range.first, range.length); !ranged) {
            return x.reply_error(s3_error_from(ranged.error()));
        }
    } else if (info.size > options_.max_object_bytes) {
        return x.reply_error(s3_error("InvalidRequest", "The specified copy source is larger than the maximum allowable size for a copy source"));
    }
    std::optional<crypto::ChecksumAlgorithm> algorithm;
    if (!upload->metadata.checksum_algorithm.empty()) {
        algorithm = crypto::parse_checksum_algorithm(upload->metadata.checksum_algorithm);
    }
    ChecksumTap tap(**reader, algorithm);
    auto before_commit = [&](const storage::BodyDigest&, storage::ObjectMetadata& m) -> Result<void> {
        if (algorithm) {
            m.checksum_value = tap.finish();
        }
        return {};
    };
    auto part = store_.upload_part(x.req.bucket, x.req.key, upload_id, std::get<int>(number), tap,
                                   before_commit);
    if (!part) {
        return x.reply_error(s3_error_from(part.error(), "NoSuchUpload").with("UploadId", upload_id));
    }
    XmlWriter xml;
    xml.open("CopyPartResult", kS3Namespace)
        .element("LastModified", aws::format_iso8601_millis(part->last_modified))
        .element("ETag", quoted(part->etag));
    if (algorithm && !part->checksum_value.empty()) {
        xml.element("Checksum" + upload->metadata.checksum_algorithm, part->checksum_value);
    }
    x.reply_xml(200, xml.take());
}

void S3Service::complete_multipart(Exchange& x) {
    std::string upload_id = x.req.param("uploadId").value_or("");
    std::string body;
    if (auto error = x.read_small_body(kMaxCompleteBody, body)) {
        return x.reply_error(*error);
    }
    auto upload = store_.get_multipart(x.req.bucket, x.req.key, upload_id);
    if (!upload) {
        return x.reply_error(s3_error_from(upload.error(), "NoSuchUpload").with("UploadId", upload_id));
    }
    auto doc = XmlDocument::parse(body);
    if (!doc || doc->root().name() != "CompleteMultipartUpload") {
        return x.reply_error(s3_error("MalformedXML"));
    }
    auto listed = doc->root().children("Part");
    if (listed.empty() || listed.size() > static_cast<std::size_t>(kMaxParts)) {
        return x.reply_error(s3_error("MalformedXML"));
    }
    auto stored = store_.list_parts(x.req.bucket, x.req.key, upload_id, 0, kMaxParts);
    if (!stored) {
        return x.reply_error(s3_error_from(stored.error(), "NoSuchUpload").with("UploadId", upload_id));
    }
    std::map<int, const storage::PartInfo*> by_number;
    for (const auto& p : *stored) {
        by_number[p.number] = &p;
    }
    std::vector<storage::CompletedPart> parts;
    std::vector<std::string> part_checksums;
    int previous = 0;
    for (std::size_t i = 0; i < listed.size(); ++i) {
        auto number_node = listed[i].child("PartNumber");
        auto etag_node = listed[i].child("ETag");
        auto number = number_node ? parse_int(number_node->text()) : std::nullopt;
        if (!number || !etag_node) {
            return x.reply_error(s3_error("MalformedXML"));
        }
        if (*number <= previous) {
            return x.reply_error(s3_error("InvalidPartOrder").with("UploadId", upload_id));
        }
        previous = *number;
        auto found = by_number.find(*number);
        std::string etag = unquoted(etag_node->text());
        if (found == by_number.end() || found->second->etag != etag) {
            return x.reply_error(s3_error("InvalidPart")
                                     .with("UploadId", upload_id)
                                     .with("PartNumber", std::to_string(*number))
                                     .with("ETag", etag));
        }
        bool last = i + 1 == listed.size();
        if (!last && found->second->size < options_.min_part_bytes) {
            return x.reply_error(s3_error("EntityTooSmall")
                                     .with("UploadId", upload_id)
                                     .with("PartNumber", std::to_string(*number))
                                     .with("ProposedSize", std::to_string(found->second->size))
                                     .with("MinSizeAllowed", std::to_string(options_.min_part_bytes)));
        }
        parts.push_back({*number, etag});
        part_checksums.push_back(found->second->checksum_value);
    }

    // The object's checksum: composite over the parts' checksums (each part must have one), or
    // for a full-object CRC, the CRC of the whole object computed from the stored bytes.
    std::string checksum_value;
    const auto& algorithm_name = upload->metadata.checksum_algorithm;
    std::optional<crypto::ChecksumAlgorithm> algorithm;
    if (!algorithm_name.empty()) {
        algorithm = crypto::parse_checksum_algorithm(algorithm_name);
    }
    if (algorithm) {
        for (const auto& c : part_checksums) {
            if (c.empty()) {
                return x.reply_error(s3_error("InvalidRequest",
                                              "The upload was created using a " + algorithm_name +
                                                  " checksum. The complete request must include the "
                                                  "checksum for each part."));
            }
        }
        // Composite: a checksum of the parts' checksums. Full object (CRC family): the parts'
        // CRCs combined arithmetically, so the object is never read again.
        Result<std::string> combined = std::string();
        if (upload->metadata.checksum_type == "COMPOSITE") {
            combined = crypto::composite_checksum(*algorithm, part_checksums);
        } else {
            std::vector<crypto::PartChecksum> with_sizes;
            for (std::size_t i = 0; i < parts.size(); ++i) {
                with_sizes.push_back({part_checksums[i], by_number[parts[i].number]->size});
            }
            combined = crypto::full_object_checksum(*algorithm, with_sizes);
        }
        if (!combined) {
            return x.reply_error(s3_error("InvalidRequest", combined.error().message));
        }
        checksum_value = *combined;
    }

    storage::PutConditions conditions;
    if (auto none = x.req.header("if-none-match"); none && *none == "*") {
        conditions.if_none_match_any = true;
    }
    if (auto match = x.req.header("if-match")) {
        conditions.if_match = unquoted(*match);
    }
    auto before_commit = [&](const storage::BodyDigest&, storage::ObjectMetadata& m) -> Result<void> {
        if (algorithm) {
            m.checksum_value = checksum_value;
        }
        return {};
    };
    // Objects assembled from UploadPartCopy parts are CompleteMultipartUpload events as well.
    auto info = store_.complete_multipart(
        x.req.bucket, x.req.key, upload_id, parts, conditions, before_commit,
        change_cause(x.req, x.auth.principal, "ObjectCreated:CompleteMultipartUpload",
                     x.common_headers));
    if (!info) {
        if (info.error().code == ErrorCode::PreconditionFailed && !conditions.if_match &&
            !conditions.if_none_match_any) {
            return x.reply_error(s3_error("InvalidPart").with("UploadId", upload_id));
        }
        return x.reply_error(s3_error_from(info.error(), "NoSuchUpload").with("UploadId", upload_id));
    }
    XmlWriter xml;
    xml.open("CompleteMultipartUploadResult", kS3Namespace)
        .element("Location", "/" + x.req.bucket + "/" + x.req.key)
        .element("Bucket", x.req.bucket)
        .element("Key", x.req.key)
        .element("ETag", quoted(info->etag));
    if (algorithm && !checksum_value.empty()) {
        xml.element("Checksum" + algorithm_name, checksum_value);
        xml.element("ChecksumType", upload->metadata.checksum_type);
    }
    x.reply_xml(200, xml.take());
}

void S3Service::abort_multipart(Exchange& x) {
    std::string upload_id = x.req.param("uploadId").value_or("");
    auto aborted = store_.abort_multipart(x.req.bucket, x.req.key, upload_id);
    if (!aborted) {
        return x.reply_error(s3_error_from(aborted.error(), "NoSuchUpload").with("UploadId", upload_id));
    }
    x.reply_empty(204);
}

void S3Service::list_parts(Exchange& x) {
    std::string upload_id = x.req.param("uploadId").value_or("");
    auto upload = store_.get_multipart(x.req.bucket, x.req.key, upload_id);
    if (!upload) {
        return x.reply_error(s3_error_from(upload.error(), "NoSuchUpload").with("UploadId", upload_id));
    }
    int marker = 0;
    if (auto m = x.req.param("part-number-marker")) {
        marker = parse_int(*m).value_or(0);
    }
    std::size_t max_parts = 1000;
    if (auto m = x.req.param("max-parts")) {
        auto v = parse_int(*m);
        if (!v || *v < 0) {
            return x.reply_error(s3_error("InvalidArgument", "max-parts must be an integer between 0 and 2147483647")
                                     .with("ArgumentName", "max-parts"));
        }
        max_parts = std::min<std::size_t>(static_cast<std::size_t>(*v), 1000);
    }
    auto parts = store_.list_parts(x.req.bucket, x.req.key, upload_id, marker, max_parts + 1);
    if (!parts) {
        return x.reply_error(s3_error_from(parts.error(), "NoSuchUpload").with("UploadId", upload_id));
    }
    bool truncated = parts->size() > max_parts;
    if (truncated) {
        parts->resize(max_parts);
    }
    XmlWriter xml;
    xml.open("ListPartsResult", kS3Namespace)
        .element("Bucket", x.req.bucket)
        .element("Key", x.req.key)
        .element("UploadId", upload_id);
    owner(xml, "Initiator");
    owner(xml, "Owner");
    xml.element("StorageClass", "STANDARD")
        .element("PartNumberMarker", static_cast<std::uint64_t>(marker))
        .element("NextPartNumberMarker",
                 static_cast<std::uint64_t>(parts->empty() ? marker : parts->back().number))
        .element("MaxParts", static_cast<std::uint64_t>(max_parts))
        .element("IsTruncated", truncated);
    if (!upload->metadata.checksum_algorithm.empty()) {
        xml.element("ChecksumAlgorithm", upload->metadata.checksum_algorithm);
        xml.element("ChecksumType", upload->metadata.checksum_type);
    }
    for (const auto& p : *parts) {
        xml.open("Part")
            .element("PartNumber", static_cast<std::uint64_t>(p.number))
            .element("LastModified", aws::format_iso8601_millis(p.last_modified))
            .element("ETag", quoted(p.etag))
            .element("Size", p.size);
        if (!p.checksum_value.empty() && !upload->metadata.checksum_algorithm.empty()) {
            xml.element("Checksum" + upload->metadata.checksum_algorithm, p.checksum_value);
        }
        xml.close();
    }
    x.reply_xml(200, xml.take());
}

void S3Service::list_multipart_uploads(Exchange& x) {
    std::string prefix = x.req.param("prefix").value_or("");
    std::string key_marker = x.req.param("key-marker").value_or("");
    std::string id_marker = x.req.param("upload-id-marker").value_or("");
    std::size_t max_uploads = 1000;
    if (auto m = x.req.param("max-uploads")) {
        auto v = parse_int(*m);
        if (!v || *v < 0) {
            return x.reply_error(s3_error("InvalidArgument", "max-uploads must be a non-negative integer")
                                     .with("ArgumentName", "max-uploads"));
        }
        max_uploads = std::min<std::size_t>(static_cast<std::size_t>(*v), 1000);
    }
    auto uploads = store_.list_multipart_uploads(x.req.bucket, prefix, key_marker, id_marker,
                                                 max_uploads + 1);
    if (!uploads) {
        return x.reply_error(s3_error_from(uploads.error(), "NoSuchBucket").with("BucketName", x.req.bucket));
    }
    bool truncated = uploads->size() > max_uploads;
    if (truncated) {
        uploads->resize(max_uploads);
    }
    bool url_encoding = x.req.param("encoding-type") == "url";
    auto enc = [&](const std::string& s) { return url_encoding ? aws::form_encode(s) : s; };
    XmlWriter xml;
    xml.open("ListMultipartUploadsResult", kS3Namespace)
        .element("Bucket", x.req.bucket)
        .element("KeyMarker", enc(key_marker))
        .element("UploadIdMarker", id_marker)
        .element("NextKeyMarker", enc(uploads->empty() ? "" : uploads->back().key))
        .element("NextUploadIdMarker", uploads->empty() ? "" : uploads->back().upload_id)
        .element("Prefix", enc(prefix))
        .element("MaxUploads", static_cast<std::uint64_t>(max_uploads))
        .element("IsTruncated", truncated);
    if (url_encoding) {
        xml.element("EncodingType", "url");
    }
    for (const auto& u : *uploads) {
        xml.open("Upload").element("Key", enc(u.key)).element("UploadId", u.upload_id);
        owner(xml, "Initiator");
        owner(xml, "Owner");
        xml.element("StorageClass", "STANDARD")
            .element("Initiated", aws::format_iso8601_millis(u.initiated));
        if (!u.metadata.checksum_algorithm.empty()) {
            xml.element("ChecksumAlgorithm", u.metadata.checksum_algorithm);
        }
        xml.close();
    }
    x.reply_xml(200, xml.take());
}

}  // namespace pf::s3api
