// Object metadata between HTTP headers and the store: Content-* headers and x-amz-meta-* in
// (names lowercased, 2 KB limit), and the same headers back out on GET and HEAD.
#pragma once

#include "http/server.h"
#include "s3api/cors.h"
#include "s3api/s3_error.h"
#include "storage/object_store.h"

#include <optional>
#include <utility>

namespace pf::s3api {

// From request headers, or from POST form fields given as (lowercase name, value) pairs.
std::optional<S3Error> metadata_from_fields(const std::vector<std::pair<std::string, std::string>>& fields,
                                            storage::ObjectMetadata& out);

// The headers GET and HEAD return for stored metadata (not checksums, which depend on the request).
HeaderPairs metadata_headers(const storage::ObjectMetadata& metadata);

}  // namespace pf::s3api
