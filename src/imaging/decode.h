// The first steps of every photo: recognise the format from the content, read the header, enforce
// the limits before a single pixel is decoded, then decode once (shrinking on load when every
// output is smaller), turn the result upright and convert it to sRGB.
//
// Exceptions: these functions call vips8, which throws VError; processor.cc catches at the edge.
#pragma once

#include "base/clock.h"
#include "base/result.h"
#include "config/imaging_config.h"
#include "imaging/geometry.h"
#include "imaging/photo_source.h"

#include <vips/vips8>

#include <cstdint>
#include <optional>
#include <string>

namespace pf::imaging {

// What the header says, before decoding.
struct SourceInfo {
    std::string format;       // jpeg, png, webp, gif, tiff, heic, avif, jxl
    std::string loader;       // the libvips loader that recognised the content
    Size stored;              // pixel grid as stored
    Size upright;             // after applying the EXIF orientation
    int orientation = 1;      // EXIF orientation 1..8
    int frames = 1;
    int bands = 0;
    bool has_alpha = false;
    bool progressive = false; // progressive JPEG, interlaced PNG/GIF
    std::uint64_t bytes = 0;
    std::string interpretation;  // libvips' name: srgb, cmyk, b-w, rgb16, ...
    std::string icc_profile;  // embedded ICC profile, raw bytes (may be empty)
    std::string exif;         // raw EXIF blob (may be empty)
};

// An opened photo: the bytes, where they live, and the header facts.
class OpenedPhoto {
public:
    const SourceInfo& info() const { return info_; }
    const PhotoSource& source() const { return source_; }

private:
    friend Result<OpenedPhoto> open_photo(const PhotoSource&, const config::ImagingLimits&);
    friend vips::VImage decode_upright_srgb(const OpenedPhoto&, double, config::FailOn);
    OpenedPhoto(PhotoSource source, SourceInfo info)
        : source_(std::move(source)), info_(std::move(info)) {}
    PhotoSource source_;
    SourceInfo info_;
};

// Detects the format by content (file names are not trusted), allows only photo formats, and
// checks size, pixel and frame limits from the header. Never decodes pixels.
Result<OpenedPhoto> open_photo(const PhotoSource& source, const config::ImagingLimits& limits);

// Whether the file's first bytes are those of an image libvips knows (any format, allowed or
// not). Cheap: reads only the magic numbers. Used to skip sidecar files when walking folders.
bool looks_like_image(const std::filesystem::path& path);

// Decodes the first frame, shrinking on load by up to `shrink_allowance` (1 = full size), then
// applies the EXIF orientation (the tag is removed) and converts to 8-bit sRGB through the
// embedded ICC profile (CMYK without a profile uses libvips' default CMYK profile). The result is
// lazy; the caller decides whether to copy it to memory. Throws vips::VError.
vips::VImage decode_upright_srgb(const OpenedPhoto& photo, double shrink_allowance,
                                 config::FailOn fail_on);

}  // namespace pf::imaging
