// The photos the console shows: objects of a bucket under the upload prefix, newest first, each
// with its state (uploaded / processing / done / failed), read from the store, the function's
// manifests and the activity feed. Read-only; never writes to the store.
//
// Listing sorts by last-modified time, which the store cannot do for us (it lists in key order):
// every page gathers the keys under the prefix (at most max_scan of them: beyond that the oldest
// keys in byte order are not shown, a limit of this local tool, noted in the README) and sorts
// them. The cursor is the position of the last photo shown ((time, key), hex-encoded), so photos
// uploaded while a person scrolls do not shift the pages.
#pragma once

#include "base/result.h"
#include "console/activity_feed.h"
#include "console/console_api.h"
#include "storage/object_store.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace pf::console {

struct CatalogLimits {
    std::size_t max_scan = 100'000;                 // keys gathered per listing
    std::size_t max_manifest_bytes = 4u << 20;      // larger manifests are ignored
    std::size_t max_page = 200;
};

struct PhotoPage {
    nlohmann::json photos = nlohmann::json::array();
    std::optional<std::string> next_cursor;
};

class PhotoCatalog {
public:
    PhotoCatalog(storage::ObjectStore& store, PhotoLayout layout, const ActivityFeed& feed,
                 CatalogLimits limits = {});

    // `prefix` empty: the upload prefix. InvalidArgument for a malformed cursor or limit,
    // NotFound when the bucket does not exist.
    Result<PhotoPage> list(const std::string& bucket, const std::string& prefix,
                           const std::string& cursor, std::size_t limit) const;
    // {"photo", "manifest", "derivatives", "original"} as in docs/console.md; NotFound when the
    // object does not exist.
    Result<nlohmann::json> detail(const std::string& bucket, const std::string& key) const;

    // Where the function puts a photo's manifest.
    std::string manifest_bucket(const std::string& photo_bucket) const;
    std::string manifest_key(const std::string& photo_key) const;
    // The stored manifest of a photo, or nullopt when there is none (or it is unreadable JSON or
    // over the size limit).
    Result<std::optional<nlohmann::json>> read_manifest(const std::string& bucket,
                                                        const std::string& key) const;

private:
    // The photo JSON (and the matching manifest, when it was made from this very upload).
    Result<nlohmann::json> photo_json(const std::string& bucket, const std::string& key,
                                      std::uint64_t bytes, const std::string& etag,
                                      storage::TimePoint last_modified,
                                      std::optional<nlohmann::json>* manifest_out) const;

    storage::ObjectStore& store_;
    const PhotoLayout layout_;
    const ActivityFeed& feed_;
    const CatalogLimits limits_;
};

}  // namespace pf::console
