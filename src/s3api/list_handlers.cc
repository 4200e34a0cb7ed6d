// Listings: ListObjectsV2, ListObjects (v1) and ListObjectVersions (an unversioned bucket's
// objects as "null" versions). Continuation tokens are opaque (base64 of where to resume).
// encoding-type=url form-encodes keys and prefixes, which botocore always asks for.
#include "aws/time_format.h"
#include "aws/uri_encoding.h"
#include "crypto/encoding.h"
#include "s3api/exchange.h"
#include "s3api/xml_writer.h"

#include <charconv>

namespace pf::s3api {
namespace {

std::optional<S3Error> parse_max(const S3Request& req, std::string_view name, std::size_t& out) {
    auto text = req.param(name);
    if (!text) {
        return std::nullopt;
    }
    long long v = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (ec != std::errc() || end != text->data() + text->size() || v < 0) {
        return s3_error("InvalidArgument", "Provided " + std::string(name) + " not an integer or within integer range")
            .with("ArgumentName", std::string(name))
            .with("ArgumentValue", *text);
    }
    out = static_cast<std::size_t>(std::min<long long>(v, 1000));
    return std::nullopt;
}

// What every listing takes: prefix, delimiter, max-keys and encoding-type (only "url" exists).
std::optional<S3Error> parse_listing(const S3Request& req, storage::ListQuery& query,
                                     bool& url_encoding) {
    query.prefix = req.param("prefix").value_or("");
    query.delimiter = req.param("delimiter").value_or("");
    if (auto error = parse_max(req, "max-keys", query.max_keys)) {
        return error;
    }
    if (auto encoding = req.param("encoding-type")) {
        if (*encoding != "url") {
            return s3_error("InvalidArgument", "Invalid Encoding Method specified in Request")
                .with("ArgumentName", "encoding-type");
        }
        url_encoding = true;
    }
    return std::nullopt;
}

}  // namespace

void S3Service::list_objects(Exchange& x, int version) {
    const auto& req = x.req;
    storage::ListQuery query;
    bool url_encoding = false;
    if (auto error = parse_listing(req, query, url_encoding)) {
        return x.reply_error(*error);
    }
    auto token = req.param("continuation-token");
    auto start_after = req.param("start-after");
    auto marker = req.param("marker");
    if (version == 2) {
        if (token) {
            auto decoded = crypto::base64_decode(*token);
            if (!decoded || decoded->empty()) {
                return x.reply_error(s3_error("InvalidArgument", "The continuation token provided is incorrect")
                                         .with("ArgumentName", "continuation-token"));
            }
            query.start_after = *decoded;
        } else if (start_after) {
            query.start_after = *start_after;
        }
    } else if (marker) {
        query.start_after = *marker;
    }

    auto page = store_.list_objects(req.bucket, query);
    if (!page) {
        return x.reply_error(s3_error_from(page.error(), "NoSuchBucket").with("BucketName", req.bucket));
    }
    auto enc = [&](const std::string& s) { return url_encoding ? aws::form_encode(s) : s; };

    XmlWriter xml;
    xml.open("ListBucketResult", kS3Namespace);
    xml.element("Name", req.bucket);
    xml.element("Prefix", enc(query.prefix));
    if (version == 2) {
        if (token) xml.element("ContinuationToken", *token);
        if (start_after) xml.element("StartAfter", enc(*start_after));
        xml.element("KeyCount", static_cast<std::uint64_t>(page->objects.size() + page->common_prefixes.size()));
    } else {
        xml.element("Marker", enc(marker.value_or("")));
    }
    xml.element("MaxKeys", static_cast<std::uint64_t>(query.max_keys));
    if (!query.delimiter.empty()) {
        xml.element("Delimiter", enc(query.delimiter));
    }
    if (url_encoding) {
        xml.element("EncodingType", "url");
    }
    xml.element("IsTruncated", page->truncated);
    if (page->truncated) {
        if (version == 2) {
            xml.element("NextContinuationToken", crypto::base64_encode(page->resume_after));
        } else if (!query.delimiter.empty()) {
            xml.element("NextMarker", enc(page->resume_after));
        }
    }
    bool fetch_owner = version == 1 || req.param("fetch-owner") == "true";
    for (const auto& object : page->objects) {
        xml.open("Contents")
            .element("Key", enc(object.key))
            .element("LastModified", aws::format_iso8601_millis(object.last_modified))
            .element("ETag", quoted(object.etag))
            .element("Size", object.size)
            .element("StorageClass", "STANDARD");
        if (!object.checksum_algorithm.empty()) {
            xml.element("ChecksumAlgorithm", object.checksum_algorithm);
        }
        if (fetch_owner) {
            xml.open("Owner").element("ID", "photoflux").element("DisplayName", "photoflux").close();
        }
        xml.close();
    }
    for (const auto& prefix : page->common_prefixes) {
        xml.open("CommonPrefixes").element("Prefix", enc(prefix)).close();
    }
    x.reply_xml(200, xml.take());
}

void S3Service::list_object_versions(Exchange& x) {
    const auto& req = x.req;
    storage::ListQuery query;
    bool url_encoding = false;
    if (auto error = parse_listing(req, query, url_encoding)) {
        return x.reply_error(*error);
    }
    auto key_marker = req.param("key-marker");
    if (key_marker) {
        query.start_after = *key_marker;
    }
    auto page = store_.list_objects(req.bucket, query);
    if (!page) {
        return x.reply_error(s3_error_from(page.error(), "NoSuchBucket").with("BucketName", req.bucket));
    }
    auto enc = [&](const std::string& s) { return url_encoding ? aws::form_encode(s) : s; };
    XmlWriter xml;
    xml.open("ListVersionsResult", kS3Namespace);
    xml.element("Name", req.bucket);
    xml.element("Prefix", enc(query.prefix));
    xml.element("KeyMarker", enc(key_marker.value_or("")));
    xml.element("VersionIdMarker", req.param("version-id-marker").value_or(""));
    xml.element("MaxKeys", static_cast<std::uint64_t>(query.max_keys));
    if (!query.delimiter.empty()) {
        xml.element("Delimiter", enc(query.delimiter));
    }
    if (url_encoding) {
        xml.element("EncodingType", "url");
    }
    xml.element("IsTruncated", page->truncated);
    if (page->truncated) {
        xml.element("NextKeyMarker", enc(page->resume_after));
        xml.element("NextVersionIdMarker", "null");
    }
    for (const auto& object : page->objects) {
        xml.open("Version")
            .element("Key", enc(object.key))
            .element("VersionId", "null")
            .element("IsLatest", true)
            .element("LastModified", aws::format_iso8601_millis(object.last_modified))
            .element("ETag", quoted(object.etag))
            .element("Size", object.size)
            .element("StorageClass", "STANDARD");
        xml.open("Owner").element("ID", "photoflux").element("DisplayName", "photoflux").close();
        xml.close();
    }
    for (const auto& prefix : page->common_prefixes) {
        xml.open("CommonPrefixes").element("Prefix", enc(prefix)).close();
    }
    x.reply_xml(200, xml.take());
}

}  // namespace pf::s3api
