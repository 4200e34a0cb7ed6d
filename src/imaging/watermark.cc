#include "imaging/output_steps.h"

#include <algorithm>
#include <cmath>

namespace pf::imaging {
namespace {

// An RGBA overlay from a 1-band coverage mask (text) painted in `colour` at `opacity`.
vips::VImage paint_mask(const vips::VImage& mask, Colour colour, double opacity) {
    vips::VImage rgb = mask.new_from_image({double(colour.r), double(colour.g), double(colour.b)});
    vips::VImage alpha = (mask * opacity).cast(VIPS_FORMAT_UCHAR);
    return rgb.bandjoin(alpha).copy(
        vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

// An RGBA overlay from any image, its alpha scaled by `opacity`.
vips::VImage with_opacity(vips::VImage image, double opacity) {
    if (image.interpretation() != VIPS_INTERPRETATION_sRGB || image.format() != VIPS_FORMAT_UCHAR) {
        image = image.colourspace(VIPS_INTERPRETATION_sRGB);
    }
    if (!image.has_alpha()) {
        image = image.bandjoin_const({255.0});
    }
    vips::VImage colour = image.extract_band(0, vips::VImage::option()->set("n", 3));
    vips::VImage alpha = (image[3] * opacity).cast(VIPS_FORMAT_UCHAR);
    return colour.bandjoin(alpha).copy(
        vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

// Composites `overlay` onto `base` once at the gravity, or tiled over the whole image with
// `margin` pixels between copies. Parts that fall outside are clipped.
vips::VImage place_overlay(vips::VImage base, vips::VImage overlay, Gravity position, int margin,
                           bool tile) {
    const Size canvas{base.width(), base.height()};
    if (tile) {
        vips::VImage cell = overlay.embed(0, 0, overlay.width() + margin, overlay.height() + margin);
        int across = canvas.width / cell.width() + 1;
        int down = canvas.height / cell.height() + 1;
        vips::VImage sheet = cell.replicate(across, down)
                                 .extract_area(0, 0, canvas.width, canvas.height);
        return base.composite2(sheet, VIPS_BLEND_MODE_OVER);
    }
    Rect at = place(canvas, {overlay.width(), overlay.height()}, position, margin);
    // Clip the overlay to the canvas: composite2 needs it to start inside the image.
    int left = std::max(0, -at.left), top = std::max(0, -at.top);
    int width = std::min(overlay.width() - left, canvas.width - std::max(0, at.left));
    int height = std::min(overlay.height() - top, canvas.height - std::max(0, at.top));
    if (width <= 0 || height <= 0) {
        return base;
    }
    if (left > 0 || top > 0 || width < overlay.width() || height < overlay.height()) {
        overlay = overlay.extract_area(left, top, width, height);
    }
    return base.composite2(overlay, VIPS_BLEND_MODE_OVER,
                           vips::VImage::option()
                               ->set("x", std::max(0, at.left))
                               ->set("y", std::max(0, at.top)));
}

vips::VImage text_overlay(const TextWatermark& t) {
    // At 72 dpi a Pango point is a pixel, so `size` is the font's pixel size.
    std::string font = t.font + " " + std::to_string(t.size) + "px";
    vips::VOption* options = vips::VImage::option()->set("font", font.c_str())->set("dpi", 72);
    if (t.font_file) {
        options->set("fontfile", t.font_file->c_str());
    }
    vips::VImage mask = vips::VImage::text(t.text.c_str(), options);
    return paint_mask(mask, t.colour, t.opacity);
}

vips::VImage image_overlay(const ImageWatermark& m, const std::string& bytes, int output_width) {
    vips::VImage mark = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "");
    int target = std::max(1, static_cast<int>(std::lround(output_width * m.scale)));
    mark = mark.resize(static_cast<double>(target) / mark.width(),
                       vips::VImage::option()->set("kernel", VIPS_KERNEL_LANCZOS3));
    return with_opacity(mark, m.opacity);
}

}  // namespace

vips::VImage apply_watermarks(vips::VImage image, const OutputContext& ctx) {
    if (ctx.output.watermarks.empty()) {
        return image;
    }
    // Compositing yields an alpha band; an opaque photo must stay opaque (and 3-band).
    const bool opaque = !image.has_alpha();
    const int bands = image.bands();
    for (const Watermark& w : ctx.output.watermarks) {
        if (w.text) {
            image = place_overlay(image, text_overlay(*w.text), w.text->position, w.text->margin,
                                  w.text->tile);
        } else if (w.image) {
            auto bytes = ctx.watermark_bytes(w.image->file);
            vips::VImage overlay = image_overlay(*w.image, *bytes, image.width());
            image = place_overlay(image, overlay, w.image->position, w.image->margin, w.image->tile);
        }
    }
    if (opaque && image.has_alpha()) {
        image = image.extract_band(0, vips::VImage::option()->set("n", image.bands() - 1));
    }
    if (bands == 1 && image.bands() == 3) {
        image = image.colourspace(VIPS_INTERPRETATION_B_W);  // a greyscale output stays grey
    }
    return image;
}

}  // namespace pf::imaging
