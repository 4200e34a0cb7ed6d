// The activity feed: what the console shows live. It keeps the latest state of recently seen
// photos (keyed by bucket, key and ETag, so a re-upload starts over), the last messages published
// on any topic, and hands both to the open event streams (GET /_/console/api/events).
//
// Streams are notify::SseHub streams: every stream has a bounded buffer, filled here under a
// short lock without ever waiting for a reader; a stream that falls too far behind is dropped
// (the browser reconnects). A new stream starts with the recent message history, taken under the
// same lock that publishes, so it neither misses nor repeats a message.
#pragma once

#include "base/result.h"
#include "notify/sse_hub.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pf::console {

struct PhotoState {
    std::string status;  // processing | done | failed
    std::string reason;  // failed only
    nlohmann::json thumbnail_url = nullptr;  // done: from the photo.processed outputs
    nlohmann::json placeholder = nullptr;    // done: the manifest's blurhash
    std::string at;                          // ISO 8601, when the state was reached
};

struct FeedLimits {
    std::size_t max_photos = 10'000;   // photo states kept (oldest forgotten first)
    std::size_t max_messages = 200;    // messages kept for new streams
    std::size_t history_on_connect = 50;
    notify::SseLimits streams;
};

// A stream with the history it must send first.
struct FeedStream {
    std::shared_ptr<notify::SseStream> stream;
    std::string history;  // ready-to-write `event: message` blocks, oldest first
};

class ActivityFeed {
public:
    // `function_topic`: photo.processed / photo.failed messages move photos only when published
    // there (empty: never).
    explicit ActivityFeed(std::string function_topic, FeedLimits limits = {});

    void photo_processing(const std::string& bucket, const std::string& key,
                          const std::string& etag);
    void photo_failed(const std::string& bucket, const std::string& key, const std::string& etag,
                      const std::string& reason);
    // The photo's event became a dead letter: failed, unless photo.failed already said why.
    void photo_dead_lettered(const std::string& bucket, const std::string& key,
                             const std::string& etag, const std::string& reason);
    void message_published(const std::string& topic_arn, const std::string& message_id,
                           const std::string& subject, const std::string& message,
                           const std::string& timestamp);

    // The latest state seen for this upload (ETag unquoted), or nullopt.
    std::optional<PhotoState> photo_state(const std::string& bucket, const std::string& key,
                                          const std::string& etag) const;
    // The last messages (oldest first), as `event: message` JSON objects.
    std::vector<nlohmann::json> recent_messages() const;

    // Opens a stream (Unavailable after shutdown or with too many open).
    Result<FeedStream> open();
    void release(const std::shared_ptr<notify::SseStream>& stream);
    void shutdown();

private:
    void set_photo(const std::string& bucket, const std::string& key, const std::string& etag,
                   PhotoState state);
    static std::string photo_key(const std::string& bucket, const std::string& key,
                                 const std::string& etag);

    const std::string function_topic_;
    const FeedLimits limits_;
    notify::SseHub hub_;
    mutable std::mutex mutex_;
    std::map<std::string, std::pair<PhotoState, std::uint64_t>> photos_;  // key -> state, seq
    std::deque<std::pair<std::uint64_t, std::string>> photo_order_;       // insertion order
    std::deque<nlohmann::json> messages_;
    std::uint64_t sequence_ = 0;
};

// The smallest image output of a manifest's (or photo.processed message's) "outputs", as a
// console object URL; null when there is none. `default_bucket` is used for outputs without one.
nlohmann::json thumbnail_url(const nlohmann::json& outputs, const std::string& default_bucket);
// /_/console/api/object?bucket=..&key=.. (URL-encoded).
std::string object_url(const std::string& bucket, const std::string& key);
// The manifest's placeholder ({"type","value","components"}) or null.
nlohmann::json placeholder_of(const nlohmann::json& manifest);
// Quotes removed: S3 events, listings and manifests do not agree on them.
std::string unquote_etag(std::string_view etag);
std::string iso_now();
// JSON text; bytes that are not UTF-8 (a key can hold any) become U+FFFD instead of throwing.
std::string dump_json(const nlohmann::json& value);

}  // namespace pf::console
