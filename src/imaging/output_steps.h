// The steps that turn the shared, decoded photo into one output. processor.cc lists them in
// order, once; each step is small and lives in its own file:
//   transform.cc   rotate/flip, explicit crop, resize (fit, gravity, smart crop, letterbox)
//   effects.cc     greyscale, blur, sharpen
//   watermark.cc   text and image watermarks
//   finish.cc      flatten alpha onto the background, metadata policy
//   encode.cc      the format encoders
// Exceptions: these call vips8, which throws VError; processor.cc catches at the edge.
#pragma once

#include "imaging/geometry.h"
#include "imaging/recipe.h"

#include <vips/vips8>

#include <functional>
#include <memory>
#include <string>

namespace pf::imaging {

// Supplies a watermark image's bytes by path (cached by the processor).
using WatermarkBytes = std::function<std::shared_ptr<const std::string>(const std::string& path)>;

// Everything a step may read. `full` is the upright source size at full resolution; the shared
// image may be smaller (shrink-on-load), so steps scale full-resolution coordinates by
// image size / full size.
struct OutputContext {
    const Output& output;
    Size full;                     // upright source at full resolution
    Size region_full;              // after rotate and explicit crop, at full resolution
    ResizePlan plan;               // computed on region_full
    WatermarkBytes watermark_bytes;
};

vips::VImage apply_rotation(vips::VImage image, const OutputContext& ctx);
vips::VImage apply_crop(vips::VImage image, const OutputContext& ctx);
vips::VImage apply_resize(vips::VImage image, const OutputContext& ctx);
vips::VImage apply_effects(vips::VImage image, const OutputContext& ctx);
vips::VImage apply_watermarks(vips::VImage image, const OutputContext& ctx);
vips::VImage apply_background(vips::VImage image, const OutputContext& ctx);
vips::VImage apply_metadata_policy(vips::VImage image, const OutputContext& ctx);

// Encodes with the output's settings; `strip` drops every metadata block.
std::string encode(const vips::VImage& image, const Encoding& encoding, bool strip);

// Removes metadata chunks from a WebP file. Needed because libvips 8.14's WebP encoder ignores
// `strip` and always writes an EXIF block; other encoders honour the metadata policy.
std::string remove_webp_chunks(const std::string& webp, bool icc, bool exif, bool xmp);

// The size after a clockwise rotation by a multiple of 90 degrees.
Size rotated_size(Size size, int degrees);

// The size after rotate and explicit crop, at full resolution (for planning before decoding).
Size rotated_cropped_size(Size upright, const Output& output);

}  // namespace pf::imaging
