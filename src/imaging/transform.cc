#include "imaging/output_steps.h"

#include <algorithm>
#include <cmath>

namespace pf::imaging {
namespace {

std::vector<double> background_pixel(const vips::VImage& image, std::optional<Colour> colour,
                                     bool transparent) {
    Colour c = colour.value_or(Colour{255, 255, 255});
    std::vector<double> pixel;
    if (image.bands() <= 2) {
        pixel.push_back(0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b);
    } else {
        pixel = {double(c.r), double(c.g), double(c.b)};
    }
    if (image.has_alpha()) {
        pixel.push_back(transparent ? 0.0 : 255.0);
    }
    return pixel;
}

}  // namespace

Size rotated_size(Size s, int degrees) {
    return (degrees == 90 || degrees == 270) ? Size{s.height, s.width} : s;
}

Size rotated_cropped_size(Size upright, const Output& output) {
    Size s = rotated_size(upright, output.rotate);
    if (output.crop) {
        if (auto r = clip_crop(s, *output.crop)) {
            return {r->width, r->height};
        }
    }
    return s;
}

vips::VImage apply_rotation(vips::VImage image, const OutputContext& ctx) {
    const Output& o = ctx.output;
    switch (o.rotate) {
    case 90: image = image.rot(VIPS_ANGLE_D90); break;
    case 180: image = image.rot(VIPS_ANGLE_D180); break;
    case 270: image = image.rot(VIPS_ANGLE_D270); break;
    default: break;
    }
    if (o.flip) {
        image = image.flip(VIPS_DIRECTION_VERTICAL);
    }
    if (o.flop) {
        image = image.flip(VIPS_DIRECTION_HORIZONTAL);
    }
    return image;
}

vips::VImage apply_crop(vips::VImage image, const OutputContext& ctx) {
    if (!ctx.output.crop) {
        return image;
    }
    Size full = rotated_size(ctx.full, ctx.output.rotate);
    auto region = clip_crop(full, *ctx.output.crop);
    if (!region) {
        return image;  // the processor refuses such outputs before decoding
    }
    // Full-resolution coordinates onto the (possibly shrunk-on-load) image.
    double fx = static_cast<double>(image.width()) / full.width;
    double fy = static_cast<double>(image.height()) / full.height;
    int left = std::clamp(static_cast<int>(std::floor(region->left * fx)), 0, image.width() - 1);
    int top = std::clamp(static_cast<int>(std::floor(region->top * fy)), 0, image.height() - 1);
    int width = std::clamp(static_cast<int>(std::lround(region->width * fx)), 1, image.width() - left);
    int height =
        std::clamp(static_cast<int>(std::lround(region->height * fy)), 1, image.height() - top);
    return image.extract_area(left, top, width, height);
}

vips::VImage apply_resize(vips::VImage image, const OutputContext& ctx) {
    const ResizePlan& plan = ctx.plan;
    if (image.width() != plan.scaled.width || image.height() != plan.scaled.height) {
        double hscale = static_cast<double>(plan.scaled.width) / image.width();
        double vscale = static_cast<double>(plan.scaled.height) / image.height();
        image = image.resize(hscale, vips::VImage::option()
                                         ->set("vscale", vscale)
                                         ->set("kernel", VIPS_KERNEL_LANCZOS3));
        // libvips rounds the output size itself; make it exactly what was planned.
        if (image.width() != plan.scaled.width || image.height() != plan.scaled.height) {
            image = image.embed(0, 0, plan.scaled.width, plan.scaled.height,
                                vips::VImage::option()->set("extend", VIPS_EXTEND_COPY));
        }
    }
    if (plan.crop) {
        const Gravity g = ctx.output.resize->gravity;
        if (g == Gravity::Attention || g == Gravity::Entropy) {
            // smartcrop reads its input several times; with the operation cache off, each read
            // would recompute the resize. The resized image is small: keep it in memory once.
            image = image.copy_memory().smartcrop(plan.crop->width, plan.crop->height,
                                    vips::VImage::option()->set(
                                        "interesting", g == Gravity::Attention
                                                           ? VIPS_INTERESTING_ATTENTION
                                                           : VIPS_INTERESTING_ENTROPY));
        } else if (plan.crop->width != image.width() || plan.crop->height != image.height()) {
            image = image.extract_area(plan.crop->left, plan.crop->top, plan.crop->width,
                                       plan.crop->height);
        }
    }
    if (plan.embed) {
        // Letterbox: the background colour if given, else transparent where the format can
        // carry alpha, else white.
        bool transparent = !ctx.output.background && supports_alpha(ctx.output.encoding.format);
        if (transparent && !image.has_alpha()) {
            image = image.bandjoin_const({255.0});
        }
        image = image.embed(plan.embed->left, plan.embed->top, plan.final_size.width,
                            plan.final_size.height,
                            vips::VImage::option()
                                ->set("extend", VIPS_EXTEND_BACKGROUND)
                                ->set("background",
                                      background_pixel(image, ctx.output.background, transparent)));
    }
    return image;
}

}  // namespace pf::imaging
