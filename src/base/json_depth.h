// How deeply a JSON text nests objects and arrays, found by scanning the text (brackets inside
// strings do not count). Checked before a parser sees untrusted JSON (POST policies, SNS filter
// and delivery policies, message bodies), so neither the parser nor later walks recurse without
// bound on hostile input. Malformed text is the parser's business; this only counts.
#pragma once

#include <cstddef>
#include <string_view>

namespace pf {

inline bool json_nesting_exceeds(std::string_view text, std::size_t max_depth) {
    std::size_t depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) {
                return true;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return false;
}

}  // namespace pf
