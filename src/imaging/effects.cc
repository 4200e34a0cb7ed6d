#include "imaging/output_steps.h"

namespace pf::imaging {

// Greyscale first (so blur/sharpen work on the final tones), then blur, then sharpen: a
// sharpen after a blur is a deliberate "soften then crisp edges"; the reverse would undo it.
vips::VImage apply_effects(vips::VImage image, const OutputContext& ctx) {
    const Output& o = ctx.output;
    if (o.greyscale) {
        image = image.colourspace(VIPS_INTERPRETATION_B_W);
    }
    if (o.blur) {
        image = image.gaussblur(*o.blur);
    }
    if (o.sharpen) {
        image = image.sharpen(vips::VImage::option()
                                  ->set("sigma", o.sharpen->sigma)
                                  ->set("m1", o.sharpen->flat)
                                  ->set("m2", o.sharpen->jagged));
    }
    return image;
}

}  // namespace pf::imaging
