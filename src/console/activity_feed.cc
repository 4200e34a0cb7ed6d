#include "console/activity_feed.h"

#include "aws/time_format.h"
#include "aws/uri_encoding.h"
#include "base/json_depth.h"

#include <chrono>
#include <limits>

namespace pf::console {
namespace {

using nlohmann::json;

constexpr std::string_view kHubArn = "console";  // the feed's single SseHub channel
constexpr std::size_t kMaxMessageJsonDepth = 64;

std::string string_field(const json& object, const char* name) {
    if (!object.is_object()) {
        return {};
    }
    auto it = object.find(name);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json photo_event(const std::string& bucket, const std::string& key, const std::string& etag,
                 const PhotoState& state) {
    return {{"bucket", bucket},
            {"key", key},
            {"etag", etag},
            {"status", state.status},
            {"reason", state.reason.empty() ? json(nullptr) : json(state.reason)},
            {"thumbnail_url", state.thumbnail_url},
            {"placeholder", state.placeholder},
            {"at", state.at}};
}

}  // namespace

std::string unquote_etag(std::string_view etag) {
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
        etag = etag.substr(1, etag.size() - 2);
    }
    return std::string(etag);
}

std::string dump_json(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string iso_now() { return aws::format_iso8601_millis(std::chrono::system_clock::now()); }

std::string object_url(const std::string& bucket, const std::string& key) {
    return "/_/console/api/object?bucket=" + aws::uri_encode(bucket, false) +
           "&key=" + aws::uri_encode(key, false);
}

json thumbnail_url(const json& outputs, const std::string& default_bucket) {
    if (!outputs.is_array()) {
        return nullptr;
    }
    const json* best = nullptr;
    std::uint64_t best_pixels = std::numeric_limits<std::uint64_t>::max();
    for (const json& output : outputs) {
        // Manifests say content_type, photo.processed messages contentType.
        std::string type = string_field(output, "content_type");
        if (type.empty()) {
            type = string_field(output, "contentType");
        }
        if (!type.starts_with("image/") || string_field(output, "key").empty()) {
            continue;
        }
        auto width = output.value("width", json(nullptr));
        auto height = output.value("height", json(nullptr));
        std::uint64_t pixels = std::numeric_limits<std::uint64_t>::max() - 1;
        if (width.is_number_integer() && height.is_number_integer() &&
            width.get<std::int64_t>() >= 0 && height.get<std::int64_t>() >= 0) {
            pixels = width.get<std::uint64_t>() * height.get<std::uint64_t>();
        }
        if (best == nullptr || pixels < best_pixels) {
            best = &output;
            best_pixels = pixels;
        }
    }
    if (best == nullptr) {
        return nullptr;
    }
    std::string bucket = string_field(*best, "bucket");
    return object_url(bucket.empty() ? default_bucket : bucket, string_field(*best, "key"));
}

json placeholder_of(const json& manifest) {
    if (!manifest.is_object()) {
        return nullptr;
    }
    auto it = manifest.find("placeholder");
    if (it == manifest.end() || !it->is_object() || !it->contains("value") ||
        !it->at("value").is_string()) {
        return nullptr;
    }
    return {{"type", it->value("type", std::string("blurhash"))},
            {"value", it->at("value")},
            {"components", it->value("components", json::array())}};
}

ActivityFeed::ActivityFeed(std::string function_topic, FeedLimits limits)
    : function_topic_(std::move(function_topic)), limits_(limits), hub_(limits.streams) {}

std::string ActivityFeed::photo_key(const std::string& bucket, const std::string& key,
                                    const std::string& etag) {
    std::string out;
    out.reserve(bucket.size() + key.size() + etag.size() + 2);
    out.append(bucket).push_back('\0');
    out.append(key).push_back('\0');
    out.append(unquote_etag(etag));
    return out;
}

void ActivityFeed::set_photo(const std::string& bucket, const std::string& key,
                             const std::string& etag, PhotoState state) {
    const std::string event = dump_json(photo_event(bucket, key, unquote_etag(etag), state));
    const std::string id = photo_key(bucket, key, etag);
    std::lock_guard lock(mutex_);
    const std::uint64_t seq = ++sequence_;
    photos_[id] = {std::move(state), seq};
    photo_order_.emplace_back(seq, id);
    while (photos_.size() > limits_.max_photos && !photo_order_.empty()) {
        auto [old_seq, old_id] = std::move(photo_order_.front());
        photo_order_.pop_front();
        auto it = photos_.find(old_id);
        if (it != photos_.end() && it->second.second == old_seq) {
            photos_.erase(it);
        }
    }
    // Updates of the same photo leave stale order entries; keep that list bounded too.
    while (photo_order_.size() > 2 * limits_.max_photos + 16) {
        auto [old_seq, old_id] = std::move(photo_order_.front());
        photo_order_.pop_front();
        auto it = photos_.find(old_id);
        if (it != photos_.end() && it->second.second == old_seq) {
            photos_.erase(it);
        }
    }
    hub_.publish(notify::SseScope::Topic, std::string(kHubArn), "p" + std::to_string(seq),
                 "photo", event);
}

void ActivityFeed::photo_processing(const std::string& bucket, const std::string& key,
                                    const std::string& etag) {
    set_photo(bucket, key, etag, PhotoState{"processing", "", nullptr, nullptr, iso_now()});
}

void ActivityFeed::photo_failed(const std::string& bucket, const std::string& key,
                                const std::string& etag, const std::string& reason) {
    set_photo(bucket, key, etag,
              PhotoState{"failed", reason.empty() ? "failed" : reason, nullptr, nullptr,
                         iso_now()});
}

void ActivityFeed::photo_dead_lettered(const std::string& bucket, const std::string& key,
                                       const std::string& etag, const std::string& reason) {
    {
        // A rejected photo is announced twice: photo.failed with the function's own reason, then
        // its event becomes a dead letter. The first reason is the precise one; keep it.
        std::lock_guard lock(mutex_);
        auto it = photos_.find(photo_key(bucket, key, etag));
        if (it != photos_.end() && it->second.first.status == "failed") {
            return;
        }
    }
    photo_failed(bucket, key, etag, reason);
}

void ActivityFeed::message_published(const std::string& topic_arn, const std::string& message_id,
                                     const std::string& subject, const std::string& message,
                                     const std::string& timestamp) {
    json entry = {{"topic_arn", topic_arn},
                  {"message_id", message_id},
                  {"subject", subject},
                  {"message", message},
                  {"timestamp", timestamp}};
    const std::string event = dump_json(entry);
    {
        std::lock_guard lock(mutex_);
        messages_.push_back(std::move(entry));
        while (messages_.size() > limits_.max_messages) {
            messages_.pop_front();
        }
        hub_.publish(notify::SseScope::Topic, std::string(kHubArn), message_id, "message", event);
    }

    // The function's own messages also move their photo.
    if (function_topic_.empty() || topic_arn != function_topic_) {
        return;
    }
    if (subject != "photo.processed" && subject != "photo.failed") {
        return;
    }
    if (json_nesting_exceeds(message, kMaxMessageJsonDepth)) {
        return;
    }
    json body = json::parse(message, nullptr, false);
    if (!body.is_object()) {
        return;
    }
    const std::string bucket = string_field(body, "bucket");
    const std::string key = string_field(body, "key");
    const std::string etag = string_field(body, "etag");
    if (bucket.empty() || key.empty()) {
        return;
    }
    if (subject == "photo.failed") {
        photo_failed(bucket, key, etag, string_field(body, "reason"));
        return;
    }
    PhotoState state{"done", "", nullptr, nullptr, iso_now()};
    state.thumbnail_url = thumbnail_url(body.value("outputs", json::array()), bucket);
    state.placeholder = placeholder_of(body.value("manifest", json::object()));
    set_photo(bucket, key, etag, std::move(state));
}

std::optional<PhotoState> ActivityFeed::photo_state(const std::string& bucket,
                                                    const std::string& key,
                                                    const std::string& etag) const {
    std::lock_guard lock(mutex_);
    auto it = photos_.find(photo_key(bucket, key, etag));
    if (it == photos_.end()) {
        return std::nullopt;
    }
    return it->second.first;
}

std::vector<json> ActivityFeed::recent_messages() const {
    std::lock_guard lock(mutex_);
    return {messages_.begin(), messages_.end()};
}

Result<FeedStream> ActivityFeed::open() {
    std::lock_guard lock(mutex_);  // no message slips between the history and the stream
    auto opened = hub_.open(notify::SseScope::Topic, std::string(kHubArn));
    if (!opened) {
        return opened.error();
    }
    FeedStream out{std::move(*opened), {}};
    std::size_t skip = messages_.size() > limits_.history_on_connect
                           ? messages_.size() - limits_.history_on_connect
                           : 0;
    for (std::size_t i = skip; i < messages_.size(); ++i) {
        out.history += notify::sse_event(messages_[i].value("message_id", std::string()),
                                         "message", dump_json(messages_[i]));
    }
    return out;
}

void ActivityFeed::release(const std::shared_ptr<notify::SseStream>& stream) {
    hub_.release(stream);
}

void ActivityFeed::shutdown() { hub_.shutdown("server stopping"); }

}  // namespace pf::console
