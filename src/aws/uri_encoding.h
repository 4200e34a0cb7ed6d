// Percent-encoding rules of AWS: SigV4's UriEncode (RFC 3986 unreserved set kept, uppercase hex,
// space as %20), decoding of paths (once, '+' literal) and of query strings / form bodies ('+' is a
// space), and splitting a query string into decoded pairs in wire order.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::aws {

// UriEncode from the SigV4 spec. keep_slash: '/' stays as is (canonical URI of S3 paths).
std::string uri_encode(std::string_view bytes, bool keep_slash);

// Percent-decodes once. '+' stays '+'. nullopt on a malformed escape ("%G1", trailing "%").
std::optional<std::string> percent_decode_path(std::string_view text);
// Percent-decodes once with '+' as space (query strings, form bodies, S3 event keys).
std::optional<std::string> form_decode(std::string_view text);
// Form encoding as S3 events and encoding-type=url listings use it: unreserved kept, space -> '+',
// everything else %XX (so a literal '+' becomes %2B).
std::string form_encode(std::string_view bytes);

using QueryParams = std::vector<std::pair<std::string, std::string>>;
// "a=1&b&c=x%20y" -> {{"a","1"},{"b",""},{"c","x y"}}; nullopt on a malformed escape.
std::optional<QueryParams> parse_query(std::string_view query);

} // namespace pf::aws
