// Service and bucket operations: ListBuckets, Create/Head/Delete bucket, location, ACL (public-read
// or private), versioning status, and the notification configuration (validated by events/ and
// stored in its canonical form; the store's outbox acts on it).
#include "aws/time_format.h"
#include "base/ascii.h"
#include "crypto/encoding.h"
#include "events/notification_config.h"
#include "s3api/exchange.h"
#include "s3api/xml_reader.h"
#include "s3api/xml_writer.h"

#include <algorithm>
#include <charconv>

namespace pf::s3api {
namespace {

constexpr std::size_t kMaxConfigBody = 256 * 1024;
constexpr std::string_view kOwnerId = "photoflux";

void owner(XmlWriter& xml) {
    xml.open("Owner").element("ID", kOwnerId).element("DisplayName", kOwnerId).close();
}

std::optional<S3Error> bucket_missing(storage::ObjectStore& store, const std::string& bucket) {
    auto info = store.head_bucket(bucket);
    if (!info) {
        return s3_error_from(info.error(), "NoSuchBucket").with("BucketName", bucket);
    }
    return std::nullopt;
}

}  // namespace

void S3Service::list_buckets(Exchange& x) {
    auto buckets = store_.list_buckets();
    if (!buckets) {
        return x.reply_error(s3_error_from(buckets.error()));
    }
    std::string prefix = x.req.param("prefix").value_or("");
    std::string after;
    if (auto token = x.req.param("continuation-token")) {
        auto decoded = crypto::base64_decode(*token);
        if (!decoded) {
            return x.reply_error(s3_error("InvalidArgument", "The continuation token is not valid.")
                                     .with("ArgumentName", "continuation-token"));
        }
        after = *decoded;
    }
    std::size_t max = 10000;
    if (auto text = x.req.param("max-buckets")) {
        std::size_t v = 0;
        auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
        if (ec != std::errc() || end != text->data() + text->size() || v < 1 || v > 10000) {
            return x.reply_error(s3_error("InvalidArgument", "max-buckets must be between 1 and 10000")
                                     .with("ArgumentName", "max-buckets"));
        }
        max = v;
    }
    XmlWriter xml;
    xml.open("ListAllMyBucketsResult", kS3Namespace);
    owner(xml);
    xml.open("Buckets");
    std::size_t count = 0;
    std::string last;
    bool more = false;
    for (const auto& b : *buckets) {
        if (!b.name.starts_with(prefix) || (!after.empty() && b.name <= after)) {
            continue;
        }
        if (count == max) {
            more = true;
            break;
        }
        xml.open("Bucket")
            .element("Name", b.name)
            .element("CreationDate", aws::format_iso8601_millis(b.created))
            .element("BucketRegion", b.region.empty() ? options_.region : b.region)
            .close();
        last = b.name;
        ++count;
    }
    xml.close();
    // The paginator treats ContinuationToken as the next page's token: only when more remain.
    if (more) {
        xml.element("ContinuationToken", crypto::base64_encode(last));
    }
    if (!prefix.empty()) {
        xml.element("Prefix", prefix);
    }
    x.reply_xml(200, xml.take());
}

void S3Service::create_bucket(Exchange& x) {
    std::string body;
    if (auto error = x.read_small_body(kMaxConfigBody, body)) {
        return x.reply_error(*error);
    }
    std::string region = options_.region;
    if (!body.empty()) {
        auto doc = XmlDocument::parse(body);
        if (!doc) {
            return x.reply_error(s3_error("MalformedXML"));
        }
        if (auto lc = doc->root().child("LocationConstraint")) {
            if (!lc->text().empty()) {
                region = lc->text();
            }
        }
    }
    auto acl = x.req.header("x-amz-acl").value_or("private");
    if (acl != "private" && acl != "public-read") {
        return x.reply_error(s3_error("NotImplemented",
                                      "Only the canned ACLs private and public-read are supported."));
    }
    auto created = store_.create_bucket(x.req.bucket, region);
    if (!created) {
        if (created.error().code == ErrorCode::AlreadyExists) {
            // S3 keeps its legacy answer in us-east-1: re-creating your own bucket succeeds.
            if (region == "us-east-1") {
                return x.reply_empty(200, {{"Location", "/" + x.req.bucket}});
            }
            return x.reply_error(s3_error("BucketAlreadyOwnedByYou").with("BucketName", x.req.bucket));
        }
        return x.reply_error(s3_error_from(created.error(), "NoSuchBucket"));
    }
    if (acl == "public-read") {
        if (auto stored = store_.put_bucket_config(x.req.bucket, "acl", "public-read"); !stored) {
            return x.reply_error(s3_error_from(stored.error()));
        }
    }
    x.reply_empty(200, {{"Location", "/" + x.req.bucket}});
}

void S3Service::head_bucket(Exchange& x) {
    auto info = store_.head_bucket(x.req.bucket);
    if (!info) {
        return x.reply_error(s3_error_from(info.error(), "NoSuchBucket"));
    }
    x.reply_empty(200, {{"x-amz-bucket-region", info->region.empty() ? options_.region : info->region}});
}

void S3Service::delete_bucket(Exchange& x) {
    auto deleted = store_.delete_bucket(x.req.bucket);
    if (!deleted) {
        if (deleted.error().code == ErrorCode::PreconditionFailed) {
            return x.reply_error(s3_error("BucketNotEmpty").with("BucketName", x.req.bucket));
        }
        return x.reply_error(s3_error_from(deleted.error(), "NoSuchBucket").with("BucketName", x.req.bucket));
    }
    x.reply_empty(204);
}

void S3Service::get_bucket_location(Exchange& x) {
    auto info = store_.head_bucket(x.req.bucket);
    if (!info) {
        return x.reply_error(s3_error_from(info.error(), "NoSuchBucket").with("BucketName", x.req.bucket));
    }
    std::string region = info->region.empty() ? options_.region : info->region;
    // us-east-1 is reported as an empty constraint, as S3 does.
    std::string element = region == "us-east-1"
                              ? "<LocationConstraint xmlns=\"" + std::string(kS3Namespace) + "\"/>"
                              : "<LocationConstraint xmlns=\"" + std::string(kS3Namespace) + "\">" +
                                    region + "</LocationConstraint>";
    x.reply_xml(200, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + element);
}

void S3Service::put_bucket_notification(Exchange& x) {
    if (auto missing = bucket_missing(store_, x.req.bucket)) {
        return x.reply_error(*missing);
    }
    std::string body;
    if (auto error = x.read_small_body(events::kMaxDocumentBytes, body)) {
        return x.reply_error(*error);
    }
    events::ParseOptions parse_options;
    if (!ascii_iequals(x.req.header("x-amz-skip-destination-validation").value_or(""), "true")) {
        parse_options.check_destination = options_.check_destination;
    }
    events::ErrorArguments arguments;
    auto config = events::parse_notification_configuration(body, parse_options, &arguments);
    if (!config) {
        const Error& e = config.error();
        S3Error error = e.code == ErrorCode::CorruptInput ? s3_error("MalformedXML")
                        : e.code == ErrorCode::TooLarge   ? s3_error("MaxMessageLengthExceeded")
                                                          : s3_error("InvalidArgument", e.client_message());
        for (auto& [name, value] : arguments) {
            error.with(std::move(name), std::move(value));
        }
        return x.reply_error(error);
    }
    // Stored canonical (generated Ids included), so GET returns exactly what events use. An
    // empty configuration turns notifications off: nothing is kept.
    if (config->rules.empty() && !config->event_bridge) {
        if (auto removed = store_.delete_bucket_config(x.req.bucket, "notification"); !removed) {
            return x.reply_error(s3_error_from(removed.error(), "NoSuchBucket").with("BucketName", x.req.bucket));
        }
        return x.reply_empty(200);
    }
    if (auto stored = store_.put_bucket_config(x.req.bucket, "notification", events::to_xml(*config));
        !stored) {
        return x.reply_error(s3_error_from(stored.error(), "NoSuchBucket").with("BucketName", x.req.bucket));
    }
    if (options_.notification_configured) {
        options_.notification_configured(x.req.bucket, *config, x.req.request_id);
    }
    x.reply_empty(200);
}

void S3Service::get_bucket_notification(Exchange& x) {
    auto config = store_.get_bucket_config(x.req.bucket, "notification");
    if (!config) {
        return x.reply_error(s3_error_from(config.error(), "NoSuchBucket").with("BucketName", x.req.bucket));
    }
    if (!*config) {
        if (auto missing = bucket_missing(store_, x.req.bucket)) {
            return x.reply_error(*missing);
        }
        return x.reply_xml(200, events::to_xml({}));
    }
    x.reply_xml(200, **config);
}

void S3Service::put_bucket_acl(Exchange& x) {
    if (auto missing = bucket_missing(store_, x.req.bucket)) {
        return x.reply_error(*missing);
    }
    std::string body;
    if (auto error = x.read_small_body(kMaxConfigBody, body)) {
        return x.reply_error(*error);
    }
    auto acl = x.req.header("x-amz-acl");
    if (!acl || (*acl != "private" && *acl != "public-read")) {
        return x.reply_error(s3_error("NotImplemented",
                                      "Set a bucket's access with the x-amz-acl header: private or "
                                      "public-read."));
    }
    if (auto stored = store_.put_bucket_config(x.req.bucket, "acl", std::string(*acl)); !stored) {
        return x.reply_error(s3_error_from(stored.error()));
    }
    x.reply_empty(200);
}

void S3Service::get_bucket_acl(Exchange& x) {
    if (auto missing = bucket_missing(store_, x.req.bucket)) {
        return x.reply_error(*missing);
    }
    bool public_read = is_public_read(x.req.bucket);
    XmlWriter xml;
    xml.open("AccessControlPolicy", kS3Namespace);
    owner(xml);
    xml.open("AccessControlList");
    constexpr std::string_view xsi = "http://www.w3.org/2001/XMLSchema-instance";
    xml.open("Grant");
    xml.open_with("Grantee", {{"xmlns:xsi", xsi}, {"xsi:type", "CanonicalUser"}})
        .element("ID", kOwnerId)
        .element("DisplayName", kOwnerId)
        .close();
    xml.element("Permission", "FULL_CONTROL").close();
    if (public_read) {
        xml.open("Grant");
        xml.open_with("Grantee", {{"xmlns:xsi", xsi}, {"xsi:type", "Group"}})
            .element("URI", "http://acs.amazonaws.com/groups/global/AllUsers")
            .close();
        xml.element("Permission", "READ").close();
    }
    x.reply_xml(200, xml.take());
}

void S3Service::get_bucket_versioning(Exchange& x) {
    if (auto missing = bucket_missing(store_, x.req.bucket)) {
        return x.reply_error(*missing);
    }
    XmlWriter xml;
    xml.open("VersioningConfiguration", kS3Namespace);
    x.reply_xml(200, xml.take());
}

}  // namespace pf::s3api
