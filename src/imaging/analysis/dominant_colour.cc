#include "imaging/analysis/dominant_colour.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <string_view>
#include <vector>

namespace pf::imaging {
namespace {

constexpr size_t kBits = 4;
constexpr size_t kBins = size_t{1} << (3 * kBits);
// Bin-centre thresholds (0..255 scale) for the neutral tie-breaker.
constexpr int kNearBlackMax = 40;   // brightest channel at or below: near black
constexpr int kNearWhiteMin = 215;  // darkest channel at or above: near white
constexpr int kNearGreySpread = 24; // max - min channel at or below: near grey

struct Bin {
    uint64_t count = 0;
    uint64_t r = 0;
    uint64_t g = 0;
    uint64_t b = 0;
};

size_t bin_index(uint8_t r, uint8_t g, uint8_t b) {
    constexpr size_t kShift = 8 - kBits;
    return (size_t{r} >> kShift) << (2 * kBits) | (size_t{g} >> kShift) << kBits |
           (size_t{b} >> kShift);
}

bool is_neutral(size_t index) {
    constexpr size_t kMask = (size_t{1} << kBits) - 1;
    constexpr int kStep = 1 << (8 - kBits);
    const auto centre = [&](size_t shift) {
        return static_cast<int>((index >> shift) & kMask) * kStep + kStep / 2;
    };
    const int r = centre(2 * kBits);
    const int g = centre(kBits);
    const int b = centre(0);
    const int hi = std::max({r, g, b});
    const int lo = std::min({r, g, b});
    return hi <= kNearBlackMax || lo >= kNearWhiteMin || hi - lo <= kNearGreySpread;
}

uint8_t mean(uint64_t sum, uint64_t count) {
    return static_cast<uint8_t>((sum + count / 2) / count);
}

} // namespace

Rgb8 dominant_colour(const uint8_t* rgb, int width, int height) {
    if (rgb == nullptr || width <= 0 || height <= 0)
        return Rgb8{0, 0, 0};
    const size_t pixels = static_cast<size_t>(width) * static_cast<size_t>(height);

    std::vector<Bin> bins(kBins);
    for (size_t p = 0; p < pixels; ++p) {
        const uint8_t* px = rgb + 3 * p;
        Bin& bin = bins[bin_index(px[0], px[1], px[2])];
        ++bin.count;
        bin.r += px[0];
        bin.g += px[1];
        bin.b += px[2];
    }

    size_t best = 0;
    bool best_neutral = is_neutral(0);
    for (size_t i = 1; i < kBins; ++i) {
        if (bins[i].count == 0)
            continue;
        const bool neutral = is_neutral(i);
        const bool more = bins[i].count > bins[best].count;
        const bool tie_won = bins[i].count == bins[best].count && best_neutral && !neutral;
        if (more || tie_won) {
            best = i;
            best_neutral = neutral;
        }
    }
    const Bin& winner = bins[best];
    if (winner.count == 0)
        return Rgb8{0, 0, 0}; // unreachable with pixels > 0; defensive
    return Rgb8{mean(winner.r, winner.count), mean(winner.g, winner.count),
                mean(winner.b, winner.count)};
}

std::string to_hex(Rgb8 colour) {
    constexpr std::string_view kDigits = "0123456789abcdef";
    std::string out = "#";
    for (const uint8_t c : {colour.r, colour.g, colour.b}) {
        out += kDigits[c >> 4];
        out += kDigits[c & 0xF];
    }
    return out;
}

} // namespace pf::imaging
