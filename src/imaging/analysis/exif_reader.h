#pragma once

// Minimal, hostile-input-safe EXIF reader.
//
// Parses the raw EXIF blob libvips exposes as the `exif-data` metadata field ("Exif\0\0" followed
// by a TIFF header) or a bare TIFF stream ("II*\0" / "MM\0*"), and extracts the handful of tags
// the pipeline displays or stores. It does not depend on libvips: it is a pure function on bytes.
//
// Safety contract: every offset and count read from the blob is bounds-checked against the blob,
// each IFD is visited at most once (so offset loops terminate), entries per IFD are capped, and
// no allocation is sized from an attacker-claimed count beyond small fixed caps.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pf::imaging {

struct ExifRational {
    int64_t num;
    int64_t den;
};

struct GpsPosition {
    double latitude;                  // degrees, negative = south
    double longitude;                 // degrees, negative = west
    std::optional<double> altitude_m; // negative = below sea level
};

struct ExifSummary {
    std::optional<std::string> make, model, lens_make, lens_model, software, artist, copyright;
    // DateTimeOriginal (fallback DateTime) as ISO 8601 "2024-05-01T12:34:56", with the
    // OffsetTimeOriginal (or OffsetTime for the DateTime fallback) appended when present and
    // well-formed, e.g. "2024-05-01T12:34:56+02:00".
    std::optional<std::string> date_taken;
    std::optional<double> exposure_time_s;         // ExposureTime in seconds
    std::optional<std::string> exposure_time_text; // "1/250" for < 1 s, "2" or "2.5" otherwise
    std::optional<double> f_number;
    std::optional<int> iso; // PhotographicSensitivity (a.k.a. ISOSpeedRatings)
    std::optional<double> focal_length_mm;
    std::optional<int> focal_length_35mm;
    std::optional<int> orientation; // 1..8 only when valid
    std::optional<GpsPosition> gps; // only if latitude and longitude are present and valid
};

// Returns nullopt if the blob does not contain a parseable TIFF header and IFD0. A structurally
// damaged blob past that point yields whatever fields could be read safely.
std::optional<ExifSummary> read_exif(std::string_view blob);

} // namespace pf::imaging
