#include "console/photo_catalog.h"

#include "aws/time_format.h"
#include "base/json_depth.h"
#include "base/logging.h"
#include "crypto/encoding.h"

#include <algorithm>
#include <charconv>
#include <vector>

namespace pf::console {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxManifestDepth = 64;
constexpr std::string_view kManifestFile = "manifest.json";

std::shared_ptr<spdlog::logger> logger() {
    static auto log = component_logger("console");
    return log;
}

std::int64_t unix_seconds(storage::TimePoint t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Newest first; equal times in key order (stable across pages).
bool newer_first(std::int64_t a_time, const std::string& a_key, std::int64_t b_time,
                 const std::string& b_key) {
    return a_time != b_time ? a_time > b_time : a_key < b_key;
}

std::string encode_cursor(std::int64_t time, const std::string& key) {
    return crypto::hex_encode(std::to_string(time) + "\n" + key);
}

std::optional<std::pair<std::int64_t, std::string>> decode_cursor(std::string_view cursor) {
    auto text = crypto::hex_decode(cursor);
    if (!text) {
        return std::nullopt;
    }
    auto newline = text->find('\n');
    if (newline == std::string::npos) {
        return std::nullopt;
    }
    std::int64_t time = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + newline, time);
    if (ec != std::errc() || end != text->data() + newline) {
        return std::nullopt;
    }
    return std::make_pair(time, text->substr(newline + 1));
}

std::string string_at(const json& object, const char* name) {
    if (!object.is_object()) {
        return {};
    }
    auto it = object.find(name);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

PhotoCatalog::PhotoCatalog(storage::ObjectStore& store, PhotoLayout layout,
                           const ActivityFeed& feed, CatalogLimits limits)
    : store_(store), layout_(std::move(layout)), feed_(feed), limits_(limits) {}

std::string PhotoCatalog::manifest_bucket(const std::string& photo_bucket) const {
    return layout_.output_bucket.empty() ? photo_bucket : layout_.output_bucket;
}

std::string PhotoCatalog::manifest_key(const std::string& photo_key) const {
    return layout_.output_prefix + photo_key + "/" + std::string(kManifestFile);
}

Result<std::optional<json>> PhotoCatalog::read_manifest(const std::string& bucket,
                                                        const std::string& key) const {
    const std::string where = manifest_bucket(bucket);
    const std::string manifest = manifest_key(key);
    auto reader = store_.open_object(where, manifest);
    if (!reader) {
        if (reader.error().code == ErrorCode::NotFound) {
            return std::optional<json>();
        }
        return reader.error();
    }
    if ((*reader)->info().size > limits_.max_manifest_bytes) {
        logger()->warn("event=manifest_too_large bucket={} key={} bytes={}", where, manifest,
                       (*reader)->info().size);
        return std::optional<json>();
    }
    std::string text;
    text.resize((*reader)->info().size);
    std::size_t filled = 0;
    while (filled < text.size()) {
        auto n = (*reader)->read(std::span<char>(text.data() + filled, text.size() - filled));
        if (!n) {
            return n.error();
        }
        if (*n == 0) {
            break;
        }
        filled += *n;
    }
    text.resize(filled);
    if (json_nesting_exceeds(text, kMaxManifestDepth)) {
        return std::optional<json>();
    }
    json parsed = json::parse(text, nullptr, false);
    if (!parsed.is_object()) {
        logger()->warn("event=manifest_unreadable bucket={} key={}", where, manifest);
        return std::optional<json>();
    }
    return std::optional<json>(std::move(parsed));
}

Result<json> PhotoCatalog::photo_json(const std::string& bucket, const std::string& key,
                                      std::uint64_t bytes, const std::string& etag_raw,
                                      storage::TimePoint last_modified,
                                      std::optional<json>* manifest_out) const {
    const std::string etag = unquote_etag(etag_raw);
    json photo = {{"bucket", bucket},
                  {"key", key},
                  {"bytes", bytes},
                  {"etag", etag},
                  {"last_modified", aws::format_iso8601_millis(last_modified)},
                  {"status", "uploaded"},
                  {"reason", nullptr},
                  {"manifest_key", nullptr},
                  {"thumbnail_url", nullptr},
                  {"placeholder", nullptr}};
    auto manifest = read_manifest(bucket, key);
    if (!manifest) {
        return manifest.error();
    }
    // `done` only when the manifest was made from this very upload.
    if (*manifest && unquote_etag(string_at((**manifest).value("source", json::object()), "etag")) == etag) {
        photo["status"] = "done";
        photo["manifest_key"] = manifest_key(key);
        photo["thumbnail_url"] =
            thumbnail_url((**manifest).value("outputs", json::array()), manifest_bucket(bucket));
        photo["placeholder"] = placeholder_of(**manifest);
        if (manifest_out) {
            *manifest_out = std::move(*manifest);
        }
        return photo;
    }
    if (auto state = feed_.photo_state(bucket, key, etag)) {
        photo["status"] = state->status;
        photo["reason"] = state->reason.empty() ? json(nullptr) : json(state->reason);
        photo["thumbnail_url"] = state->thumbnail_url;
        photo["placeholder"] = state->placeholder;
    }
    return photo;
}

Result<PhotoPage> PhotoCatalog::list(const std::string& bucket, const std::string& prefix,
                                     const std::string& cursor, std::size_t limit) const {
    if (limit < 1 || limit > limits_.max_page) {
        return make_error(ErrorCode::InvalidArgument,
                          "limit must be between 1 and " + std::to_string(limits_.max_page));
    }
    std::optional<std::pair<std::int64_t, std::string>> after;
    if (!cursor.empty()) {
        after = decode_cursor(cursor);
        if (!after) {
            return make_error(ErrorCode::InvalidArgument, "malformed cursor");
        }
    }
    const std::string& scan_prefix = prefix.empty() ? layout_.upload_prefix : prefix;
    // Derivatives live under the output prefix of the output bucket; they are not photos.
    const bool skip_outputs =
        !layout_.output_prefix.empty() && manifest_bucket(bucket) == bucket;

    std::vector<storage::ObjectSummary> objects;
    storage::ListQuery query;
    query.prefix = scan_prefix;
    query.max_keys = 1000;
    std::size_t scanned = 0;
    while (scanned < limits_.max_scan) {
        auto page = store_.list_objects(bucket, query);
        if (!page) {
            return page.error();
        }
        for (auto& object : page->objects) {
            ++scanned;
            if (object.key.ends_with('/') ||
                (skip_outputs && object.key.starts_with(layout_.output_prefix))) {
                continue;
            }
            objects.push_back(std::move(object));
        }
        if (!page->truncated || page->resume_after.empty()) {
            break;
        }
        query.start_after = page->resume_after;
    }
    if (scanned >= limits_.max_scan) {
        logger()->warn("event=photo_scan_capped bucket={} prefix={} keys={}", bucket, scan_prefix,
                       scanned);
    }

    std::sort(objects.begin(), objects.end(), [](const auto& a, const auto& b) {
        return newer_first(unix_seconds(a.last_modified), a.key, unix_seconds(b.last_modified),
                           b.key);
    });
    auto begin = objects.begin();
    if (after) {
        begin = std::upper_bound(objects.begin(), objects.end(), *after,
                                 [](const auto& position, const auto& object) {
                                     return newer_first(position.first, position.second,
                                                        unix_seconds(object.last_modified),
                                                        object.key);
                                 });
    }

    PhotoPage out;
    auto it = begin;
    for (; it != objects.end() && out.photos.size() < limit; ++it) {
        auto photo = photo_json(bucket, it->key, it->size, it->etag, it->last_modified, nullptr);
        if (!photo) {
            return photo.error();
        }
        out.photos.push_back(std::move(*photo));
    }
    if (it != objects.end() && !out.photos.empty()) {
        const auto& last = *(it - 1);
        out.next_cursor = encode_cursor(unix_seconds(last.last_modified), last.key);
    }
    return out;
}

Result<json> PhotoCatalog::detail(const std::string& bucket, const std::string& key) const {
    auto info = store_.head_object(bucket, key);
    if (!info) {
        return info.error();
    }
    std::optional<json> manifest;
    auto photo = photo_json(bucket, key, info->size, info->etag, info->last_modified, &manifest);
    if (!photo) {
        return photo.error();
    }
    json derivatives = json::array();
    if (manifest) {
        const std::string default_bucket = manifest_bucket(bucket);
        const json outputs = manifest->value("outputs", json::array());
        for (const json& output : outputs) {
            if (!output.is_object() || string_at(output, "key").empty()) {
                continue;
            }
            std::string out_bucket = string_at(output, "bucket");
            if (out_bucket.empty()) {
                out_bucket = default_bucket;
            }
            derivatives.push_back({{"name", output.value("name", json(nullptr))},
                                   {"key", output["key"]},
                                   {"format", output.value("format", json(nullptr))},
                                   {"content_type", output.value("content_type", json(nullptr))},
                                   {"width", output.value("width", json(nullptr))},
                                   {"height", output.value("height", json(nullptr))},
                                   {"bytes", output.value("bytes", json(nullptr))},
                                   {"url", object_url(out_bucket, string_at(output, "key"))}});
        }
    }
    json original = {{"key", key},
                     {"bytes", info->size},
                     {"content_type", info->metadata.content_type.empty()
                                          ? json("application/octet-stream")
                                          : json(info->metadata.content_type)},
                     {"etag", unquote_etag(info->etag)},
                     {"last_modified", aws::format_iso8601_millis(info->last_modified)},
                     {"url", object_url(bucket, key)}};
    return json{{"photo", std::move(*photo)},
                {"manifest", manifest ? std::move(*manifest) : json(nullptr)},
                {"derivatives", std::move(derivatives)},
                {"original", std::move(original)}};
}

}  // namespace pf::console
