#include "imaging/analysis/icc_profile.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace pf::imaging {
namespace {

constexpr size_t kHeaderSize = 128;
constexpr size_t kTagEntrySize = 12;
constexpr size_t kColourSpaceOffset = 16;
constexpr size_t kMagicOffset = 36;
constexpr std::string_view kMagic = "acsp";
// Real profiles carry tens of tags; the cap bounds the scan for hostile counts.
constexpr uint32_t kMaxTags = 1024;
constexpr uint32_t kMaxMlucRecords = 1024;
// Descriptions are one-line labels; anything longer is truncated to keep output bounded.
constexpr size_t kMaxDescriptionBytes = 1024;

uint32_t read_u32_be(std::string_view data, size_t offset) {
    uint32_t value = 0;
    for (size_t i = 0; i < 4; ++i) {
        value = (value << 8) | static_cast<uint8_t>(data[offset + i]);
    }
    return value;
}

uint16_t read_u16_be(std::string_view data, size_t offset) {
    return static_cast<uint16_t>((static_cast<uint8_t>(data[offset]) << 8) |
                                 static_cast<uint8_t>(data[offset + 1]));
}

bool in_range(size_t size, uint64_t offset, uint64_t length) {
    return offset <= size && length <= size - offset;
}

// The usable profile: the header's declared size bounds the tag data when it is smaller than the
// buffer (trailing bytes are not part of the profile); a larger declared size is tolerated, as
// colour management libraries do, because the tag extents are checked against the buffer anyway.
std::optional<std::string_view> profile_bytes(std::string_view profile) {
    if (profile.size() < kHeaderSize)
        return std::nullopt;
    if (profile.substr(kMagicOffset, kMagic.size()) != kMagic)
        return std::nullopt;
    const uint32_t declared = read_u32_be(profile, 0);
    if (declared < kHeaderSize)
        return std::nullopt;
    if (declared < profile.size())
        profile = profile.substr(0, declared);
    return profile;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Control characters would corrupt single-line UI labels and logs.
uint32_t printable(uint32_t cp) {
    return (cp < 0x20 || cp == 0x7F) ? uint32_t{' '} : cp;
}

std::string trim_spaces(const std::string& s) {
    const auto first = s.find_first_not_of(' ');
    if (first == std::string::npos)
        return {};
    const auto last = s.find_last_not_of(' ');
    return s.substr(first, last - first + 1);
}

bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto b0 = static_cast<uint8_t>(s[i]);
        size_t len = 0;
        uint32_t cp = 0;
        uint32_t min_cp = 0;
        if (b0 < 0x80) {
            ++i;
            continue;
        } else if ((b0 & 0xE0) == 0xC0) {
            len = 2;
            cp = b0 & 0x1F;
            min_cp = 0x80;
        } else if ((b0 & 0xF0) == 0xE0) {
            len = 3;
            cp = b0 & 0x0F;
            min_cp = 0x800;
        } else if ((b0 & 0xF8) == 0xF0) {
            len = 4;
            cp = b0 & 0x07;
            min_cp = 0x10000;
        } else {
            return false;
        }
        if (s.size() - i < len)
            return false;
        for (size_t k = 1; k < len; ++k) {
            const auto b = static_cast<uint8_t>(s[i + k]);
            if ((b & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (b & 0x3F);
        }
        if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

// v2 textDescriptionType: 'desc', 4 reserved, uint32 ASCII count (including the NUL), ASCII.
// The spec says 7-bit ASCII, but profiles in the wild contain UTF-8 or Latin-1 (e.g. "©"), so
// valid UTF-8 is kept and anything else is read as Latin-1.
std::optional<std::string> decode_text_description(std::string_view tag) {
    if (tag.size() < 12)
        return std::nullopt;
    const uint32_t count = read_u32_be(tag, 8);
    if (!in_range(tag.size(), 12, count))
        return std::nullopt;
    std::string_view text = tag.substr(12, count);
    if (const auto nul = text.find('\0'); nul != std::string_view::npos)
        text = text.substr(0, nul);
    if (text.size() > kMaxDescriptionBytes)
        text = text.substr(0, kMaxDescriptionBytes);

    std::string out;
    out.reserve(text.size());
    if (valid_utf8(text)) {
        for (const char c : text) {
            const auto b = static_cast<uint8_t>(c);
            out += (b < 0x20 || b == 0x7F) ? ' ' : c;
        }
    } else {
        for (const char c : text)
            append_utf8(out, printable(static_cast<uint8_t>(c)));
    }
    out = trim_spaces(out);
    if (out.empty())
        return std::nullopt;
    return out;
}

// UTF-16BE to UTF-8, stopping at a NUL; unpaired surrogates become U+FFFD.
std::string utf16be_to_utf8(std::string_view bytes) {
    std::string out;
    const size_t units = bytes.size() / 2;
    for (size_t i = 0; i < units && out.size() < kMaxDescriptionBytes; ++i) {
        uint32_t cp = read_u16_be(bytes, 2 * i);
        if (cp == 0)
            break;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (i + 1 < units) {
                const uint32_t low = read_u16_be(bytes, 2 * (i + 1));
                if (low >= 0xDC00 && low <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    ++i;
                } else {
                    cp = 0xFFFD;
                }
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
        }
        append_utf8(out, printable(cp));
    }
    return trim_spaces(out);
}

// v4 multiLocalizedUnicodeType: 'mluc', 4 reserved, uint32 record count, uint32 record size (12),
// then records {uint16 language, uint16 country, uint32 byte length, uint32 offset from tag start}.
std::optional<std::string> decode_mluc(std::string_view tag) {
    if (tag.size() < 16)
        return std::nullopt;
    const uint32_t records = read_u32_be(tag, 8);
    const uint32_t record_size = read_u32_be(tag, 12);
    // Record size is fixed at 12 by the spec; larger sizes are allowed for future extensions.
    if (record_size < 12 || records == 0)
        return std::nullopt;
    const uint64_t available = (tag.size() - 16) / record_size;
    const uint64_t count = std::min<uint64_t>({records, available, kMaxMlucRecords});

    std::optional<std::string> first, english, en_us;
    for (uint64_t i = 0; i < count && !en_us; ++i) {
        const size_t at = static_cast<size_t>(16 + i * record_size);
        const std::string_view language = tag.substr(at, 2);
        const std::string_view country = tag.substr(at + 2, 2);
        const uint32_t length = read_u32_be(tag, at + 4);
        const uint32_t offset = read_u32_be(tag, at + 8);
        if (!in_range(tag.size(), offset, length))
            continue;
        auto text = utf16be_to_utf8(tag.substr(offset, length));
        if (text.empty())
            continue;
        if (language == "en" && country == "US") {
            en_us = std::move(text);
        } else if (language == "en") {
            if (!english)
                english = std::move(text);
        } else if (!first) {
            first = std::move(text);
        }
    }
    if (en_us)
        return en_us;
    if (english)
        return english;
    return first;
}

} // namespace

std::optional<std::string> icc_description(std::string_view profile) {
    const auto bytes = profile_bytes(profile);
    if (!bytes)
        return std::nullopt;
    const std::string_view data = *bytes;
    if (!in_range(data.size(), kHeaderSize, 4))
        return std::nullopt;
    const uint32_t tag_count = read_u32_be(data, kHeaderSize);
    const size_t first_entry = kHeaderSize + 4;
    const uint64_t available = (data.size() - first_entry) / kTagEntrySize;
    const uint64_t count = std::min<uint64_t>({tag_count, available, kMaxTags});

    for (uint64_t i = 0; i < count; ++i) {
        const size_t at = static_cast<size_t>(first_entry + i * kTagEntrySize);
        if (data.substr(at, 4) != "desc")
            continue;
        const uint32_t offset = read_u32_be(data, at + 4);
        const uint32_t size = read_u32_be(data, at + 8);
        // A tag extending past the profile means truncation or corruption: report nothing rather
        // than a half-read label.
        if (offset < kHeaderSize || !in_range(data.size(), offset, size) || size < 8) {
            return std::nullopt;
        }
        const std::string_view tag = data.substr(offset, size);
        const std::string_view type = tag.substr(0, 4);
        if (type == "desc")
            return decode_text_description(tag);
        if (type == "mluc")
            return decode_mluc(tag);
        return std::nullopt;
    }
    return std::nullopt;
}

std::optional<std::string> icc_colour_space(std::string_view profile) {
    const auto bytes = profile_bytes(profile);
    if (!bytes)
        return std::nullopt;
    std::string signature(bytes->substr(kColourSpaceOffset, 4));
    for (const char c : signature) {
        const bool digit = c >= '0' && c <= '9';
        const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        if (!digit && !letter && c != ' ')
            return std::nullopt;
    }
    signature = trim_spaces(signature);
    if (signature.empty())
        return std::nullopt;
    return signature;
}

} // namespace pf::imaging
