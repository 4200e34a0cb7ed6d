// ASCII case helpers for protocol text (header names, checksum names, hosts, form fields).
// Locale-independent on purpose: HTTP and AWS names are ASCII, and a locale must never change
// how a header or a signature is compared.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace pf {

constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string ascii_lowercase(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
    return out;
}

inline bool ascii_iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_lower(x) == ascii_lower(y);
           });
}

}  // namespace pf
