#include "events/event_router.h"

#include "aws/s3_event.h"
#include "aws/time_format.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"

#include <chrono>

namespace pf::events {
namespace {

bool is_created(std::string_view event_name) {
    return event_name.starts_with("ObjectCreated:");
}

aws::S3EventRecord record_for(const ObjectEvent& event, const NotificationRule& rule,
                              const EventRouterOptions& options) {
    aws::S3EventRecord r;
    r.aws_region = event.region.empty() ? options.default_region : event.region;
    r.event_time = aws::format_iso8601_millis(
        std::chrono::system_clock::time_point(std::chrono::milliseconds(event.event_time_ms)));
    r.event_name = event.event_name;
    r.principal_id = event.principal_id;
    r.source_ip = event.source_ip;
    r.request_id = event.request_id;
    r.host_id = event.host_id;
    r.configuration_id = rule.id;
    r.bucket = event.bucket;
    r.bucket_owner = options.bucket_owner;
    r.key = event.key;
    // Size and ETag describe the object that now exists: removes have neither (§3.3).
    if (is_created(event.event_name)) {
        r.size = event.size;
        r.etag = event.etag;
    }
    r.sequencer = event.sequencer;
    return r;
}

}  // namespace

EventRouter::EventRouter(EventRouterOptions options) : options_(std::move(options)) {
    if (options_.cache_entries == 0) {
        options_.cache_entries = 1;
    }
}

std::uint64_t EventRouter::parses() const {
    std::lock_guard lock(mutex_);
    return parses_;
}

Result<std::shared_ptr<const NotificationConfiguration>>
EventRouter::configuration(std::string_view text) {
    std::string digest = crypto::as_bytes(crypto::sha256(text));
    {
        std::lock_guard lock(mutex_);
        if (auto it = index_.find(digest); it != index_.end()) {
            lru_.splice(lru_.end(), lru_, it->second);
            return it->second->second;
        }
    }
    // Parsed outside the lock: writes to other buckets need not wait for it. Two threads may
    // parse the same new document at once; both results are equal and one is kept.
    ParseOptions options;
    // Routing follows what was stored, even a document an older version kept unchecked.
    options.allow_queue = true;
    options.check_overlap = false;
    auto parsed = parse_notification_configuration(text, options);
    if (!parsed) {
        return make_error(ErrorCode::Internal,
                          "the bucket's stored notification configuration does not parse (" +
                              parsed.error().message +
                              "); PUT a new one with PutBucketNotificationConfiguration",
                          "The bucket's notification configuration is damaged; set it again.");
    }
    auto shared = std::make_shared<const NotificationConfiguration>(std::move(*parsed));
    std::lock_guard lock(mutex_);
    ++parses_;
    if (auto it = index_.find(digest); it != index_.end()) {
        return it->second->second;
    }
    lru_.emplace_back(digest, shared);
    index_.emplace(digest, std::prev(lru_.end()));
    while (lru_.size() > options_.cache_entries) {
        index_.erase(lru_.front().first);
        lru_.pop_front();
    }
    return std::shared_ptr<const NotificationConfiguration>(shared);
}

Result<std::vector<OutboxMessage>> EventRouter::route(const ObjectEvent& event,
                                                      std::optional<std::string_view> document) {
    std::vector<OutboxMessage> messages;
    if (!document || document->empty() || event.event_name.empty()) {
        return messages;
    }
    auto config = configuration(*document);
    if (!config) {
        return config.error();
    }
    for (const auto& rule : (*config)->rules) {
        bool fires = false;
        for (const auto& configured : rule.events) {
            fires = fires || event_matches(configured, event.event_name);
        }
        if (!fires || !key_matches(rule, event.key)) {
            continue;
        }
        OutboxMessage message;
        message.target_arn = rule.arn;
        message.kind = rule.kind;
        message.payload = aws::to_event_json({record_for(event, rule, options_)});
        message.trace_id = event.trace_id;
        messages.push_back(std::move(message));
    }
    return messages;
}

}  // namespace pf::events
