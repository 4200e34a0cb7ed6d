#include "imaging/analysis/exif_reader.h"

#include <array>
#include <cmath>
#include <cstddef>
#include <vector>

namespace pf::imaging {
namespace {

constexpr std::string_view kExifPrefix{"Exif\0\0", 6};
constexpr size_t kTiffHeaderSize = 8;
constexpr size_t kIfdEntrySize = 12;
// Real cameras write a few dozen entries per IFD; anything past this is garbage or an attack.
constexpr size_t kMaxEntriesPerIfd = 1000;
// Display strings longer than this are not useful and only cost memory downstream.
constexpr size_t kMaxStringBytes = 4096;

// TIFF field types we understand (TIFF 6.0 / EXIF 2.3 numbering).
constexpr uint16_t kTypeByte = 1;
constexpr uint16_t kTypeAscii = 2;
constexpr uint16_t kTypeShort = 3;
constexpr uint16_t kTypeLong = 4;
constexpr uint16_t kTypeRational = 5;
constexpr uint16_t kTypeUndefined = 7;
constexpr uint16_t kTypeSRational = 10;

// IFD0 tags.
constexpr uint16_t kTagMake = 0x010F;
constexpr uint16_t kTagModel = 0x0110;
constexpr uint16_t kTagOrientation = 0x0112;
constexpr uint16_t kTagSoftware = 0x0131;
constexpr uint16_t kTagDateTime = 0x0132;
constexpr uint16_t kTagArtist = 0x013B;
constexpr uint16_t kTagCopyright = 0x8298;
constexpr uint16_t kTagExifIfd = 0x8769;
constexpr uint16_t kTagGpsIfd = 0x8825;

// Exif IFD tags.
constexpr uint16_t kTagExposureTime = 0x829A;
constexpr uint16_t kTagFNumber = 0x829D;
constexpr uint16_t kTagIso = 0x8827;
constexpr uint16_t kTagDateTimeOriginal = 0x9003;
constexpr uint16_t kTagOffsetTime = 0x9010;
constexpr uint16_t kTagOffsetTimeOriginal = 0x9011;
constexpr uint16_t kTagFocalLength = 0x920A;
constexpr uint16_t kTagFocalLength35mm = 0xA405;
constexpr uint16_t kTagLensMake = 0xA433;
constexpr uint16_t kTagLensModel = 0xA434;

// GPS IFD tags.
constexpr uint16_t kTagGpsLatitudeRef = 0x0001;
constexpr uint16_t kTagGpsLatitude = 0x0002;
constexpr uint16_t kTagGpsLongitudeRef = 0x0003;
constexpr uint16_t kTagGpsLongitude = 0x0004;
constexpr uint16_t kTagGpsAltitudeRef = 0x0005;
constexpr uint16_t kTagGpsAltitude = 0x0006;

uint32_t type_size(uint16_t type) {
    switch (type) {
    case kTypeByte:
    case kTypeAscii:
    case kTypeUndefined:
        return 1;
    case kTypeShort:
        return 2;
    case kTypeLong:
        return 4;
    case kTypeRational:
    case kTypeSRational:
        return 8;
    default:
        return 0; // Unsupported types are skipped, not rejected: the IFD stays usable.
    }
}

// Byte-order-aware, bounds-checked view of the TIFF stream. Offsets in TIFF are relative to the
// start of the header, so the view starts exactly there.
class TiffView {
public:
    TiffView(std::string_view data, bool little_endian)
        : data_(data), little_endian_(little_endian) {}

    size_t size() const { return data_.size(); }

    // Overflow-free check that [offset, offset + length) lies inside the stream.
    bool in_range(uint64_t offset, uint64_t length) const {
        return offset <= data_.size() && length <= data_.size() - offset;
    }

    std::optional<uint16_t> u16(uint64_t offset) const {
        if (!in_range(offset, 2))
            return std::nullopt;
        const auto b0 = byte(offset);
        const auto b1 = byte(offset + 1);
        return static_cast<uint16_t>(little_endian_ ? (b0 | (b1 << 8)) : ((b0 << 8) | b1));
    }

    std::optional<uint32_t> u32(uint64_t offset) const {
        if (!in_range(offset, 4))
            return std::nullopt;
        uint32_t value = 0;
        for (int i = 0; i < 4; ++i) {
            const uint32_t b = byte(offset + static_cast<uint64_t>(i));
            value |= little_endian_ ? (b << (8 * i)) : (b << (8 * (3 - i)));
        }
        return value;
    }

    std::string_view bytes(uint64_t offset, uint64_t length) const {
        if (!in_range(offset, length))
            return {};
        return data_.substr(static_cast<size_t>(offset), static_cast<size_t>(length));
    }

private:
    uint32_t byte(uint64_t offset) const {
        return static_cast<uint8_t>(data_[static_cast<size_t>(offset)]);
    }

    std::string_view data_;
    bool little_endian_;
};

struct IfdEntry {
    uint16_t tag;
    uint16_t type;
    uint32_t count;
    // Absolute offset of the value bytes; read_ifd guarantees count * type_size bytes fit there.
    uint64_t data_offset;
};

struct Ifd {
    std::vector<IfdEntry> entries;

    const IfdEntry* find(uint16_t tag) const {
        for (const auto& entry : entries) {
            if (entry.tag == tag)
                return &entry;
        }
        return nullptr;
    }
};

// Reads one IFD's entries. Entries whose value would lie outside the stream, or whose type we do
// not understand, are dropped individually so one bad entry does not hide the good ones. Returns
// nullopt only if the IFD header itself is unreadable.
std::optional<Ifd> read_ifd(const TiffView& view, uint32_t offset) {
    // An IFD overlapping the TIFF header is never legitimate.
    if (offset < kTiffHeaderSize)
        return std::nullopt;
    const auto claimed = view.u16(offset);
    if (!claimed)
        return std::nullopt;

    const uint64_t first_entry = uint64_t{offset} + 2;
    const uint64_t available =
        view.in_range(first_entry, 0) ? (view.size() - first_entry) / kIfdEntrySize : 0;
    // Truncated IFDs keep the entries that are fully present; the cap bounds the work done for
    // absurd counts regardless of blob size.
    uint64_t count = *claimed;
    if (count > available)
        count = available;
    if (count > kMaxEntriesPerIfd)
        count = kMaxEntriesPerIfd;

    Ifd ifd;
    ifd.entries.reserve(static_cast<size_t>(count));
    for (uint64_t i = 0; i < count; ++i) {
        const uint64_t at = first_entry + i * kIfdEntrySize;
        const auto tag = view.u16(at);
        const auto type = view.u16(at + 2);
        const auto n = view.u32(at + 4);
        if (!tag || !type || !n)
            break;
        const uint32_t unit = type_size(*type);
        if (unit == 0 || *n == 0)
            continue;
        const uint64_t total = uint64_t{unit} * uint64_t{*n}; // <= 8 * 2^32, no overflow
        uint64_t data_offset = at + 8;
        if (total > 4) {
            const auto pointed = view.u32(at + 8);
            if (!pointed)
                continue;
            data_offset = *pointed;
        }
        if (!view.in_range(data_offset, total))
            continue;
        ifd.entries.push_back(IfdEntry{*tag, *type, *n, data_offset});
    }
    return ifd;
}

std::optional<uint32_t> entry_uint(const TiffView& view, const IfdEntry* entry,
                                   uint32_t index = 0) {
    if (entry == nullptr || index >= entry->count)
        return std::nullopt;
    const uint64_t unit = type_size(entry->type);
    const uint64_t at = entry->data_offset + unit * index;
    switch (entry->type) {
    case kTypeByte: {
        const auto b = view.bytes(at, 1);
        if (b.empty())
            return std::nullopt;
        return static_cast<uint8_t>(b[0]);
    }
    case kTypeShort:
        return view.u16(at);
    case kTypeLong:
        return view.u32(at);
    default:
        return std::nullopt;
    }
}

std::optional<ExifRational> entry_rational(const TiffView& view, const IfdEntry* entry,
                                           uint32_t index = 0) {
    if (entry == nullptr || index >= entry->count)
        return std::nullopt;
    if (entry->type != kTypeRational && entry->type != kTypeSRational)
        return std::nullopt;
    const uint64_t at = entry->data_offset + uint64_t{8} * index;
    const auto num = view.u32(at);
    const auto den = view.u32(at + 4);
    if (!num || !den)
        return std::nullopt;
    ExifRational r{};
    if (entry->type == kTypeSRational) {
        // Two's complement reinterpretation; well-defined in C++20.
        r.num = static_cast<int32_t>(*num);
        r.den = static_cast<int32_t>(*den);
    } else {
        r.num = *num;
        r.den = *den;
    }
    if (r.den == 0)
        return std::nullopt; // undefined value, treat as absent
    return r;
}

double to_double(ExifRational r) {
    return static_cast<double>(r.num) / static_cast<double>(r.den);
}

// Positive finite value of a rational tag, or nullopt.
std::optional<double> entry_positive(const TiffView& view, const IfdEntry* entry) {
    const auto r = entry_rational(view, entry);
    if (!r)
        return std::nullopt;
    const double value = to_double(*r);
    if (!std::isfinite(value) || value <= 0.0)
        return std::nullopt;
    return value;
}

// Raw bytes of a textual tag. EXIF says ASCII, but some writers use UNDEFINED or BYTE for text.
std::string_view entry_text_bytes(const TiffView& view, const IfdEntry* entry) {
    if (entry == nullptr)
        return {};
    if (entry->type != kTypeAscii && entry->type != kTypeUndefined && entry->type != kTypeByte) {
        return {};
    }
    return view.bytes(entry->data_offset, entry->count);
}

bool is_trimmable(char c) {
    return c == ' ' || c == '\0' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_trimmable(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_trimmable(s.back()))
        s.remove_suffix(1);
    return s;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid there.
size_t utf8_sequence_length(std::string_view s, size_t i) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    if (b0 < 0x80)
        return 1;
    size_t len = 0;
    uint32_t min_cp = 0;
    uint32_t cp = 0;
    if ((b0 & 0xE0) == 0xC0) {
        len = 2;
        min_cp = 0x80;
        cp = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3;
        min_cp = 0x800;
        cp = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4;
        min_cp = 0x10000;
        cp = b0 & 0x07;
    } else {
        return 0;
    }
    if (s.size() - i < len)
        return 0;
    for (size_t k = 1; k < len; ++k) {
        const auto b = static_cast<uint8_t>(s[i + k]);
        if ((b & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (b & 0x3F);
    }
    // Reject overlong forms, surrogates and out-of-range code points.
    if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

// Strings end up in JSON, databases and UIs, so they are forced to valid UTF-8 (invalid bytes
// become U+FFFD) and control characters become spaces.
std::string sanitise_text(std::string_view raw) {
    raw = trim(raw);
    if (raw.size() > kMaxStringBytes)
        raw = raw.substr(0, kMaxStringBytes);
    std::string out;
    out.reserve(raw.size());
    size_t i = 0;
    while (i < raw.size()) {
        const size_t len = utf8_sequence_length(raw, i);
        if (len == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
            continue;
        }
        if (len == 1) {
            const auto c = static_cast<uint8_t>(raw[i]);
            out += (c < 0x20 || c == 0x7F) ? ' ' : raw[i];
        } else {
            out.append(raw.substr(i, len));
        }
        i += len;
    }
    const auto trimmed = trim(out);
    return std::string(trimmed);
}

// EXIF text is NUL-terminated; bytes after the first NUL are padding or garbage.
std::string_view up_to_nul(std::string_view s) {
    const auto nul = s.find('\0');
    return nul == std::string_view::npos ? s : s.substr(0, nul);
}

std::optional<std::string> entry_string(const TiffView& view, const IfdEntry* entry) {
    auto text = sanitise_text(up_to_nul(entry_text_bytes(view, entry)));
    if (text.empty())
        return std::nullopt;
    return text;
}

// Copyright may hold "photographer\0editor\0"; a missing photographer part is written as " ".
std::optional<std::string> entry_copyright(const TiffView& view, const IfdEntry* entry) {
    std::string_view raw = entry_text_bytes(view, entry);
    const auto photographer = sanitise_text(up_to_nul(raw));
    std::string editor;
    const auto nul = raw.find('\0');
    if (nul != std::string_view::npos)
        editor = sanitise_text(up_to_nul(raw.substr(nul + 1)));
    if (photographer.empty() && editor.empty())
        return std::nullopt;
    if (editor.empty())
        return photographer;
    if (photographer.empty())
        return editor;
    return photographer + " / " + editor;
}

bool parse_digits(std::string_view s, size_t pos, size_t len, int& out) {
    if (pos + len > s.size())
        return false;
    int value = 0;
    for (size_t i = pos; i < pos + len; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        value = value * 10 + (s[i] - '0');
    }
    out = value;
    return true;
}

// "YYYY:MM:DD HH:MM:SS" -> "YYYY-MM-DDTHH:MM:SS". Dashes in the date part and 'T' as separator
// are accepted because some writers produce them. Blank or zeroed dates mean "unknown".
std::optional<std::string> format_exif_date(std::string_view raw) {
    raw = trim(up_to_nul(raw));
    if (raw.size() < 19)
        return std::nullopt;
    raw = raw.substr(0, 19);
    const auto date_sep = [](char c) { return c == ':' || c == '-'; };
    if (!date_sep(raw[4]) || !date_sep(raw[7]) || (raw[10] != ' ' && raw[10] != 'T') ||
        raw[13] != ':' || raw[16] != ':') {
        return std::nullopt;
    }
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!parse_digits(raw, 0, 4, year) || !parse_digits(raw, 5, 2, month) ||
        !parse_digits(raw, 8, 2, day) || !parse_digits(raw, 11, 2, hour) ||
        !parse_digits(raw, 14, 2, minute) || !parse_digits(raw, 17, 2, second)) {
        return std::nullopt;
    }
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
        second > 60) {
        return std::nullopt;
    }
    std::string out(raw);
    out[4] = '-';
    out[7] = '-';
    out[10] = 'T';
    return out;
}

// "+HH:MM" / "-HH:MM"; anything else (including the blank "   :  ") is ignored.
std::optional<std::string> format_offset(std::string_view raw) {
    raw = trim(up_to_nul(raw));
    if (raw.size() != 6 || (raw[0] != '+' && raw[0] != '-') || raw[3] != ':')
        return std::nullopt;
    int hours = 0, minutes = 0;
    if (!parse_digits(raw, 1, 2, hours) || !parse_digits(raw, 4, 2, minutes))
        return std::nullopt;
    if (hours > 14 || minutes > 59)
        return std::nullopt;
    return std::string(raw);
}

// "1/250" for short exposures. Exposures between 1/4 s and 1 s that are not close to a unit
// fraction (0.3, 0.8, ...) read better as decimals, like cameras display them.
std::string format_exposure(ExifRational r, double seconds) {
    if (seconds < 1.0) {
        const double reciprocal = 1.0 / seconds;
        const double rounded = std::round(reciprocal);
        const bool unit_fraction = r.num == 1 || std::fabs(reciprocal - rounded) < 0.05 * rounded;
        if (rounded >= 2.0 && (unit_fraction || seconds < 0.25)) {
            return "1/" + std::to_string(static_cast<long long>(rounded));
        }
    }
    const long long tenths = std::llround(seconds * 10.0);
    std::string text = std::to_string(tenths / 10);
    if (tenths % 10 != 0)
        text += "." + std::to_string(tenths % 10);
    return text;
}

// Degrees/minutes/seconds (one to three rationals) to decimal degrees, or nullopt if malformed.
std::optional<double> gps_coordinate(const TiffView& view, const IfdEntry* entry, double limit) {
    if (entry == nullptr)
        return std::nullopt;
    constexpr std::array<double, 3> kScale{1.0, 60.0, 3600.0};
    const uint32_t parts = entry->count < 3 ? entry->count : 3;
    double value = 0.0;
    for (uint32_t i = 0; i < parts; ++i) {
        const auto r = entry_rational(view, entry, i);
        if (!r)
            return std::nullopt;
        const double part = to_double(*r);
        if (!std::isfinite(part) || part < 0.0)
            return std::nullopt;
        value += part / kScale[i];
    }
    if (parts == 0 || !(value <= limit))
        return std::nullopt;
    return value;
}

// Hemisphere sign from a reference tag; the tag is required so a sloppy writer can't silently
// put a photo on the wrong side of the planet.
std::optional<double> gps_sign(const TiffView& view, const IfdEntry* entry, char positive,
                               char negative) {
    const auto text = trim(up_to_nul(entry_text_bytes(view, entry)));
    if (text.size() != 1)
        return std::nullopt;
    const char c = text[0];
    if (c == positive || c == positive + ('a' - 'A'))
        return 1.0;
    if (c == negative || c == negative + ('a' - 'A'))
        return -1.0;
    return std::nullopt;
}

std::optional<GpsPosition> read_gps(const TiffView& view, const Ifd& gps) {
    const auto lat = gps_coordinate(view, gps.find(kTagGpsLatitude), 90.0);
    const auto lon = gps_coordinate(view, gps.find(kTagGpsLongitude), 180.0);
    const auto lat_sign = gps_sign(view, gps.find(kTagGpsLatitudeRef), 'N', 'S');
    const auto lon_sign = gps_sign(view, gps.find(kTagGpsLongitudeRef), 'E', 'W');
    if (!lat || !lon || !lat_sign || !lon_sign)
        return std::nullopt;

    GpsPosition pos{*lat * *lat_sign, *lon * *lon_sign, std::nullopt};
    const auto alt = entry_rational(view, gps.find(kTagGpsAltitude));
    if (alt) {
        const double metres = to_double(*alt);
        // Reference 1 means below sea level; a missing reference means above.
        const auto ref = entry_uint(view, gps.find(kTagGpsAltitudeRef));
        if (std::isfinite(metres) && metres >= 0.0 && (!ref || *ref <= 1)) {
            pos.altitude_m = (ref && *ref == 1) ? -metres : metres;
        }
    }
    return pos;
}

struct ParsedIfds {
    Ifd ifd0;
    std::optional<Ifd> exif;
    std::optional<Ifd> gps;
};

// Reads IFD0 and the sub-IFDs it points to. Visited offsets are remembered so a sub-IFD pointer
// aimed at IFD0, at itself or at the other sub-IFD is never parsed twice. There is no recursion:
// only IFD0 and (as a lenient fallback for the GPS pointer) the Exif IFD are searched for pointers.
std::optional<ParsedIfds> read_ifds(const TiffView& view, uint32_t ifd0_offset) {
    auto ifd0 = read_ifd(view, ifd0_offset);
    if (!ifd0)
        return std::nullopt;
    ParsedIfds parsed{std::move(*ifd0), std::nullopt, std::nullopt};
    std::vector<uint32_t> visited{ifd0_offset};
    const auto not_visited = [&](uint32_t offset) {
        for (const auto v : visited) {
            if (v == offset)
                return false;
        }
        return true;
    };

    const auto exif_ptr = entry_uint(view, parsed.ifd0.find(kTagExifIfd));
    if (exif_ptr && not_visited(*exif_ptr)) {
        visited.push_back(*exif_ptr);
        parsed.exif = read_ifd(view, *exif_ptr);
    }

    auto gps_ptr = entry_uint(view, parsed.ifd0.find(kTagGpsIfd));
    if (!gps_ptr && parsed.exif)
        gps_ptr = entry_uint(view, parsed.exif->find(kTagGpsIfd));
    if (gps_ptr && not_visited(*gps_ptr)) {
        visited.push_back(*gps_ptr);
        parsed.gps = read_ifd(view, *gps_ptr);
    }
    return parsed;
}

} // namespace

std::optional<ExifSummary> read_exif(std::string_view blob) {
    if (blob.substr(0, kExifPrefix.size()) == kExifPrefix)
        blob.remove_prefix(kExifPrefix.size());
    if (blob.size() < kTiffHeaderSize)
        return std::nullopt;

    bool little_endian = false;
    if (blob.substr(0, 4) == std::string_view("II*\0", 4)) {
        little_endian = true;
    } else if (blob.substr(0, 4) != std::string_view("MM\0*", 4)) {
        return std::nullopt;
    }
    const TiffView view(blob, little_endian);
    const auto ifd0_offset = view.u32(4);
    if (!ifd0_offset)
        return std::nullopt;
    const auto ifds = read_ifds(view, *ifd0_offset);
    if (!ifds)
        return std::nullopt;

    const Ifd& ifd0 = ifds->ifd0;
    static const Ifd kEmpty;
    const Ifd& exif = ifds->exif ? *ifds->exif : kEmpty;

    ExifSummary s;
    s.make = entry_string(view, ifd0.find(kTagMake));
    s.model = entry_string(view, ifd0.find(kTagModel));
    s.software = entry_string(view, ifd0.find(kTagSoftware));
    s.artist = entry_string(view, ifd0.find(kTagArtist));
    s.copyright = entry_copyright(view, ifd0.find(kTagCopyright));
    s.lens_make = entry_string(view, exif.find(kTagLensMake));
    s.lens_model = entry_string(view, exif.find(kTagLensModel));

    if (const auto o = entry_uint(view, ifd0.find(kTagOrientation)); o && *o >= 1 && *o <= 8) {
        s.orientation = static_cast<int>(*o);
    }

    // The offset is only meaningful with the timestamp it belongs to.
    if (auto date = format_exif_date(entry_text_bytes(view, exif.find(kTagDateTimeOriginal)))) {
        const auto offset =
            format_offset(entry_text_bytes(view, exif.find(kTagOffsetTimeOriginal)));
        s.date_taken = *date + offset.value_or("");
    } else if (auto modified = format_exif_date(entry_text_bytes(view, ifd0.find(kTagDateTime)))) {
        const auto offset = format_offset(entry_text_bytes(view, exif.find(kTagOffsetTime)));
        s.date_taken = *modified + offset.value_or("");
    }

    if (const auto r = entry_rational(view, exif.find(kTagExposureTime))) {
        const double seconds = to_double(*r);
        if (std::isfinite(seconds) && seconds > 0.0) {
            s.exposure_time_s = seconds;
            s.exposure_time_text = format_exposure(*r, seconds);
        }
    }
    s.f_number = entry_positive(view, exif.find(kTagFNumber));
    s.focal_length_mm = entry_positive(view, exif.find(kTagFocalLength));
    if (const auto iso = entry_uint(view, exif.find(kTagIso)); iso && *iso > 0) {
        // SHORT or LONG; a LONG above INT_MAX is nonsense and dropped.
        if (*iso <= 0x7FFFFFFFu)
            s.iso = static_cast<int>(*iso);
    }
    if (const auto f35 = entry_uint(view, exif.find(kTagFocalLength35mm)); f35 && *f35 > 0) {
        if (*f35 <= 0x7FFFFFFFu)
            s.focal_length_35mm = static_cast<int>(*f35);
    }
    if (ifds->gps)
        s.gps = read_gps(view, *ifds->gps);
    return s;
}

} // namespace pf::imaging
