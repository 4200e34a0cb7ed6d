#include "imaging/geometry.h"

#include <algorithm>
#include <cmath>

namespace pf::imaging {
namespace {

int scale_dim(int value, double scale) {
    return std::max(1, static_cast<int>(std::lround(value * scale)));
}

// The largest box with the aspect ratio of `aspect` that fits inside `bounds`.
Size largest_with_aspect_inside(Size bounds, Size aspect) {
    double bounds_ratio = static_cast<double>(bounds.width) / bounds.height;
    double aspect_ratio = static_cast<double>(aspect.width) / aspect.height;
    if (bounds_ratio > aspect_ratio) {
        return {std::max(1, static_cast<int>(std::lround(bounds.height * aspect_ratio))),
                bounds.height};
    }
    return {bounds.width, std::max(1, static_cast<int>(std::lround(bounds.width / aspect_ratio)))};
}

// The smallest box with the aspect ratio of `aspect` that contains `inner`.
Size smallest_with_aspect_around(Size inner, Size aspect) {
    double inner_ratio = static_cast<double>(inner.width) / inner.height;
    double aspect_ratio = static_cast<double>(aspect.width) / aspect.height;
    if (inner_ratio > aspect_ratio) {
        return {inner.width, std::max(inner.height,
                                      static_cast<int>(std::lround(inner.width / aspect_ratio)))};
    }
    return {std::max(inner.width, static_cast<int>(std::lround(inner.height * aspect_ratio))),
            inner.height};
}

}  // namespace

Rect place(Size canvas, Size item, Gravity gravity, int margin) {
    int centre_x = (canvas.width - item.width) / 2;
    int centre_y = (canvas.height - item.height) / 2;
    int west = margin, east = canvas.width - item.width - margin;
    int north = margin, south = canvas.height - item.height - margin;
    int x = centre_x, y = centre_y;
    switch (gravity) {
    case Gravity::North: y = north; break;
    case Gravity::NorthEast: x = east; y = north; break;
    case Gravity::East: x = east; break;
    case Gravity::SouthEast: x = east; y = south; break;
    case Gravity::South: y = south; break;
    case Gravity::SouthWest: x = west; y = south; break;
    case Gravity::West: x = west; break;
    case Gravity::NorthWest: x = west; y = north; break;
    case Gravity::Centre:
    case Gravity::Attention:
    case Gravity::Entropy: break;
    }
    return {x, y, item.width, item.height};
}

ResizePlan plan_resize(Size source, const std::optional<Resize>& resize) {
    ResizePlan plan;
    if (!resize) {
        plan.scaled = source;
        plan.final_size = source;
        return plan;
    }
    const Resize& r = *resize;
    const double sx = r.width ? static_cast<double>(*r.width) / source.width : 0.0;
    const double sy = r.height ? static_cast<double>(*r.height) / source.height : 0.0;

    // Only one side given: scale by it, whatever the fit (the other side follows the aspect).
    if (!r.width || !r.height) {
        double s = r.width ? sx : sy;
        if (!r.enlarge) {
            s = std::min(s, 1.0);
        }
        plan.scaled = {scale_dim(source.width, s), scale_dim(source.height, s)};
        plan.final_size = plan.scaled;
        return plan;
    }
    const Size box{*r.width, *r.height};
    switch (r.fit) {
    case Fit::Inside:
    case Fit::Outside: {
        double s = r.fit == Fit::Inside ? std::min(sx, sy) : std::max(sx, sy);
        if (!r.enlarge) {
            s = std::min(s, 1.0);
        }
        plan.scaled = {scale_dim(source.width, s), scale_dim(source.height, s)};
        plan.final_size = plan.scaled;
        break;
    }
    case Fit::Fill: {
        double hx = r.enlarge ? sx : std::min(sx, 1.0);
        double hy = r.enlarge ? sy : std::min(sy, 1.0);
        plan.scaled = {scale_dim(source.width, hx), scale_dim(source.height, hy)};
        plan.final_size = plan.scaled;
        break;
    }
    case Fit::Cover: {
        double s = std::max(sx, sy);
        Size keep = box;
        if (s > 1.0 && !r.enlarge) {
            // Too small to fill the box without upscaling: keep the box's shape instead, at the
            // source's own resolution.
            s = 1.0;
            keep = largest_with_aspect_inside(source, box);
        }
        plan.scaled = {std::max(keep.width, scale_dim(source.width, s)),
                       std::max(keep.height, scale_dim(source.height, s))};
        Rect crop = place(plan.scaled, keep, r.gravity, 0);
        plan.crop = crop;
        plan.final_size = keep;
        break;
    }
    case Fit::Contain: {
        double s = std::min(sx, sy);
        Size canvas = box;
        if (s > 1.0 && !r.enlarge) {
            s = 1.0;
            canvas = smallest_with_aspect_around(source, box);
        }
        plan.scaled = {std::min(canvas.width, scale_dim(source.width, s)),
                       std::min(canvas.height, scale_dim(source.height, s))};
        plan.embed = place(canvas, plan.scaled, r.gravity, 0);
        plan.final_size = canvas;
        break;
    }
    }
    return plan;
}

std::optional<Rect> clip_crop(Size source, const Crop& crop) {
    int left = std::clamp(crop.left, 0, source.width);
    int top = std::clamp(crop.top, 0, source.height);
    int right = std::clamp(crop.left + crop.width, 0, source.width);
    int bottom = std::clamp(crop.top + crop.height, 0, source.height);
    if (right <= left || bottom <= top) {
        return std::nullopt;
    }
    return Rect{left, top, right - left, bottom - top};
}

double load_shrink_allowance(Size region, Size scaled) {
    double factor = std::min(static_cast<double>(region.width) / scaled.width,
                             static_cast<double>(region.height) / scaled.height);
    return std::max(1.0, factor);
}

}  // namespace pf::imaging
