// The stored form of ObjectMetadata: a list of (field, value) byte strings, each written as a
// netstring ("<length>:<bytes>,"). Header values are arbitrary bytes (not necessarily UTF-8), so a
// length-prefixed form is used rather than JSON. Unknown fields are skipped when decoding, so an
// older binary can read rows written by a newer one.
#pragma once

#include "base/result.h"
#include "storage/object_store.h"

#include <string>
#include <string_view>

namespace pf::storage {

std::string encode_metadata(const ObjectMetadata& metadata);
// Internal when the stored bytes are malformed (the index is damaged).
Result<ObjectMetadata> decode_metadata(std::string_view bytes);

}  // namespace pf::storage
