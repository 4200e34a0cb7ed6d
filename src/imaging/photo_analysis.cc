#include "imaging/photo_analysis.h"

#include "imaging/analysis/blurhash.h"
#include "imaging/analysis/dominant_colour.h"
#include "imaging/analysis/perceptual_hash.h"
#include "imaging/geometry.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace pf::imaging {
namespace {

constexpr int kAnalysisSide = kAnalysisMinSide;

// RGB bytes of `image` at most kAnalysisSide on its longer side, alpha flattened onto white.
std::vector<std::uint8_t> analysis_pixels(const vips::VImage& image, Size& size) {
    double scale = std::min(1.0, double(kAnalysisSide) / std::max(image.width(), image.height()));
    vips::VImage small = image.resize(scale);
    if (small.has_alpha()) {
        small = small.flatten(vips::VImage::option()->set(
            "background", std::vector<double>(small.bands() <= 2 ? 1 : 3, 255.0)));
    }
    if (small.bands() < 3) {
        small = small.colourspace(VIPS_INTERPRETATION_sRGB);
    }
    small = small.extract_band(0, vips::VImage::option()->set("n", 3)).cast(VIPS_FORMAT_UCHAR);
    size_t length = 0;
    void* data = small.write_to_memory(&length);
    std::vector<std::uint8_t> pixels(static_cast<std::uint8_t*>(data),
                                     static_cast<std::uint8_t*>(data) + length);
    g_free(data);
    size = {small.width(), small.height()};
    return pixels;
}

// The 32x32 luminance block the perceptual hash is defined on (squashed, not cropped).
std::vector<std::uint8_t> hash_block(const vips::VImage& image) {
    vips::VImage grey = image;
    if (grey.has_alpha()) {
        grey = grey.flatten(vips::VImage::option()->set(
            "background", std::vector<double>(grey.bands() <= 2 ? 1 : 3, 255.0)));
    }
    grey = grey.colourspace(VIPS_INTERPRETATION_B_W);
    grey = grey.resize(32.0 / grey.width(), vips::VImage::option()->set("vscale", 32.0 / grey.height()));
    grey = grey.extract_band(0).cast(VIPS_FORMAT_UCHAR);
    if (grey.width() != 32 || grey.height() != 32) {
        grey = grey.embed(0, 0, 32, 32, vips::VImage::option()->set("extend", VIPS_EXTEND_COPY))
                   .extract_area(0, 0, 32, 32);
    }
    size_t length = 0;
    void* data = grey.write_to_memory(&length);
    std::vector<std::uint8_t> block(static_cast<std::uint8_t*>(data),
                                    static_cast<std::uint8_t*>(data) + length);
    g_free(data);
    return block;
}

}  // namespace

void analyse(const vips::VImage& image, Manifest& manifest) {
    // One pass over the full decoded photo down to a small copy; every measure reads that copy.
    // (Each measure shrinking the full photo itself was a third of the time for a 4 MP JPEG.)
    double scale = std::min(1.0, 2.0 * kAnalysisSide / std::max(image.width(), image.height()));
    vips::VImage small = image.resize(scale).copy_memory();
    Size size;
    auto pixels = analysis_pixels(small, size);
    manifest.dominant_colour = to_hex(dominant_colour(pixels.data(), size.width, size.height));
    // 4 components along the longer side, 3 along the shorter: enough for a soft placeholder.
    manifest.blurhash_x = size.width >= size.height ? 4 : 3;
    manifest.blurhash_y = size.width >= size.height ? 3 : 4;
    manifest.blurhash = blurhash_encode(pixels.data(), size.width, size.height,
                                        manifest.blurhash_x, manifest.blurhash_y);
    auto block = hash_block(small);
    manifest.perceptual_hash = perceptual_hash_from_grey32(block.data());
}

}  // namespace pf::imaging
