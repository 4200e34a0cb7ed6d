// Which outputs share one decoded copy of the photo, and how far each copy is shrunk on load.
// Pure arithmetic, so the policy can be tested without libvips.
//
// Decoding once and fanning out is cheapest when the decode itself dominates: progressive JPEG
// (every coefficient must be read whatever the scale), PNG, HEIC, WebP. A baseline JPEG can be
// decoded at 1/2, 1/4 or 1/8 in the DCT domain for a fraction of a full decode, and resizing a
// large shared copy down to a thumbnail costs more than that (libvips 8.14's box shrink is not
// vectorised; measured in docs/benchmarks.md). So for baseline JPEG, outputs are grouped by
// shrink step and each step gets its own, smaller decode.
#pragma once

#include <cstddef>
#include <vector>

namespace pf::imaging {

struct DecodeGroup {
    double shrink = 1.0;               // passed to the decoder as its shrink allowance
    std::vector<std::size_t> outputs;  // indices into the recipe's outputs
    bool analysis = false;             // the manifest's analysis reads this copy
};

// libjpeg's DCT-domain shrink step for an allowance: 8, 4, 2 or 1.
int jpeg_shrink_step(double allowance);

// `allowances[i]`: how far output i lets the decoder shrink (load_shrink_allowance);
// `analysis_allowance`: how far the manifest's analysis does. Every output lands in exactly one
// group; exactly one group carries the analysis.
std::vector<DecodeGroup> plan_decodes(const std::vector<double>& allowances,
                                      double analysis_allowance, bool dct_scaling);

}  // namespace pf::imaging
