#pragma once

// Hostile-input-safe readers for the two ICC profile facts the pipeline displays: the profile's
// human-readable description and its data colour space. Pure functions on the raw profile bytes
// (as found in libvips' `icc-profile-data` field); no colour management library involved.

#include <optional>
#include <string>
#include <string_view>

namespace pf::imaging {

// The 'desc' tag's text as UTF-8. Handles both the ICC v2 textDescriptionType ('desc', ASCII
// part) and the v4 multiLocalizedUnicodeType ('mluc', UTF-16BE; en-US preferred, then any English
// record, then the first record). The type is taken from the tag data, not the header version,
// because real profiles mix them. Returns nullopt when the profile header, tag table or the
// tag's declared extent is damaged or truncated, or when the text is empty.
std::optional<std::string> icc_description(std::string_view profile);

// The header's data colour space signature with trailing spaces removed ("RGB", "CMYK", "GRAY",
// "Lab", ...). Returns nullopt for anything that is not an ICC header or whose signature is not
// printable ASCII.
std::optional<std::string> icc_colour_space(std::string_view profile);

} // namespace pf::imaging
