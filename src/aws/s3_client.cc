#include "aws/s3_client.h"

#include "aws/endpoint_url.h"
#include "aws/request_executor.h"
#include "aws/response_xml.h"
#include "base/ascii.h"

#include <algorithm>
#include <charconv>

namespace pf::aws {
namespace {

constexpr std::uint64_t kMinPartSize = 5ull << 20;  // S3 rejects smaller non-last parts
constexpr std::uint64_t kMaxPartSize = 5ull << 30;
constexpr std::uint64_t kMaxParts = 10'000;
constexpr std::size_t kMaxKeyBytes = 1024;
constexpr std::size_t kMaxMetadataBytes = 2048;  // S3's limit on names + values

std::optional<ServiceError> read_s3_error(std::string_view body) {
    auto doc = XmlResponse::parse(body);
    if (!doc || doc->root().name() != "Error") {
        return std::nullopt;
    }
    const XmlElement root = doc->root();
    return ServiceError{root.child_text("Code"), root.child_text("Message"),
                        root.child_text("RequestId")};
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

bool is_control(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
}

Result<void> check_bucket(const std::string& bucket) {
    if (bucket.empty() || bucket.size() > 255 ||
        std::any_of(bucket.begin(), bucket.end(), [](char c) {
            return is_control(c) || c == '/' || c == ' ' || c == '?' || c == '#' || c == '%';
        })) {
        return make_error(ErrorCode::InvalidArgument,
                          "invalid bucket name \"" + bucket.substr(0, 64) + "\"");
    }
    return {};
}

// Bucket names usable as a DNS label in front of the endpoint's host.
bool dns_compatible(const std::string& bucket) {
    if (bucket.size() < 3 || bucket.size() > 63 || bucket.find("..") != std::string::npos) {
        return false;
    }
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    return alnum(bucket.front()) && alnum(bucket.back()) &&
           std::all_of(bucket.begin(), bucket.end(),
                       [&](char c) { return alnum(c) || c == '-' || c == '.'; });
}

bool is_token_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

Result<HeaderList> object_headers(const S3PutRequest& request) {
    HeaderList headers;
    if (!request.content_type.empty()) {
        headers.emplace_back("content-type", request.content_type);
    }
    if (!request.cache_control.empty()) {
        headers.emplace_back("cache-control", request.cache_control);
    }
    std::size_t metadata_bytes = 0;
    for (const auto& [name, value] : request.metadata) {
        if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) {
            return make_error(ErrorCode::InvalidArgument,
                              "metadata name \"" + name.substr(0, 64) +
                                  "\" is not an HTTP token");
        }
        if (std::any_of(value.begin(), value.end(), [](char c) { return is_control(c) && c != '\t'; })) {
            return make_error(ErrorCode::InvalidArgument,
                              "metadata \"" + name + "\" has a control character in its value");
        }
        metadata_bytes += name.size() + value.size();
        headers.emplace_back("x-amz-meta-" + ascii_lowercase(name), value);
    }
    if (metadata_bytes > kMaxMetadataBytes) {
        return make_error(ErrorCode::InvalidArgument,
                          "user metadata is " + std::to_string(metadata_bytes) +
                              " bytes; S3 allows 2048 (names and values together)");
    }
    for (const auto& [name, value] : headers) {
        if (std::any_of(value.begin(), value.end(), [](char c) { return is_control(c) && c != '\t'; })) {
            return make_error(ErrorCode::InvalidArgument,
                              name + " has a control character in its value");
        }
    }
    return headers;
}

Result<S3ObjectHead> read_head(const TransportResponse& response, const std::string& what) {
    S3ObjectHead head;
    const std::string length = response.header("content-length");
    if (!length.empty()) {
        auto size = parse_u64(length);
        if (!size) {
            return make_error(ErrorCode::Internal,
                              what + ": malformed Content-Length \"" + length.substr(0, 32) + "\"");
        }
        head.size = *size;
    }
    head.etag = unquote_etag(response.header("etag"));
    head.content_type = response.header("content-type");
    for (const auto& [name, value] : response.headers) {
        if (name.starts_with("x-amz-meta-")) {
            head.metadata.emplace_back(name.substr(11), value);
        }
    }
    return head;
}

// Counts what reaches the caller's sink, to check it against Content-Length.
class CountingSink final : public ByteSink {
public:
    explicit CountingSink(ByteSink& inner) : inner_(inner) {}
    Result<void> write(std::span<const char> bytes) override {
        count_ += bytes.size();
        return inner_.write(bytes);
    }
    std::uint64_t count() const { return count_; }

private:
    ByteSink& inner_;
    std::uint64_t count_ = 0;
};

// Reads exactly `length` bytes (a multipart part) from a streamed body.
Result<std::string> read_exactly(ByteSource& source, std::uint64_t length) {
    std::string part;
    part.resize(static_cast<std::size_t>(length));
    std::size_t filled = 0;
    while (filled < part.size()) {
        auto n = source.read(std::span<char>(part.data() + filled, part.size() - filled));
        if (!n) {
            return n.error();
        }
        if (*n == 0) {
            return make_error(ErrorCode::InvalidArgument,
                              "the body ended " + std::to_string(part.size() - filled) +
                                  " bytes before the length announced");
        }
        filled += *n;
    }
    return part;
}

}  // namespace

struct S3Client::Target {
    EndpointUrl endpoint;
    std::string path;
    std::string name;  // "bucket/key", for messages
};

S3Client::S3Client(HttpTransport& transport, S3ClientOptions options)
    : transport_(transport), options_(std::move(options)) {
    ExecutorConfig config;
    config.service = "s3";
    config.region = options_.region;
    config.credentials = options_.credentials;
    config.retry = options_.retry;
    config.extra_headers = options_.extra_headers;
    config.clock = options_.clock;
    config.sleep = options_.sleep;
    config.read_error = read_s3_error;
    executor_ = std::make_unique<RequestExecutor>(transport_, std::move(config));
}

S3Client::S3Client(S3Client&&) noexcept = default;
S3Client::~S3Client() = default;

std::chrono::milliseconds S3Client::clock_offset() const {
    return executor_->clock_offset();
}

Result<S3Client::Target> S3Client::target(const std::string& bucket, const std::string& key) const {
    if (auto ok = check_bucket(bucket); !ok) {
        return ok.error();
    }
    if (key.size() > kMaxKeyBytes) {
        return make_error(ErrorCode::InvalidArgument,
                          "key of " + std::to_string(key.size()) +
                              " bytes is longer than S3's 1024");
    }
    auto endpoint = EndpointUrl::parse(options_.endpoint.url);
    if (!endpoint) {
        return endpoint.error();
    }
    Target t;
    t.endpoint = std::move(*endpoint);
    t.name = key.empty() ? bucket : bucket + "/" + key;
    // Virtual-hosted: the bucket becomes a DNS label; TLS wildcard certificates cover one label
    // only, so dotted names stay path style over https.
    const bool virtual_host = !options_.path_style && dns_compatible(bucket) &&
                              !t.endpoint.host_is_ip() &&
                              !(t.endpoint.scheme == "https" && bucket.find('.') != std::string::npos);
    if (virtual_host) {
        t.endpoint.host = bucket + "." + t.endpoint.host;
        t.path = t.endpoint.base_path + "/" + key;
    } else {
        t.path = t.endpoint.base_path + "/" + bucket;
        if (!key.empty()) {
            t.path += "/" + key;
        }
    }
    return t;
}

Result<S3ObjectHead> S3Client::get_object(const std::string& bucket, const std::string& key,
                                          ByteSink& sink,
                                          const std::optional<std::string>& if_match) {
    return get_object(S3GetRequest{bucket, key, if_match, {}}, sink);
}

Result<S3ObjectHead> S3Client::get_object(const S3GetRequest& request, ByteSink& sink) {
    if (request.key.empty()) {
        return make_error(ErrorCode::InvalidArgument, "get_object: empty key");
    }
    auto t = target(request.bucket, request.key);
    if (!t) {
        return t.error();
    }
    OutgoingRequest out;
    out.method = "GET";
    out.endpoint = t->endpoint;
    out.path = t->path;
    if (request.if_match) {
        const std::string& etag = *request.if_match;
        out.headers.emplace_back("if-match", etag.starts_with("\"") ? etag : "\"" + etag + "\"");
    }
    if (!request.range.empty()) {
        out.headers.emplace_back("range", request.range);
    }
    CountingSink counted(sink);
    out.sink = &counted;
    out.timeout = options_.request_timeout;
    out.what = "GET " + t->name;
    auto response = executor_->execute(out);
    if (!response) {
        return response.error();
    }
    auto head = read_head(*response, out.what);
    if (head && !response->header("content-length").empty() && counted.count() != head->size) {
        return make_error(ErrorCode::Unavailable,
                          out.what + ": received " + std::to_string(counted.count()) +
                              " bytes of the " + std::to_string(head->size) + " announced");
    }
    return head;
}

Result<S3ObjectHead> S3Client::head_object(const std::string& bucket, const std::string& key) {
    if (key.empty()) {
        return make_error(ErrorCode::InvalidArgument, "head_object: empty key");
    }
    auto t = target(bucket, key);
    if (!t) {
        return t.error();
    }
    OutgoingRequest out;
    out.method = "HEAD";
    out.endpoint = t->endpoint;
    out.path = t->path;
    out.timeout = options_.request_timeout;
    out.what = "HEAD " + t->name;
    auto response = executor_->execute(out);
    if (!response) {
        return response.error();
    }
    return read_head(*response, out.what);
}

Result<void> S3Client::delete_object(const std::string& bucket, const std::string& key) {
    if (key.empty()) {
        return make_error(ErrorCode::InvalidArgument, "delete_object: empty key");
    }
    auto t = target(bucket, key);
    if (!t) {
        return t.error();
    }
    OutgoingRequest out;
    out.method = "DELETE";
    out.endpoint = t->endpoint;
    out.path = t->path;
    out.timeout = options_.request_timeout;
    out.what = "DELETE " + t->name;
    auto response = executor_->execute(out);
    if (!response) {
        return response.error();
    }
    return {};
}

Result<std::string> S3Client::put_object(const S3PutRequest& request, const std::string& body) {
    if (body.size() > options_.multipart_threshold) {
        return put_multipart(request, &body, nullptr, body.size());
    }
    return put_single(request, &body, nullptr, body.size());
}

Result<std::string> S3Client::put_object(const S3PutRequest& request, ByteSource& body,
                                         std::uint64_t length) {
    if (length > options_.multipart_threshold) {
        return put_multipart(request, nullptr, &body, length);
    }
    return put_single(request, nullptr, &body, length);
}

Result<std::string> S3Client::put_single(const S3PutRequest& request, const std::string* body,
                                         ByteSource* source, std::uint64_t length) {
    if (request.key.empty()) {
        return make_error(ErrorCode::InvalidArgument, "put_object: empty key");
    }
    if (length > kMaxPartSize) {
        return make_error(ErrorCode::TooLarge, "put_object: a single PUT takes at most 5 GiB");
    }
    auto t = target(request.bucket, request.key);
    if (!t) {
        return t.error();
    }
    auto headers = object_headers(request);
    if (!headers) {
        return headers.error();
    }
    OutgoingRequest out;
    out.method = "PUT";
    out.endpoint = t->endpoint;
    out.path = t->path;
    out.headers = std::move(*headers);
    if (body != nullptr) {
        out.body = *body;
    } else {
        out.body_source = source;
        out.body_length = length;
    }
    out.timeout = options_.request_timeout;
    out.what = "PUT " + t->name;
    auto response = executor_->execute(out);
    if (!response) {
        return response.error();
    }
    const std::string etag = unquote_etag(response->header("etag"));
    if (etag.empty()) {
        return make_error(ErrorCode::Internal, out.what + ": the answer has no ETag");
    }
    return etag;
}

Result<std::string> S3Client::put_multipart(const S3PutRequest& request, const std::string* body,
                                            ByteSource* source, std::uint64_t length) {
    if (request.key.empty()) {
        return make_error(ErrorCode::InvalidArgument, "put_object: empty key");
    }
    std::uint64_t part_size = std::clamp(options_.part_size, kMinPartSize, kMaxPartSize);
    if ((length + part_size - 1) / part_size > kMaxParts) {
        part_size = (length + kMaxParts - 1) / kMaxParts;
    }
    if (part_size > kMaxPartSize) {
        return make_error(ErrorCode::TooLarge,
                          "put_object: " + std::to_string(length) +
                              " bytes do not fit in 10,000 parts of at most 5 GiB");
    }
    auto t = target(request.bucket, request.key);
    if (!t) {
        return t.error();
    }
    auto headers = object_headers(request);
    if (!headers) {
        return headers.error();
    }

    OutgoingRequest create;
    create.method = "POST";
    create.endpoint = t->endpoint;
    create.path = t->path;
    create.query = {{"uploads", ""}};
    create.headers = std::move(*headers);
    create.timeout = options_.request_timeout;
    create.what = "CreateMultipartUpload " + t->name;
    auto created = executor_->execute(create);
    if (!created) {
        return created.error();
    }
    std::string upload_id;
    if (auto doc = XmlResponse::parse(created->body)) {
        upload_id = doc->root().child_text("UploadId");
    }
    if (upload_id.empty()) {
        return make_error(ErrorCode::Internal, create.what + ": the answer has no UploadId");
    }

    // From here on a failure aborts the upload, so no orphaned parts are left to bill.
    auto abort_with = [&](Error error) -> Result<std::string> {
        OutgoingRequest abort;
        abort.method = "DELETE";
        abort.endpoint = t->endpoint;
        abort.path = t->path;
        abort.query = {{"uploadId", upload_id}};
        abort.timeout = options_.request_timeout;
        abort.what = "AbortMultipartUpload " + t->name;
        if (auto aborted = executor_->execute(abort); !aborted) {
            error.message += "; aborting the upload failed too: " + aborted.error().message;
        }
        return error;
    };

    std::string complete_body =
        "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
    std::uint64_t offset = 0;
    for (std::uint64_t number = 1; offset < length || number == 1; ++number) {
        const std::uint64_t size = std::min(part_size, length - offset);
        OutgoingRequest part;
        part.method = "PUT";
        part.endpoint = t->endpoint;
        part.path = t->path;
        part.query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}};
        if (body != nullptr) {
            part.body = body->substr(static_cast<std::size_t>(offset), static_cast<std::size_t>(size));
        } else {
            auto bytes = read_exactly(*source, size);
            if (!bytes) {
                Error error = bytes.error();
                error.message = "UploadPart " + t->name + " part " + std::to_string(number) +
                                ": " + error.message;
                return abort_with(std::move(error));
            }
            part.body = std::move(*bytes);
        }
        part.timeout = options_.request_timeout;
        part.what = "UploadPart " + t->name + " part " + std::to_string(number);
        auto uploaded = executor_->execute(part);
        if (!uploaded) {
            return abort_with(uploaded.error());
        }
        std::string etag = uploaded->header("etag");
        if (etag.empty()) {
            return abort_with(make_error(ErrorCode::Internal, part.what + ": the answer has no ETag"));
        }
        if (!etag.starts_with("\"")) {
            etag = "\"" + etag + "\"";
        }
        complete_body += "<Part><ETag>" + xml_escape(etag) + "</ETag><PartNumber>" +
                         std::to_string(number) + "</PartNumber></Part>";
        offset += size;
    }
    complete_body += "</CompleteMultipartUpload>";

    OutgoingRequest complete;
    complete.method = "POST";
    complete.endpoint = t->endpoint;
    complete.path = t->path;
    complete.query = {{"uploadId", upload_id}};
    complete.headers = {{"content-type", "application/xml"}};
    complete.body = std::move(complete_body);
    complete.error_document_on_200 = true;
    complete.timeout = options_.request_timeout;
    complete.what = "CompleteMultipartUpload " + t->name;
    auto completed = executor_->execute(complete);
    if (!completed) {
        return abort_with(completed.error());
    }
    std::string etag;
    if (auto doc = XmlResponse::parse(completed->body)) {
        etag = unquote_etag(doc->root().child_text("ETag"));
    }
    if (etag.empty()) {
        return make_error(ErrorCode::Internal, complete.what + ": the answer has no ETag");
    }
    return etag;
}

Result<std::vector<S3ListEntry>> S3Client::list_objects(const std::string& bucket,
                                                        const std::string& prefix) {
    auto t = target(bucket, "");
    if (!t) {
        return t.error();
    }
    if (prefix.size() > kMaxKeyBytes) {
        return make_error(ErrorCode::InvalidArgument, "list_objects: prefix longer than 1024 bytes");
    }
    const int page_size = std::clamp(options_.list_page_size, 1, 1000);
    std::vector<S3ListEntry> entries;
    std::string token;
    while (true) {
        OutgoingRequest out;
        out.method = "GET";
        out.endpoint = t->endpoint;
        out.path = t->path;
        out.query = {{"list-type", "2"}, {"max-keys", std::to_string(page_size)}};
        if (!prefix.empty()) {
            out.query.emplace_back("prefix", prefix);
        }
        if (!token.empty()) {
            out.query.emplace_back("continuation-token", token);
        }
        out.timeout = options_.request_timeout;
        out.what = "ListObjectsV2 " + t->name;
        auto response = executor_->execute(out);
        if (!response) {
            return response.error();
        }
        auto doc = XmlResponse::parse(response->body);
        if (!doc || doc->root().name() != "ListBucketResult") {
            return make_error(ErrorCode::Internal,
                              out.what + ": the answer is not a ListBucketResult" +
                                  (doc ? "" : " (" + doc.error().message + ")"));
        }
        const XmlElement root = doc->root();
        for (const XmlElement& contents : root.children("Contents")) {
            S3ListEntry entry;
            entry.key = contents.child_text("Key");
            auto size = parse_u64(contents.child_text("Size"));
            if (entry.key.empty() || !size) {
                return make_error(ErrorCode::Internal,
                                  out.what + ": an entry without a Key or a numeric Size");
            }
            entry.size = *size;
            entry.etag = unquote_etag(contents.child_text("ETag"));
            entries.push_back(std::move(entry));
            if (entries.size() > options_.max_list_entries) {
                return make_error(ErrorCode::LimitExceeded,
                                  out.what + ": more than " +
                                      std::to_string(options_.max_list_entries) +
                                      " keys under prefix \"" + prefix + "\"");
            }
        }
        if (root.child_text("IsTruncated") != "true") {
            return entries;
        }
        std::string next = root.child_text("NextContinuationToken");
        if (next.empty() || next == token) {
            // A server that says "more" without a new token would make this loop forever.
            return make_error(ErrorCode::Internal,
                              out.what + ": truncated listing without a new NextContinuationToken");
        }
        token = std::move(next);
    }
}

S3ClientOptions s3_client_options(const AwsEnvironment& environment) {
    S3ClientOptions options;
    options.endpoint = environment.endpoint("s3");
    options.region = environment.region;
    options.credentials = environment.credentials;
    std::string force;
    if (auto it = environment.variables.find("AWS_S3_FORCE_PATH_STYLE");
        it != environment.variables.end()) {
        force = ascii_lowercase(it->second);
    }
    options.path_style = options.endpoint.custom || force == "true" || force == "1";
    return options;
}

}  // namespace pf::aws
