// The manifest: everything Photoflux learned about one photo and what it made of it. Written as
// JSON beside the derivatives (and, later, published in the "photo processed" notification).
#pragma once

#include "imaging/analysis/exif_reader.h"
#include "imaging/recipe.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pf::imaging {

struct SourceReport {
    std::string name;
    std::string format;
    int width = 0, height = 0;      // upright (after EXIF orientation)
    std::uint64_t bytes = 0;
    int orientation = 1;
    bool has_alpha = false;
    bool progressive = false;
    int frames = 1;
    std::string colour_space;       // libvips interpretation of the stored pixels
    std::optional<std::string> icc_profile;  // the embedded profile's description
};

struct OutputReport {
    std::string name;
    std::string file;               // name.extension
    Format format = Format::Jpeg;
    int width = 0, height = 0;
    std::uint64_t bytes = 0;
    double millis = 0;
};

struct Manifest {
    SourceReport source;
    std::optional<ExifSummary> exif;
    std::string dominant_colour;    // "#rrggbb"
    std::string blurhash;
    int blurhash_x = 0, blurhash_y = 0;
    std::uint64_t perceptual_hash = 0;
    std::vector<OutputReport> outputs;
    double millis = 0;              // the whole photo
    std::string libvips_version;
};

nlohmann::json to_json(const Manifest& manifest);

}  // namespace pf::imaging
