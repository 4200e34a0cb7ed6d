#include "function/photo_handler.h"

#include "aws/s3_client.h"
#include "aws/s3_event.h"
#include "aws/sns_client.h"
#include "aws/uri_encoding.h"
#include "base/json_depth.h"
#include "base/logging.h"
#include "function/photo_messages.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <future>
#include <memory>

namespace pf::function {
namespace {

using nlohmann::json;

spdlog::logger& log() {
    static auto logger = component_logger("function");
    return *logger;
}

constexpr std::size_t kMaxEventDepth = 32;
constexpr std::size_t kMaxManifestDepth = 64;
constexpr std::size_t kMaxTraceIdBytes = 512;

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

std::string unquoted(std::string_view etag) {
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
        etag = etag.substr(1, etag.size() - 2);
    }
    return std::string(etag);
}

// The runtime's trace id goes into a header: anything but printable ASCII would let it inject
// headers, so such a value is not forwarded at all.
std::string header_safe(const std::string& value) {
    if (value.size() > kMaxTraceIdBytes) {
        return {};
    }
    for (unsigned char c : value) {
        if (c < 0x20 || c > 0x7e) {
            return {};
        }
    }
    return value;
}

// Holds an object body in memory, refusing to grow past a limit (the photo is decoded from
// memory; the limit keeps a huge or hostile object from exhausting the function's RAM).
class BoundedStringSink final : public ByteSink {
public:
    explicit BoundedStringSink(std::uint64_t limit) : limit_(limit) {}
    Result<void> write(std::span<const char> bytes) override {
        if (data_.size() + bytes.size() > limit_) {
            overflowed_ = true;
            return make_error(ErrorCode::TooLarge,
                              "object is larger than " + std::to_string(limit_) + " bytes");
        }
        data_.append(bytes.data(), bytes.size());
        return {};
    }
    bool overflowed() const { return overflowed_; }
    std::string take() { return std::move(data_); }

private:
    std::uint64_t limit_;
    std::string data_;
    bool overflowed_ = false;
};

struct RecordResult {
    std::string outcome;  // processed, duplicate, superseded, source-deleted, rejected, ...
    std::size_t outputs = 0;
    std::optional<aws::FunctionError> error;
    bool retry() const { return error && error->error_type == kRetryable; }
};

RecordResult finished(std::string outcome, std::size_t outputs = 0) {
    return {std::move(outcome), outputs, std::nullopt};
}

RecordResult retryable(const std::string& what, const Error& error) {
    return {"failed", 0, aws::FunctionError{std::string(kRetryable), what + ": " + error.message}};
}

}  // namespace

// One invocation's clients and work. The clients are built per invocation because each carries
// that invocation's trace id on every request (building them costs nothing: no connection).
class PhotoHandler::Invocation {
public:
    Invocation(const PhotoHandler& handler, const std::string& trace_id, Deadline deadline)
        : config_(handler.config_), processor_(handler.processor_), deadline_(deadline),
          transport_(handler.transport_), s3_options_(s3_options(handler.aws_, trace_id)),
          s3_(handler.transport_, s3_options_),
          sns_(handler.transport_, sns_options(handler.aws_, trace_id)) {}

    RecordResult created(const aws::S3EventRecord& record);
    RecordResult removed(const aws::S3EventRecord& record);

private:
    static std::vector<std::pair<std::string, std::string>> trace_headers(const std::string& id) {
        std::string safe = header_safe(id);
        if (safe.empty()) {
            return {};
        }
        return {{"x-amzn-trace-id", safe}};
    }
    static aws::S3ClientOptions s3_options(const aws::AwsEnvironment& aws, const std::string& id) {
        aws::S3ClientOptions options = aws::s3_client_options(aws);
        options.extra_headers = trace_headers(id);
        return options;
    }
    static aws::SnsClientOptions sns_options(const aws::AwsEnvironment& aws,
                                             const std::string& id) {
        aws::SnsClientOptions options;
        options.endpoint = aws.endpoint("sns");
        options.region = aws.region;
        options.credentials = aws.credentials;
        options.extra_headers = trace_headers(id);
        return options;
    }

    std::string output_bucket(const aws::S3EventRecord& record) const {
        return config_.output_bucket.empty() ? record.bucket : config_.output_bucket;
    }
    std::vector<std::pair<std::string, std::string>> metadata(const PhotoRef& photo) const {
        return {{std::string(kMetaSourceBucket), photo.bucket},
                {std::string(kMetaSourceKey), aws::uri_encode(photo.key, true)},
                {std::string(kMetaSourceEtag), photo.etag},
                {std::string(kMetaRecipeHash), config_.recipe_hash}};
    }

    Result<void> publish(std::string_view subject, const std::string& message,
                         const std::string& bucket, const std::string& key);
    Result<std::optional<std::string>> already_done(const std::string& bucket,
                                                    const std::string& manifest_key,
                                                    const std::string& etag);
    RecordResult reject(const PhotoRef& photo, const Error& error);

    const FunctionConfig& config_;
    const imaging::Processor& processor_;
    Deadline deadline_;
    aws::HttpTransport& transport_;
    aws::S3ClientOptions s3_options_;  // for the extra clients of parallel PUTs
    aws::S3Client s3_;
    aws::SnsClient sns_;
};

Result<void> PhotoHandler::Invocation::publish(std::string_view subject, const std::string& message,
                                               const std::string& bucket, const std::string& key) {
    if (config_.topic_arn.empty()) {
        return {};
    }
    aws::SnsPublish request;
    request.topic_arn = config_.topic_arn;
    request.subject = std::string(subject);
    request.message = message;
    request.string_attributes = {{"event", std::string(subject)}, {"bucket", bucket}, {"key", key}};
    auto sent = sns_.publish(request);
    if (!sent) {
        return sent.error();
    }
    log().debug("event=published subject={} message_id={} bucket={} key=\"{}\"", subject, *sent,
                bucket, key);
    return {};
}

// The photo.processed message of a previous run, when its manifest says it processed this very
// upload (source ETag) with this very recipe (recipe hash); nullopt when the photo needs work.
Result<std::optional<std::string>>
PhotoHandler::Invocation::already_done(const std::string& bucket, const std::string& manifest_key,
                                       const std::string& etag) {
    auto head = s3_.head_object(bucket, manifest_key);
    if (!head) {
        // 403: without s3:ListBucket, S3 answers a missing key with 403 instead of 404.
        if (head.error().code == ErrorCode::NotFound || head.error().code == ErrorCode::Forbidden) {
            return std::optional<std::string>();
        }
        return head.error();
    }
    if (unquoted(head->metadata_value(std::string(kMetaSourceEtag))) != etag ||
        head->metadata_value(std::string(kMetaRecipeHash)) != config_.recipe_hash) {
        return std::optional<std::string>();
    }
    if (config_.topic_arn.empty()) {
        return std::optional<std::string>("");  // done, and nobody to tell
    }
    BoundedStringSink sink(kMaxManifestBytes);
    auto got = s3_.get_object(bucket, manifest_key, sink);
    if (!got) {
        if (sink.overflowed() || got.error().code == ErrorCode::NotFound) {
            return std::optional<std::string>();
        }
        return got.error();
    }
    std::string text = sink.take();
    json manifest = json_nesting_exceeds(text, kMaxManifestDepth)
                        ? json()
                        : json::parse(text, nullptr, /*allow_exceptions=*/false);
    auto message = processed_message(manifest, manifest_key);
    if (!message) {
        log().warn("event=manifest_unusable bucket={} key=\"{}\" error=\"{}\": processing again",
                   bucket, manifest_key, message.error().message);
        return std::optional<std::string>();
    }
    return std::optional<std::string>(std::move(*message));
}

RecordResult PhotoHandler::Invocation::reject(const PhotoRef& photo, const Error& error) {
    const std::string reason = error.client_message();
    const std::string type(to_string(error.code));
    log().warn("event=photo_rejected bucket={} key=\"{}\" etag={} type={} error=\"{}\"",
               photo.bucket, photo.key, photo.etag, type, error.message);
    if (auto sent =
            publish(kFailedSubject, failed_message(photo, reason, type), photo.bucket, photo.key);
        !sent) {
        // The failure must reach the subscribers: let the host try the event again.
        return retryable("publishing photo.failed", sent.error());
    }
    return {"rejected", 0, aws::FunctionError{std::string(kPhotoRejected), reason}};
}

RecordResult PhotoHandler::Invocation::created(const aws::S3EventRecord& record) {
    const auto started = SteadyClock::now();
    PhotoRef photo{record.bucket, record.key, unquoted(record.etag)};
    const std::string out_bucket = output_bucket(record);
    const std::string folder = derivative_folder(config_.output_prefix, record.key);
    const std::string manifest_key = folder + std::string(kManifestFile);
    if (auto keys = check_output_keys(folder, config_.recipe); !keys) {
        return reject(photo, keys.error());
    }

    // 1. Done before (an at-least-once duplicate, or a retry after the manifest was written)?
    if (!photo.etag.empty()) {
        auto done = already_done(out_bucket, manifest_key, photo.etag);
        if (!done) {
            return retryable("reading the manifest", done.error());
        }
        if (done->has_value()) {
            if (!(*done)->empty()) {
                if (auto sent = publish(kProcessedSubject, **done, photo.bucket, photo.key);
                    !sent) {
                    return retryable("publishing photo.processed", sent.error());
                }
            }
            log().info("event=photo_duplicate bucket={} key=\"{}\" etag={}", photo.bucket,
                       photo.key, photo.etag);
            return finished("duplicate");
        }
    }

    // 2. Fetch the very upload the event announced, into memory, bounded.
    // `size`: what the event announced; nullopt when the download ran past the limit.
    auto too_large = [&](std::optional<std::uint64_t> size) {
        const std::string limit = std::to_string(config_.max_photo_bytes);
        return make_error(ErrorCode::TooLarge,
                          photo.key + ": " +
                              (size ? std::to_string(*size) + " bytes is" : std::string("more")) +
                              " over the limit of " + limit + " bytes",
                          "The photo is larger than " + limit + " bytes");
    };
    if (record.size && *record.size > config_.max_photo_bytes) {
        return reject(photo, too_large(*record.size));
    }
    if (deadline_.expired()) {
        return retryable("fetching the photo", make_error(ErrorCode::Timeout, "no time left"));
    }
    BoundedStringSink sink(config_.max_photo_bytes);
    auto got = s3_.get_object(photo.bucket, photo.key, sink,
                              photo.etag.empty() ? std::nullopt : std::optional(photo.etag));
    if (!got) {
        if (sink.overflowed()) {
            return reject(photo, too_large(std::nullopt));
        }
        switch (classify_fetch_error(got.error())) {
        case FetchFailure::Superseded:
            log().info("event=photo_superseded bucket={} key=\"{}\" etag={}", photo.bucket,
                       photo.key, photo.etag);
            return finished("superseded");
        case FetchFailure::Deleted:
            log().info("event=photo_gone bucket={} key=\"{}\"", photo.bucket, photo.key);
            return finished("source-deleted");
        case FetchFailure::Rejected:
            return reject(photo, make_error(ErrorCode::Forbidden, got.error().message,
                                            "Access to the photo is denied"));
        case FetchFailure::Retry:
            break;
        }
        return retryable("fetching the photo", got.error());
    }
    if (!got->etag.empty()) {
        photo.etag = unquoted(got->etag);
    }

    // 3. Process. The photo's bytes are released as soon as the engine is done with them.
    auto result = [&] {
        auto bytes = std::make_shared<const std::string>(sink.take());
        return processor_.run(imaging::PhotoSource::from_bytes(bytes, photo.key), config_.recipe,
                              deadline_);
    }();
    if (!result) {
        if (is_permanent_photo_error(result.error())) {
            return reject(photo, result.error());
        }
        return retryable("processing the photo", result.error());
    }

    // 4. A newer upload or a delete during processing owns the folder now: write nothing, so
    //    these older derivatives cannot overwrite the newer ones. (A race remains while the
    //    PUTs below run; the manifest's source-etag then tells the truth.)
    auto current = s3_.head_object(photo.bucket, photo.key);
    if (current) {
        if (unquoted(current->etag) != photo.etag) {
            log().info("event=photo_superseded bucket={} key=\"{}\" etag={} now={}", photo.bucket,
                       photo.key, photo.etag, current->etag);
            return finished("superseded");
        }
    } else if (current.error().code == ErrorCode::NotFound) {
        return finished("source-deleted");
    } else if (current.error().code != ErrorCode::Forbidden) {
        return retryable("checking the photo", current.error());
    }

    // 5. Derivatives, then the manifest LAST: a manifest means the set is complete.
    // The derivatives go up at once, one client (and connection) each: serve commits
    // concurrent writes together (one fsync for the group), and S3 takes them in parallel too.
    const auto meta = metadata(photo);
    std::vector<std::future<Result<std::string>>> uploads;
    for (const auto& d : result->derivatives) {
        aws::S3PutRequest put;
        put.bucket = out_bucket;
        put.key = folder + d.file;
        put.content_type = imaging::content_type(d.format);
        put.metadata = meta;
        uploads.push_back(std::async(std::launch::async, [this, put, &d] {
            aws::S3Client client(transport_, s3_options_);
            return client.put_object(put, d.bytes);
        }));
    }
    std::optional<RecordResult> failed;
    for (std::size_t i = 0; i < uploads.size(); ++i) {
        auto stored = uploads[i].get();  // every upload is waited for, failed or not
        if (!stored && !failed) {
            failed = retryable("storing " + result->derivatives[i].file, stored.error());
        }
    }
    if (failed) {
        return *failed;
    }
    json manifest = stored_manifest(*result, photo, out_bucket, folder, config_.recipe_hash);
    aws::S3PutRequest put;
    put.bucket = out_bucket;
    put.key = manifest_key;
    put.content_type = "application/json";
    put.metadata = meta;
    if (auto stored = s3_.put_object(put, manifest.dump(2) + "\n"); !stored) {
        return retryable("storing the manifest", stored.error());
    }

    // 6. Tell the subscribers.
    auto message = processed_message(manifest, manifest_key);
    if (!message) {
        return retryable("building photo.processed", message.error());
    }
    if (auto sent = publish(kProcessedSubject, *message, photo.bucket, photo.key); !sent) {
        return retryable("publishing photo.processed", sent.error());
    }
    log().info("event=photo_processed bucket={} key=\"{}\" etag={} outputs={} millis={:.0f}",
               photo.bucket, photo.key, photo.etag, result->derivatives.size(),
               millis_since(started));
    return finished("processed", result->derivatives.size());
}

RecordResult PhotoHandler::Invocation::removed(const aws::S3EventRecord& record) {
    if (!config_.delete_derivatives) {
        return finished("ignored");
    }
    // Deleted and uploaded again since: the new upload's derivatives must stay.
    auto current = s3_.head_object(record.bucket, record.key);
    if (current) {
        log().info("event=delete_skipped bucket={} key=\"{}\": the photo exists again",
                   record.bucket, record.key);
        return finished("source-exists");
    }
    if (current.error().code != ErrorCode::NotFound &&
        current.error().code != ErrorCode::Forbidden) {
        return retryable("checking the photo", current.error());
    }
    const std::string out_bucket = output_bucket(record);
    const std::string folder = derivative_folder(config_.output_prefix, record.key);
    auto listed = s3_.list_objects(out_bucket, folder);
    if (!listed) {
        return retryable("listing the derivatives", listed.error());
    }
    // Only the folder's own files: "a/" also holds the folders of photos keyed "a/b.jpg".
    std::vector<std::string> keys;
    for (const auto& entry : *listed) {
        if (!starts_with(entry.key, folder)) {
            continue;  // a server answering outside the prefix
        }
        std::string_view rest = std::string_view(entry.key).substr(folder.size());
        if (!rest.empty() && rest.find('/') == std::string_view::npos) {
            keys.push_back(entry.key);
        }
    }
    // The manifest first: no reader may see a manifest whose derivatives are already gone.
    const std::string manifest_key = folder + std::string(kManifestFile);
    std::stable_partition(keys.begin(), keys.end(),
                          [&](const std::string& k) { return k == manifest_key; });
    for (const auto& key : keys) {
        if (auto gone = s3_.delete_object(out_bucket, key); !gone) {
            return retryable("deleting " + key, gone.error());
        }
    }
    if (auto sent = publish(kDeletedSubject, deleted_message(record.bucket, record.key),
                            record.bucket, record.key);
        !sent) {
        return retryable("publishing photo.deleted", sent.error());
    }
    log().info("event=derivatives_deleted bucket={} key=\"{}\" objects={}", record.bucket,
               record.key, keys.size());
    return finished("derivatives-deleted", keys.size());
}

PhotoHandler::PhotoHandler(const FunctionConfig& config, const imaging::Processor& processor,
                           aws::HttpTransport& transport, aws::AwsEnvironment aws)
    : config_(config), processor_(processor), transport_(transport), aws_(std::move(aws)) {}

HandleOutcome PhotoHandler::handle(const std::string& payload, const std::string& trace_id,
                                   Deadline deadline) const {
    auto invalid = [](const std::string& message) {
        log().warn("event=invalid_event error=\"{}\"", message);
        return HandleOutcome{{}, aws::FunctionError{std::string(kInvalidEvent), message}};
    };
    if (payload.size() > kMaxEventBytes) {
        return invalid("the event is " + std::to_string(payload.size()) +
                       " bytes, over the limit of " + std::to_string(kMaxEventBytes));
    }
    if (json_nesting_exceeds(payload, kMaxEventDepth)) {
        return invalid("the event nests deeper than " + std::to_string(kMaxEventDepth) + " levels");
    }
    auto event = aws::parse_s3_event(payload);
    if (!event) {
        return invalid("not an S3 event: " + event.error().message);
    }
    if (event->test_event) {
        return {R"({"records":[],"testEvent":true})", std::nullopt};
    }
    if (event->records.size() > kMaxRecords) {
        return invalid(std::to_string(event->records.size()) + " records, over the limit of " +
                       std::to_string(kMaxRecords));
    }

    Invocation invocation(*this, trace_id, deadline);
    json summary = json::array();
    std::optional<aws::FunctionError> rejected;
    for (const auto& record : event->records) {
        const std::string out_bucket =
            config_.output_bucket.empty() ? record.bucket : config_.output_bucket;
        RecordResult result;
        if (record.bucket == out_bucket && starts_with(record.key, config_.output_prefix)) {
            // One of our own outputs (the notification filter let it through): processing it
            // would make derivatives of derivatives, forever.
            result = finished("ignored-own-output");
        } else if (starts_with(record.event_name, "ObjectCreated:")) {
            result = invocation.created(record);
        } else if (starts_with(record.event_name, "ObjectRemoved:")) {
            result = invocation.removed(record);
        } else {
            result = finished("ignored");
        }
        if (result.error) {
            // Name the photo: an event can carry several records, and this message is all that
            // the logs and a Lambda destination record keep of the failure.
            result.error->error_message =
                "s3://" + record.bucket + "/" + record.key + ": " + result.error->error_message;
        }
        if (result.retry()) {
            log().error("event=invocation_failed bucket={} key=\"{}\" error=\"{}\"", record.bucket,
                        record.key, result.error->error_message);
            // The whole event comes back; records done by then are recognised as duplicates.
            return {{}, result.error};
        }
        if (result.error && !rejected) {
            rejected = result.error;
        }
        json entry = {{"eventName", record.event_name},
                      {"bucket", record.bucket},
                      {"key", record.key},
                      {"outcome", result.outcome}};
        if (result.outputs > 0) {
            entry["outputs"] = result.outputs;
        }
        summary.push_back(std::move(entry));
    }
    if (rejected) {
        return {{}, rejected};
    }
    return {json{{"records", std::move(summary)}}.dump(), std::nullopt};
}

}  // namespace pf::function
