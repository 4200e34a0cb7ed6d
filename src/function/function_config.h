// The photo function's settings, read from its environment (the Lambda function configuration on
// AWS, the host's worker environment under `photoflux serve`). Every bad value is reported in one
// error, one line per variable, and the runtime reports it as an init error.
//
//   PF_RECIPE              the recipe inline (YAML or JSON)
//   PF_RECIPE_FILE         a recipe file; relative paths resolve against LAMBDA_TASK_ROOT
//                          (the unzipped package), else the working directory
//                          (neither set: the built-in recipe)
//   PF_OUTPUT_BUCKET       where derivatives go (default: the photo's own bucket)
//   PF_OUTPUT_PREFIX       key prefix of the derivatives (default "processed/")
//   PF_TOPIC_ARN           SNS topic for photo.processed / photo.failed / photo.deleted
//                          (empty: publish nothing)
//   PF_DELETE_DERIVATIVES  remove a photo's derivatives when it is deleted (default true)
//   PF_MAX_PHOTO_BYTES     the largest photo fetched (default 100 MiB; it is held in memory)
//   PF_VIPS_CONCURRENCY    libvips threads per photo (default 0: one per core)
#pragma once

#include "aws/aws_environment.h"
#include "base/result.h"
#include "config/imaging_config.h"
#include "imaging/recipe.h"

#include <cstdint>
#include <filesystem>
#include <string>

namespace pf::function {

inline constexpr std::uint64_t kDefaultMaxPhotoBytes = 100ull << 20;
// Photos are buffered whole (libvips decodes from memory); Lambda's largest memory is 10 GB.
inline constexpr std::uint64_t kMaxPhotoBytesLimit = 4ull << 30;
inline constexpr std::uint64_t kMaxRecipeBytes = 256 * 1024;
inline constexpr std::size_t kMaxOutputPrefixBytes = 512;

struct FunctionConfig {
    imaging::Recipe recipe{{}};
    std::string recipe_source;  // "PF_RECIPE", the recipe file's path, or "built-in"
    std::string recipe_hash;    // first 16 hex digits of SHA-256 of the recipe text
    std::string output_bucket;  // empty: each photo's own bucket
    std::string output_prefix = "processed/";
    std::string topic_arn;  // empty: publish nothing
    bool delete_derivatives = true;
    std::uint64_t max_photo_bytes = kDefaultMaxPhotoBytes;
    int vips_concurrency = 0;       // 0: one libvips thread per core
    config::ImagingConfig imaging;  // the engine's defaults; max_input_bytes follows the above
};

// InvalidArgument listing every problem ("invalid function configuration:\n  PF_X: ...").
// `imaging`: the engine settings to start from (the PF_IMAGING_* limits `photoflux` read from its
// environment and config file); PF_MAX_PHOTO_BYTES and PF_VIPS_CONCURRENCY override theirs.
Result<FunctionConfig> load_function_config(const aws::EnvironmentMap& env,
                                            const config::ImagingConfig& imaging = {});

// "3f9a0c..." (16 lowercase hex digits): what a manifest records so that a changed recipe makes
// every photo count as not yet processed.
std::string recipe_hash(std::string_view recipe_text);

// An S3 bucket name as S3 accepts it (3-63 of [a-z0-9.-], letter or digit at both ends, not an
// IPv4 address).
bool valid_bucket_name(std::string_view name);

}  // namespace pf::function
