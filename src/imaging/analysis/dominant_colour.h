#pragma once

// Dominant colour of an RGB image, for UI accents and placeholder backgrounds.
//
// Method: every pixel is quantised to 4 bits per channel (a 16x16x16 = 4096-bin histogram). The
// most populated bin wins. Only when several bins have exactly the same population does a
// tie-breaker apply: a chromatic bin beats a "neutral" one (near-black, near-white or near-grey,
// judged on the bin centre), because an accent colour is more useful than a neutral one; any
// remaining tie goes to the lowest bin index so the result is deterministic. The returned colour
// is the mean of the pixels in the winning bin (not the bin centre), rounded to nearest.

#include <cstdint>
#include <string>

namespace pf::imaging {

struct Rgb8 {
    uint8_t r, g, b;
};

// rgb: width*height*3 bytes, row-major. Returns black for a null buffer or non-positive size.
Rgb8 dominant_colour(const uint8_t* rgb, int width, int height);

// "#rrggbb", lowercase.
std::string to_hex(Rgb8 colour);

} // namespace pf::imaging
