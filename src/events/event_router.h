// Which notification rules an object change fires, and the S3 event message each one gets
// (aws-protocols.md §3.3/§3.4). Called by the store inside the write's transaction (through the
// outbox router app/ installs), so it must be fast and must not block: the parsed configuration
// of a document is cached by the document's text.
#pragma once

#include "base/result.h"
#include "events/notification_config.h"

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pf::events {

// One object change as the S3 event message describes it.
struct ObjectEvent {
    std::string bucket;
    std::string key;         // decoded; form-encoded in the payload
    std::string event_name;  // "ObjectCreated:Put", "ObjectRemoved:Delete" (no "s3:" prefix)
    std::uint64_t size = 0;  // reported for ObjectCreated only
    std::string etag;        // unquoted; reported for ObjectCreated only
    std::string request_id;  // x-amz-request-id of the response
    std::string host_id;     // x-amz-id-2 of the response
    std::string source_ip;
    std::string principal_id;        // "AWS:<access key id>" or "Anonymous"
    std::string trace_id;            // X-Amzn-Trace-Id carried to the destination
    std::int64_t event_time_ms = 0;  // Unix time in milliseconds
    std::string sequencer;
    std::string region;  // the bucket's region; empty: EventRouterOptions::default_region
};

// One delivery to make: the outbox row for one matching rule.
struct OutboxMessage {
    std::string target_arn;
    DestinationKind kind = DestinationKind::Function;
    std::string payload;  // {"Records":[<one record, configurationId = the rule's Id>]}
    std::string trace_id;
};

struct EventRouterOptions {
    std::string default_region = "us-east-1";
    // s3.bucket.ownerIdentity.principalId (serve has one owner, the S3 API's "photoflux").
    std::string bucket_owner = "photoflux";
    // Parsed documents kept (distinct notification documents in use).
    std::size_t cache_entries = 256;
};

// Thread-safe.
class EventRouter {
public:
    explicit EventRouter(EventRouterOptions options = {});

    // One message per rule whose events cover event.event_name and whose filters pass the key,
    // in the configuration's canonical order. No document (or an empty one): no messages. A
    // document that does not parse is an Internal error: it was validated when it was stored,
    // so it was damaged since, and dropping events silently would be worse than failing.
    Result<std::vector<OutboxMessage>> route(const ObjectEvent& event,
                                             std::optional<std::string_view> document);

    // Documents parsed so far (cache misses): for tests and metrics.
    std::uint64_t parses() const;

private:
    Result<std::shared_ptr<const NotificationConfiguration>> configuration(std::string_view text);

    EventRouterOptions options_;
    mutable std::mutex mutex_;
    // Least recently used first; the map points into the list. Keyed by SHA-256 of the text.
    std::list<std::pair<std::string, std::shared_ptr<const NotificationConfiguration>>> lru_;
    std::unordered_map<std::string, decltype(lru_)::iterator> index_;
    std::uint64_t parses_ = 0;
};

}  // namespace pf::events
