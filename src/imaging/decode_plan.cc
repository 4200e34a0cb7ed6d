#include "imaging/decode_plan.h"

#include <algorithm>
#include <numeric>

namespace pf::imaging {

int jpeg_shrink_step(double allowance) {
    return allowance >= 8 ? 8 : allowance >= 4 ? 4 : allowance >= 2 ? 2 : 1;
}

std::vector<DecodeGroup> plan_decodes(const std::vector<double>& allowances,
                                      double analysis_allowance, bool dct_scaling) {
    if (!dct_scaling) {
        DecodeGroup one;
        one.shrink = analysis_allowance;
        for (std::size_t i = 0; i < allowances.size(); ++i) {
            one.shrink = std::min(one.shrink, allowances[i]);
            one.outputs.push_back(i);
        }
        one.analysis = true;
        return {one};
    }
    std::vector<std::size_t> order(allowances.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return jpeg_shrink_step(allowances[a]) < jpeg_shrink_step(allowances[b]);
    });
    std::vector<DecodeGroup> groups;
    for (std::size_t i : order) {
        int step = jpeg_shrink_step(allowances[i]);
        // Every larger step (at least twice the previous) pays for its own decode.
        if (groups.empty() || step >= 2 * static_cast<int>(groups.back().shrink)) {
            groups.push_back({static_cast<double>(step), {}, false});
        }
        groups.back().outputs.push_back(i);
    }
    // The analysis needs only a small copy: the most-shrunk group that still has enough pixels.
    const int analysis_step = jpeg_shrink_step(analysis_allowance);
    DecodeGroup* chosen = nullptr;
    for (auto& g : groups) {
        if (static_cast<int>(g.shrink) <= analysis_step) {
            chosen = &g;
        }
    }
    if (chosen == nullptr) {
        if (groups.empty()) {
            groups.push_back({static_cast<double>(analysis_step), {}, false});
        }
        chosen = &groups.front();
        chosen->shrink = std::min<double>(chosen->shrink, analysis_step);
    }
    chosen->analysis = true;
    return groups;
}

}  // namespace pf::imaging
