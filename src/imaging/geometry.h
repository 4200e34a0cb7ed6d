// Resize arithmetic, free of libvips so it can be tested exhaustively: given the size of the
// (upright, rotated, cropped) source and a Resize, where every pixel ends up.
#pragma once

#include "imaging/recipe.h"

#include <optional>

namespace pf::imaging {

struct Size {
    int width = 0, height = 0;
    bool operator==(const Size&) const = default;
};

struct Rect {
    int left = 0, top = 0, width = 0, height = 0;
    bool operator==(const Rect&) const = default;
};

// What one output's resize does, in three steps:
//   1. scale the source to `scaled` (hscale = scaled.width / source.width, likewise vertically);
//   2. cover: keep `crop` (a region of the scaled image; for attention/entropy the size is
//      fixed and libvips picks the position);
//   3. contain: place the scaled image at `embed` on a canvas of `final_size`.
struct ResizePlan {
    Size scaled;
    std::optional<Rect> crop;
    std::optional<Rect> embed;
    Size final_size;
};

// `resize` absent means "keep the size".
ResizePlan plan_resize(Size source, const std::optional<Resize>& resize);

// Where an item of `item` size goes on a `canvas` for a compass gravity, `margin` pixels from
// the anchored edges. Attention/Entropy place like Centre. The result may extend past the
// canvas when the item is larger; callers clip.
Rect place(Size canvas, Size item, Gravity gravity, int margin);

// The explicit crop clipped to the source; nullopt if it lies entirely outside.
std::optional<Rect> clip_crop(Size source, const Crop& crop);

// The largest shrink factor a decoder may apply (1 = full size) and still leave the final resize
// at least as many pixels as the output needs. JPEG decoders shrink by IDCT scaling (a filtered
// downscale, not a block average), so no extra margin is kept: measured against a full decode
// resized with Lanczos3, the difference stays around one grey level (docs/benchmarks.md), and
// it is what sharp does by default (fastShrinkOnLoad).
double load_shrink_allowance(Size region, Size scaled);

}  // namespace pf::imaging
