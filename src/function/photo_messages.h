// What the function writes and says, as pure functions (no network): the stored manifest, the
// photo.processed / photo.failed / photo.deleted messages, the keys of the derivatives, and how a
// failure is classified (the photo's fault and final, or worth another try).
//
// The photo.processed message is built from the stored manifest alone, so a duplicate event
// republishes exactly what the first run published without reprocessing the photo.
#pragma once

#include "base/result.h"
#include "imaging/processor.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace pf::function {

// Error types the function reports to its host (the Lambda-Runtime-Function-Error-Type).
inline constexpr std::string_view kPhotoRejected = "Photoflux.PhotoRejected";  // not retried
inline constexpr std::string_view kRetryable = "Photoflux.Retryable";
inline constexpr std::string_view kInvalidEvent = "Photoflux.InvalidEvent";  // not an S3 event

inline constexpr std::string_view kProcessedSubject = "photo.processed";
inline constexpr std::string_view kFailedSubject = "photo.failed";
inline constexpr std::string_view kDeletedSubject = "photo.deleted";

// SNS's Publish limit: message and attributes together (aws-protocols.md §5.7).
inline constexpr std::size_t kMaxSnsMessageBytes = 262'144;
inline constexpr std::size_t kMaxS3KeyBytes = 1024;
inline constexpr std::string_view kManifestFile = "manifest.json";

// S3 user metadata on every object the function writes (x-amz-meta-<name>).
inline constexpr std::string_view kMetaSourceBucket = "source-bucket";
inline constexpr std::string_view kMetaSourceKey = "source-key";  // percent-encoded UTF-8
inline constexpr std::string_view kMetaSourceEtag = "source-etag";
inline constexpr std::string_view kMetaRecipeHash = "recipe-hash";

struct PhotoRef {
    std::string bucket;
    std::string key;   // decoded
    std::string etag;  // unquoted
};

// "<prefix><source key>/": the folder of one photo's derivatives and manifest.
std::string derivative_folder(std::string_view output_prefix, std::string_view source_key);

// Whether a photo's derivatives fit S3's 1024-byte key limit; InvalidArgument naming the longest
// key otherwise.
Result<void> check_output_keys(std::string_view folder, const imaging::Recipe& recipe);

// The manifest as stored: imaging::to_json plus source.{bucket,key,etag}, recipeHash, and each
// output's location (bucket, key).
nlohmann::json stored_manifest(const imaging::ProcessResult& result, const PhotoRef& source,
                               std::string_view output_bucket, std::string_view folder,
                               std::string_view recipe_hash);

// The photo.processed message, from a stored manifest. InvalidArgument when the manifest lacks
// what the message needs (it may be damaged or not ours: the caller then processes again).
// The message's copy of the manifest leaves out GPS coordinates (they stay in the bucket, with
// the photo's owner), and is dropped entirely when it would take the message past SNS's limit.
Result<std::string> processed_message(const nlohmann::json& manifest,
                                      std::string_view manifest_key);

std::string failed_message(const PhotoRef& photo, std::string_view reason,
                           std::string_view error_type);
std::string deleted_message(std::string_view bucket, std::string_view key);

// Whether an imaging failure is the photo's own (unsupported, damaged, over a limit, a crop
// outside it): final, reported as photo.failed and kPhotoRejected. Everything else (timeouts,
// out of memory, a missing watermark) may pass on another try.
bool is_permanent_photo_error(const Error& error);

// The S3 error seen fetching the photo, sorted: the photo changed or vanished since the event
// (no work left), the photo itself cannot be had (403: final), or try again later.
enum class FetchFailure { Superseded, Deleted, Rejected, Retry };
FetchFailure classify_fetch_error(const Error& error);

}  // namespace pf::function
