#include "s3api/s3_service.h"

#include "s3api/operation_name.h"

#include "aws/time_format.h"
#include "base/logging.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "crypto/random.h"
#include "s3api/exchange.h"
#include "s3api/xml_writer.h"

#include <algorithm>
#include <cstdio>

namespace pf::s3api {
namespace {

std::shared_ptr<spdlog::logger> logger() {
    static auto log = component_logger("s3api");
    return log;
}

bool is_form_post(const http::Request& request) {
    auto type = request.header("content-type");
    return type && type->starts_with("multipart/form-data");
}

// Sub-resources S3 has that Photoflux does not implement: answered clearly instead of being
// mistaken for a plain GET/PUT of the bucket or object.
constexpr std::string_view kUnsupportedBucketResources[] = {
    "policy", "lifecycle", "tagging", "encryption", "website", "logging", "replication",
    "object-lock", "ownershipControls", "publicAccessBlock", "accelerate", "requestPayment",
    "analytics", "metrics", "inventory", "intelligent-tiering", "cors"};

}  // namespace

S3Service::S3Service(storage::ObjectStore& store, const CredentialStore& credentials,
                     S3Options options)
    : store_(store), authenticator_(credentials, options.auth), options_(std::move(options)) {
    // Request ids: a random per-process prefix and a counter, unique without a syscall per
    // request.
    id_prefix_ = crypto::random_hex(4);
    for (auto& c : id_prefix_) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
}

std::string S3Service::next_request_id() {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%08llX",
                  static_cast<unsigned long long>(id_counter_.fetch_add(1) & 0xFFFFFFFFull));
    return id_prefix_ + buf;
}

void S3Service::Exchange::reply_error(const S3Error& error) {
    if (res.started()) {
        // Mid-body: the status is gone; closing tells the client the body is incomplete.
        res.close_after();
        return;
    }
    HeaderPairs headers;
    if (is_head) {
        (void)start(error.status, std::move(headers), 0);
        return;
    }
    std::string body_text = error_document(error, req.resource(), req.request_id, req.request_id);
    headers.emplace_back("Content-Type", "application/xml");
    if (error.status == 416) {
        for (const auto& [name, value] : error.details) {
            if (name == "ActualObjectSize") {
                headers.emplace_back("Content-Range", "bytes */" + value);
            }
        }
    }
    if (start(error.status, std::move(headers), body_text.size())) {
        (void)res.write(body_text);
    }
}

void S3Service::Exchange::reply_xml(int status, std::string xml, HeaderPairs headers) {
    headers.emplace_back("Content-Type", "application/xml");
    if (start(status, std::move(headers), xml.size())) {
        (void)res.write(xml);
    }
}

void S3Service::Exchange::reply_empty(int status, HeaderPairs headers) {
    (void)start(status, std::move(headers), 0);
}

Result<void> S3Service::Exchange::start(int status, HeaderPairs headers,
                                        std::optional<std::uint64_t> length) {
    for (const auto& h : common_headers) {
        headers.push_back(h);
    }
    return res.start(status, std::move(headers), length);
}

std::optional<S3Error> S3Service::Exchange::read_small_body(std::size_t max_bytes,
                                                            std::string& out) {
    auto opened = Payload::open(req, body, auth.payload, max_bytes);
    if (auto* error = std::get_if<S3Error>(&opened)) {
        if (error->code == "EntityTooLarge") {
            return s3_error("MaxMessageLengthExceeded");
        }
        return *error;
    }
    auto& payload = *std::get<std::unique_ptr<Payload>>(opened);
    char buf[16384];
    while (true) {
        auto n = payload.read(buf);
        if (!n) {
            if (payload.failure() && payload.failure()->code == "EntityTooLarge") {
                return s3_error("MaxMessageLengthExceeded");
            }
            return payload.failure() ? *payload.failure() : s3_error("IncompleteBody");
        }
        if (*n == 0) {
            break;
        }
        out.append(buf, *n);
    }
    if (!payload.has_content_md5()) {
        return std::nullopt;
    }
    storage::BodyDigest digest{out.size(), crypto::hex_encode(crypto::md5(out))};
    return payload.check_content_md5(digest);
}

bool S3Service::is_public_read(const std::string& bucket) {
    if (options_.public_read_buckets.contains(bucket)) {
        return true;
    }
    auto acl = store_.get_bucket_config(bucket, "acl");
    return acl && *acl && **acl == "public-read";
}

void S3Service::handle(const http::Request& request, http::RequestBody& body,
                       http::Response& response, std::string_view* operation) {
    Exchange x(body, response);
    x.req.request_id = next_request_id();
    x.is_head = request.method == "HEAD";
    x.common_headers = {{"x-amz-request-id", x.req.request_id},
                        {"x-amz-id-2", x.req.request_id},
                        {"Server", "Photoflux"}};
    auto origin = request.header("origin");
    if (origin) {
        for (auto& h : response_cors_headers(options_.cors, *origin)) {
            x.common_headers.push_back(std::move(h));
        }
    }
    if (operation) *operation = "Invalid";
    if (auto error = parse_s3_request(request, options_.addressing, x.req)) {
        x.req.http = &request;
        x.reply_error(*error);
        return;
    }
    if (operation) *operation = operation_name(x.req);
    if (request.method == "OPTIONS") {
        auto headers = preflight_headers(
            options_.cors, origin.value_or(""),
            request.header("access-control-request-method").value_or(""),
            request.header("access-control-request-headers").value_or(""));
        if (!headers) {
            x.reply_error(s3_error("CORSResponse").with("Method", std::string(request.header("access-control-request-method").value_or(""))));
            return;
        }
        x.common_headers = {{"x-amz-request-id", x.req.request_id}, {"Server", "Photoflux"}};
        x.reply_empty(200, std::move(*headers));
        return;
    }
    dispatch(x);
    logger()->debug("s3 request_id={} method={} bucket={} status_sent={}", x.req.request_id,
                    request.method, x.req.bucket, response.started());
}

void S3Service::dispatch(Exchange& x) {
    const auto& method = x.req.http->method;
    const auto& req = x.req;

    // Browser form uploads authenticate with their policy, not with a signed request.
    if (method == "POST" && !req.bucket.empty() && req.key.empty() && !req.has("delete") &&
        is_form_post(*req.http)) {
        post_object(x);
        return;
    }

    auto auth = authenticator_.authenticate(req);
    if (auto* error = std::get_if<S3Error>(&auth)) {
        x.reply_error(*error);
        return;
    }
    x.auth = std::move(std::get<AuthResult>(auth));

    if (!req.bucket.empty()) {
        if (auto error = validate_bucket_name(req.bucket)) {
            x.reply_error(*error);
            return;
        }
    }
    if (!req.key.empty()) {
        if (auto error = validate_key(req.key)) {
            x.reply_error(*error);
            return;
        }
    }

    if (x.auth.principal.anonymous) {
        // Anonymous callers may only read objects and listings of public-read buckets.
        bool read_only = method == "GET" || method == "HEAD";
        bool allowed_resource =
            !req.bucket.empty() && !req.has("acl") && !req.has("notification") &&
            !req.has("uploads") && !req.has("uploadId") && !req.has("versioning");
        if (!(read_only && allowed_resource && is_public_read(req.bucket))) {
            x.reply_error(s3_error("AccessDenied"));
            return;
        }
    }

    if (req.bucket.empty()) {
        if (method == "GET") {
            list_buckets(x);
        } else {
            x.reply_error(s3_error("MethodNotAllowed").with("Method", method).with("ResourceType", "SERVICE"));
        }
        return;
    }

    if (req.key.empty()) {
        for (auto resource : kUnsupportedBucketResources) {
            if (req.has(resource)) {
                if (method == "GET" && resource == "cors") {
                    x.reply_error(s3_error("NoSuchCORSConfiguration"));
                } else {
                    x.reply_error(s3_error("NotImplemented",
                                           "The bucket sub-resource '" + std::string(resource) +
                                               "' is not implemented by Photoflux."));
                }
                return;
            }
        }
        if (method == "GET") {
            if (req.has("location")) return get_bucket_location(x);
            if (req.has("notification")) return get_bucket_notification(x);
            if (req.has("acl")) return get_bucket_acl(x);
            if (req.has("versioning")) return get_bucket_versioning(x);
            if (req.has("uploads")) return list_multipart_uploads(x);
            if (req.has("versions")) return list_object_versions(x);
            return list_objects(x, req.param("list-type") == "2" ? 2 : 1);
        }
        if (method == "PUT") {
            if (req.has("notification")) return put_bucket_notification(x);
            if (req.has("acl")) return put_bucket_acl(x);
            if (req.has("versioning")) {
                return x.reply_error(s3_error("NotImplemented",
                                              "Versioning is not implemented by Photoflux; "
                                              "buckets are unversioned."));
            }
            return create_bucket(x);
        }
        if (method == "HEAD") return head_bucket(x);
        if (method == "DELETE") return delete_bucket(x);
        if (method == "POST" && req.has("delete")) return delete_objects(x);
        return x.reply_error(s3_error("MethodNotAllowed").with("Method", method).with("ResourceType", "BUCKET"));
    }

    bool copy = req.http->header("x-amz-copy-source").has_value();
    if (method == "PUT") {
        if (req.has("uploadId") || req.has("partNumber")) {
            return copy ? upload_part_copy(x) : upload_part(x);
        }
        if (req.has("tagging") || req.has("retention") || req.has("legal-hold")) {
            return x.reply_error(s3_error("NotImplemented", "Object tagging, retention and legal "
                                                            "hold are not implemented by Photoflux."));
        }
        if (req.has("acl")) {
            // Objects inherit their bucket's access; an object ACL is accepted and not stored.
            return x.reply_empty(200);
        }
        return copy ? copy_object(x) : put_object(x);
    }
    if (method == "GET" || method == "HEAD") {
        if (req.has("uploadId")) return list_parts(x);
        if (req.has("acl")) return get_object_acl(x);
        if (req.has("tagging")) {
            XmlWriter xml;
            xml.open("Tagging", kS3Namespace).open("TagSet");
            return x.reply_xml(200, xml.take());
        }
        return get_object(x, method == "HEAD");
    }
    if (method == "DELETE") {
        if (req.has("uploadId")) return abort_multipart(x);
        return delete_object(x);
    }
    if (method == "POST") {
        if (req.has("uploads")) return create_multipart(x);
        if (req.has("uploadId")) return complete_multipart(x);
        return x.reply_error(s3_error("NotImplemented", "This POST operation is not implemented by Photoflux."));
    }
    x.reply_error(s3_error("MethodNotAllowed").with("Method", method).with("ResourceType", "OBJECT"));
}

}  // namespace pf::s3api
