// The manifest's picture analysis (dominant colour, BlurHash placeholder, perceptual hash),
// computed from the decoded photo. Exceptions: calls vips8, which throws VError.
#pragma once

#include "imaging/manifest.h"

#include <vips/vips8>

namespace pf::imaging {

// The analysis measures a copy about this many pixels across, so decode plans keep the shorter
// side of the copy they give it at least this large.
inline constexpr int kAnalysisMinSide = 64;

// Fills dominant_colour, blurhash (+ components) and perceptual_hash of `manifest` from an
// upright sRGB image of the photo.
void analyse(const vips::VImage& image, Manifest& manifest);

}  // namespace pf::imaging
