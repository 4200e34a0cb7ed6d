// Byte <-> text encodings used on the wire: lowercase hex (SigV4, ETags) and base64 (Content-MD5,
// checksums, POST policies).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pf::crypto {

// 0-15 for a hex digit (either case), -1 for anything else.
int hex_digit_value(char c);

std::string hex_encode(std::span<const std::uint8_t> bytes);
inline std::string hex_encode(std::string_view bytes) {
    return hex_encode(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}
// Accepts upper- and lowercase; nullopt on odd length or a non-hex character.
std::optional<std::string> hex_decode(std::string_view text);

std::string base64_encode(std::span<const std::uint8_t> bytes);
inline std::string base64_encode(std::string_view bytes) {
    return base64_encode(
        std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}
// Standard alphabet with padding; nullopt on any invalid character or bad padding.
std::optional<std::string> base64_decode(std::string_view text);

// Raw digest bytes as a string (for concatenating digests).
template <std::size_t N>
std::string as_bytes(const std::array<std::uint8_t, N>& digest) {
    return std::string(reinterpret_cast<const char*>(digest.data()), N);
}

} // namespace pf::crypto
