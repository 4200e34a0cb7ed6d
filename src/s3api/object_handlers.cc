// Object operations: PutObject, CopyObject, GetObject / HeadObject (ranges, conditionals,
// response-* overrides, checksums, parts), DeleteObject, DeleteObjects, GetObjectAcl.
#include "aws/time_format.h"
#include "s3api/change_cause.h"
#include "s3api/conditions.h"
#include "s3api/copy_source.h"
#include "s3api/exchange.h"
#include "s3api/metadata.h"
#include "s3api/xml_reader.h"
#include "s3api/xml_writer.h"

#include <charconv>
#include <memory>

namespace pf::s3api {
namespace {

constexpr std::size_t kStreamBuffer = 256 * 1024;
constexpr std::size_t kMaxDeleteBody = 4 * 1024 * 1024;
constexpr std::size_t kMaxDeleteKeys = 1000;

char* stream_buffer() {
    // One buffer per connection thread: GETs stream without allocating per request.
    thread_local std::unique_ptr<char[]> buffer(new char[kStreamBuffer]);
    return buffer.get();
}

// Resolves a store NotFound into NoSuchBucket or NoSuchKey, as S3 reports them.
S3Error not_found(storage::ObjectStore& store, const std::string& bucket, const std::string& key) {
    if (!store.head_bucket(bucket)) {
        return s3_error("NoSuchBucket").with("BucketName", bucket);
    }
    return s3_error("NoSuchKey").with("Key", key);
}

std::optional<S3Error> put_conditions(const http::Request& request, storage::PutConditions& out) {
    if (auto none = request.header("if-none-match")) {
        if (*none != "*") {
            return s3_error("NotImplemented",
                            "If-None-Match on a write supports only '*' (create if absent).");
        }
        out.if_none_match_any = true;
    }
    if (auto match = request.header("if-match")) {
        out.if_match = unquoted(*match);
    }
    return std::nullopt;
}

HeaderPairs checksum_response_headers(const storage::ObjectMetadata& m) {
    HeaderPairs headers;
    if (!m.checksum_algorithm.empty() && !m.checksum_value.empty()) {
        if (auto alg = crypto::parse_checksum_algorithm(m.checksum_algorithm)) {
            headers.emplace_back(crypto::checksum_header(*alg), m.checksum_value);
            headers.emplace_back("x-amz-checksum-type",
                                 m.checksum_type.empty() ? "FULL_OBJECT" : m.checksum_type);
        }
    }
    return headers;
}

}  // namespace

void S3Service::put_object(Exchange& x) {
    storage::ObjectMetadata metadata;
    if (auto error = metadata_from_fields(x.req.http->headers, metadata)) {
        return x.reply_error(*error);
    }
    storage::PutConditions conditions;
    if (auto error = put_conditions(*x.req.http, conditions)) {
        return x.reply_error(*error);
    }
    auto opened = Payload::open(x.req, x.body, std::move(x.auth.payload), options_.max_object_bytes);
    if (auto* error = std::get_if<S3Error>(&opened)) {
        return x.reply_error(*error);
    }
    auto& payload = *std::get<std::unique_ptr<Payload>>(opened);
    std::optional<S3Error> commit_failure;
    auto before_commit = [&](const storage::BodyDigest& digest,
                             storage::ObjectMetadata& m) -> Result<void> {
        if (auto error = payload.check_content_md5(digest)) {
            commit_failure = *error;
            return make_error(ErrorCode::CorruptInput, "Content-MD5 mismatch");
        }
        if (payload.checksum_algorithm() && !payload.checksum_value().empty()) {
            m.checksum_algorithm = std::string(crypto::checksum_name(*payload.checksum_algorithm()));
            m.checksum_value = payload.checksum_value();
            m.checksum_type = "FULL_OBJECT";
        }
        return {};
    };
    auto info = store_.put_object(x.req.bucket, x.req.key, payload, std::move(metadata),
                                  conditions, before_commit,
                                  change_cause(x.req, x.auth.principal, "ObjectCreated:Put",
                                               x.common_headers));
    if (!info) {
        if (payload.failure()) return x.reply_error(*payload.failure());
        if (commit_failure) return x.reply_error(*commit_failure);
        if (info.error().code == ErrorCode::NotFound) {
            // With If-Match, a missing key is S3's 404 NoSuchKey; otherwise the bucket is missing.
            return x.reply_error(not_found(store_, x.req.bucket, x.req.key));
        }
        if (info.error().code == ErrorCode::PreconditionFailed) {
            return x.reply_error(s3_error("PreconditionFailed")
                                     .with("Condition", conditions.if_none_match_any
                                                            ? "If-None-Match"
                                                            : "If-Match"));
        }
        return x.reply_error(s3_error_from(info.error()));
    }
    HeaderPairs headers{{"ETag", quoted(info->etag)}};
    for (auto& h : checksum_response_headers(info->metadata)) {
        headers.push_back(std::move(h));
    }
    x.reply_empty(200, std::move(headers));
}

void S3Service::get_object(Exchange& x, bool head) {
    auto reader = store_.open_object(x.req.bucket, x.req.key);
    if (!reader) {
        if (reader.error().code == ErrorCode::NotFound) {
            return x.reply_error(not_found(store_, x.req.bucket, x.req.key));
        }
        return x.reply_error(s3_error_from(reader.error()));
    }
    const storage::ObjectInfo& info = (*reader)->info();

    HeaderPairs headers{{"ETag", quoted(info.etag)},
                        {"Last-Modified", aws::format_http_date(info.last_modified)}};
    switch (evaluate_conditions(*x.req.http, info)) {
    case ConditionOutcome::PreconditionFailed:
        return x.reply_error(s3_error("PreconditionFailed").with("Condition", "If-Match"));
    case ConditionOutcome::NotModified:
        return x.reply_empty(304, std::move(headers));
    case ConditionOutcome::Proceed: break;
    }

    int status = 200;
    ByteRange range{0, info.size};
    bool partial = false;
    if (auto part_text = x.req.param("partNumber")) {
        int part = 0;
        auto [end, ec] = std::from_chars(part_text->data(), part_text->data() + part_text->size(), part);
        std::size_t parts = info.part_sizes.empty() ? 1 : info.part_sizes.size();
        if (ec != std::errc() || end != part_text->data() + part_text->size() || part < 1 ||
            part > 10000) {
            return x.reply_error(s3_error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
                                     .with("ArgumentName", "partNumber"));
        }
        if (static_cast<std::size_t>(part) > parts) {
            return x.reply_error(s3_error("InvalidPartNumber", "The requested partnumber is not satisfiable")
                                     .with("PartNumberRequested", *part_text)
                                     .with("ActualPartCount", std::to_string(parts)));
        }
        if (!info.part_sizes.empty()) {
            std::uint64_t offset = 0;
            for (int i = 0; i + 1 < part; ++i) {
                offset += info.part_sizes[static_cast<std::size_t>(i)];
            }
            range = {offset, info.part_sizes[static_cast<std::size_t>(part - 1)]};
            partial = true;
            headers.emplace_back("x-amz-mp-parts-count", std::to_string(parts));
        }
    } else if (auto range_header = x.req.header("range")) {
        switch (parse_range(*range_header, info.size, range)) {
        case RangeOutcome::Unsatisfiable:
            return x.reply_error(s3_error("InvalidRange")
                                     .with("RangeRequested", std::string(*range_header))
                                     .with("ActualObjectSize", std::to_string(info.size)));
        case RangeOutcome::Partial: partial = true; break;
        case RangeOutcome::Whole: range = {0, info.size}; break;
        }
    }
    if (partial) {
        status = 206;
        headers.emplace_back("Content-Range",
                             "bytes " + std::to_string(range.first) + "-" +
                                 std::to_string(range.first + range.length - 1) + "/" +
                                 std::to_string(info.size));
    }
    headers.emplace_back("Accept-Ranges", "bytes");

    auto meta_headers = metadata_headers(info.metadata);
    // response-* query parameters override the stored headers (signed requests only, as on S3).
    if (!x.auth.principal.anonymous) {
        static constexpr std::pair<std::string_view, std::string_view> overrides[] = {
            {"response-content-type", "Content-Type"},
            {"response-content-language", "Content-Language"},
            {"response-expires", "Expires"},
            {"response-cache-control", "Cache-Control"},
            {"response-content-disposition", "Content-Disposition"},
            {"response-content-encoding", "Content-Encoding"}};
        for (const auto& [param, header] : overrides) {
            if (auto value = x.req.param(param)) {
                std::erase_if(meta_headers, [&](const auto& h) { return h.first == header; });
                meta_headers.emplace_back(std::string(header), *value);
            }
        }
    }
    for (auto& h : meta_headers) {
        headers.push_back(std::move(h));
    }
    // A whole-object checksum describes the whole object only: never on a partial response, or
    // the client's validation of the slice would fail.
    if (!partial && x.req.header("x-amz-checksum-mode") == "ENABLED") {
        for (auto& h : checksum_response_headers(info.metadata)) {
            headers.push_back(std::move(h));
        }
    }

    if (partial) {
        if (auto ranged = (*reader)->set_range(range.first, range.length); !ranged) {
            return x.reply_error(s3_error_from(ranged.error()));
        }
    }
    if (!x.start(status, std::move(headers), range.length)) {
        return;
    }
    if (head) {
        return;
    }
    char* buffer = stream_buffer();
    std::uint64_t sent = 0;
    while (sent < range.length) {
        auto n = (*reader)->read(std::span<char>(buffer, kStreamBuffer));
        if (!n || *n == 0) {
            x.res.close_after();  // the body is short: the client must see an error
            return;
        }
        if (!x.res.write(std::span<const char>(buffer, *n))) {
            return;  // the client went away
        }
        sent += *n;
    }
}

// ObjectRemoved:Delete is recorded only when an object was removed. A DeleteObject of a key that
// does not exist still answers 204 (as S3 does) but emits nothing: §3.2 describes the event as an
// object being deleted, and a notification for an object that never existed would only make the
// function chase it. The store records the change, and with it the event, in the transaction that
// removed the object.
void S3Service::delete_object(Exchange& x) {
    auto deleted = store_.delete_object(
        x.req.bucket, x.req.key,
        change_cause(x.req, x.auth.principal, "ObjectRemoved:Delete", x.common_headers));
    if (!deleted) {
        if (deleted.error().code == ErrorCode::NotFound) {
            return x.reply_error(s3_error("NoSuchBucket").with("BucketName", x.req.bucket));
        }
        return x.reply_error(s3_error_from(deleted.error()));
    }
    x.reply_empty(204);
}

void S3Service::delete_objects(Exchange& x) {
    std::string body;
    if (auto error = x.read_small_body(kMaxDeleteBody, body)) {
        return x.reply_error(*error);
    }
    auto doc = XmlDocument::parse(body);
    if (!doc || doc->root().name() != "Delete") {
        return x.reply_error(s3_error("MalformedXML"));
    }
    auto objects = doc->root().children("Object");
    if (objects.empty() || objects.size() > kMaxDeleteKeys) {
        return x.reply_error(s3_error("MalformedXML"));
    }
    bool quiet = false;
    if (auto q = doc->root().child("Quiet")) {
        quiet = q->text() == "true";
    }
    if (!store_.head_bucket(x.req.bucket)) {
        return x.reply_error(s3_error("NoSuchBucket").with("BucketName", x.req.bucket));
    }
    XmlWriter xml;
    xml.open("DeleteResult", kS3Namespace);
    for (const auto& object : objects) {
        auto key_node = object.child("Key");
        std::string key = key_node ? key_node->text() : "";
        auto report_error = [&](const S3Error& e) {
            xml.open("Error").element("Key", key).element("Code", e.code).element("Message", e.message).close();
        };
        if (!key_node || key.empty()) {
            return x.reply_error(s3_error("MalformedXML"));
        }
        if (auto error = validate_key(key)) {
            report_error(*error);
            continue;
        }
        // One ObjectRemoved:Delete per key removed (same rule as DeleteObject).
        auto deleted = store_.delete_object(
            x.req.bucket, key,
            change_cause(x.req, x.auth.principal, "ObjectRemoved:Delete", x.common_headers));
        if (!deleted) {
            report_error(s3_error_from(deleted.error()));
            continue;
        }
        if (!quiet) {
            xml.open("Deleted").element("Key", key).close();
        }
    }
    x.reply_xml(200, xml.take());
}

void S3Service::copy_object(Exchange& x) {
    CopySource source;
    if (auto error = parse_copy_source(*x.req.header("x-amz-copy-source"), source)) {
        return x.reply_error(*error);
    }
    auto directive = x.req.header("x-amz-metadata-directive").value_or("COPY");
    if (directive != "COPY" && directive != "REPLACE") {
        return x.reply_error(s3_error("InvalidArgument", "Unknown metadata directive.")
                                 .with("ArgumentName", "x-amz-metadata-directive")
                                 .with("ArgumentValue", std::string(directive)));
    }
    if (source.bucket == x.req.bucket && source.key == x.req.key && directive == "COPY") {
        return x.reply_error(s3_error(
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself "
            "without changing the object's metadata, storage class, website redirect location or "
            "encryption attributes."));
    }
    // The copy request carries no body, but a signed one must still be consumed and verified.
    std::string ignored;
    if (auto error = x.read_small_body(64 * 1024, ignored)) {
        return x.reply_error(*error);
    }
    auto reader = store_.open_object(source.bucket, source.key);
    if (!reader) {
        if (reader.error().code == ErrorCode::NotFound) {
            return x.reply_error(not_found(store_, source.bucket, source.key));
        }
        return x.reply_error(s3_error_from(reader.error()));
    }
    const auto& source_info = (*reader)->info();
    if (evaluate_conditions(*x.req.http, source_info, "x-amz-copy-source-") !=
        ConditionOutcome::Proceed) {
        return x.reply_error(s3_error("PreconditionFailed").with("Condition", "x-amz-copy-source-If-Match"));
    }
    if (source_info.size > options_.max_object_bytes) {
        return x.reply_error(s3_error("InvalidRequest",
                                      "The specified copy source is larger than the maximum "
                                      "allowable size for a copy source: " +
                                          std::to_string(options_.max_object_bytes)));
    }
    storage::ObjectMetadata metadata;
    if (directive == "REPLACE") {
        if (auto error = metadata_from_fields(x.req.http->headers, metadata)) {
            return x.reply_error(*error);
        }
    } else {
        metadata = source_info.metadata;
    }
    // The copy's checksum: the requested algorithm, else the source's; computed from the bytes
    // copied, so it is a whole-object value even when the source's was composite.
    std::optional<crypto::ChecksumAlgorithm> algorithm;
    if (auto requested = x.req.header("x-amz-checksum-algorithm")) {
        algorithm = crypto::parse_checksum_algorithm(*requested);
        if (!algorithm) {
            return x.reply_error(s3_error("InvalidRequest", "Checksum algorithm " + std::string(*requested) + " is not supported."));
        }
    } else if (!source_info.metadata.checksum_algorithm.empty()) {
        algorithm = crypto::parse_checksum_algorithm(source_info.metadata.checksum_algorithm);
    }
    metadata.checksum_algorithm.clear();
    metadata.checksum_value.clear();
    metadata.checksum_type.clear();
    ChecksumTap tap(**reader, algorithm);
    auto before_commit = [&](const storage::BodyDigest&, storage::ObjectMetadata& m) -> Result<void> {
        if (algorithm) {
            m.checksum_algorithm = std::string(crypto::checksum_name(*algorithm));
            m.checksum_value = tap.finish();
            m.checksum_type = "FULL_OBJECT";
        }
        return {};
    };
    storage::PutConditions conditions;
    if (auto error = put_conditions(*x.req.http, conditions)) {
        return x.reply_error(*error);
    }
    auto info = store_.put_object(x.req.bucket, x.req.key, tap, std::move(metadata), conditions,
                                  before_commit,
                                  change_cause(x.req, x.auth.principal, "ObjectCreated:Copy",
                                               x.common_headers));
    if (!info) {
        if (info.error().code == ErrorCode::NotFound) {
            return x.reply_error(s3_error("NoSuchBucket").with("BucketName", x.req.bucket));
        }
        return x.reply_error(s3_error_from(info.error()));
    }
    XmlWriter xml;
    xml.open("CopyObjectResult", kS3Namespace)
        .element("LastModified", aws::format_iso8601_millis(info->last_modified))
        .element("ETag", quoted(info->etag));
    if (!info->metadata.checksum_value.empty()) {
        std::string element = "Checksum" + info->metadata.checksum_algorithm;
        xml.element(element, info->metadata.checksum_value);
    }
    x.reply_xml(200, xml.take());
}

void S3Service::get_object_acl(Exchange& x) {
    auto info = store_.head_object(x.req.bucket, x.req.key);
    if (!info) {
        if (info.error().code == ErrorCode::NotFound) {
            return x.reply_error(not_found(store_, x.req.bucket, x.req.key));
        }
        return x.reply_error(s3_error_from(info.error()));
    }
    XmlWriter xml;
    xml.open("AccessControlPolicy", kS3Namespace);
    xml.open("Owner").element("ID", "photoflux").element("DisplayName", "photoflux").close();
    xml.open("AccessControlList").open("Grant");
    xml.open_with("Grantee", {{"xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"},
                              {"xsi:type", "CanonicalUser"}})
        .element("ID", "photoflux")
        .element("DisplayName", "photoflux")
        .close();
    xml.element("Permission", "FULL_CONTROL");
    x.reply_xml(200, xml.take());
}

}  // namespace pf::s3api
