// Conditional requests (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since and their
// x-amz-copy-source-if-* twins) and byte ranges, evaluated against a stored object as S3 does.
#pragma once

#include "http/server.h"
#include "storage/object_store.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pf::s3api {

enum class ConditionOutcome { Proceed, NotModified, PreconditionFailed };

// header_prefix: "" for GET/HEAD, "x-amz-copy-source-" for copies.
ConditionOutcome evaluate_conditions(const http::Request& request, const storage::ObjectInfo& info,
                                     std::string_view header_prefix = "");

// Strips surrounding quotes (and a W/ weak prefix) for comparisons.
std::string unquoted(std::string_view etag);

// True when `header` (a list of quoted ETags or "*") matches `etag` (unquoted).
bool etag_matches(std::string_view header, std::string_view etag);

struct ByteRange {
    std::uint64_t first = 0;
    std::uint64_t length = 0;
};
enum class RangeOutcome { Whole, Partial, Unsatisfiable };
// "bytes=a-b" | "bytes=a-" | "bytes=-n". Invalid syntax and multiple ranges mean the whole object,
// as S3 does.
RangeOutcome parse_range(std::string_view header, std::uint64_t size, ByteRange& out);

}  // namespace pf::s3api
