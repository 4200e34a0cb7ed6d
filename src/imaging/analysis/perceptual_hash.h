#pragma once

// 64-bit DCT perceptual hash ("pHash"-style) for near-duplicate detection.
//
// PUBLIC CONTRACT: stored hashes depend on this exact definition; changing any step invalidates
// every hash already persisted:
//
//   1. Input: a 32x32 block of 8-bit luminance values f(x, y), row-major (index y * 32 + x).
//      The caller is responsible for converting to greyscale and resizing to exactly 32x32.
//   2. Orthonormal 2-D DCT-II of the block:
//          F(u, v) = a(u) a(v) sum_{y=0}^{31} sum_{x=0}^{31}
//                        f(x, y) cos((2x + 1) u pi / 64) cos((2y + 1) v pi / 64)
//      with a(0) = sqrt(1/32) and a(k) = sqrt(2/32) for k > 0; u is the horizontal frequency
//      (column), v the vertical frequency (row). Pixel values are used as-is (0..255, no
//      centring).
//   3. Keep the top-left 8x8 coefficients F(u, v), 0 <= u, v < 8, including the DC term F(0, 0).
//      Each kept coefficient is rounded to the nearest multiple of 2^-16:
//          Q(u, v) = llround(F(u, v) * 65536)
//      so coefficients that are mathematically equal (e.g. the all-zero AC terms of a flat or
//      perfectly symmetric image) compare equal instead of by floating-point rounding noise,
//      which would otherwise make such hashes arbitrary and platform-dependent.
//   4. m = median of those 64 rounded values excluding the DC term, i.e. of 63 values: the 32nd
//      smallest (0-based index 31 after sorting ascending).
//   5. Bit i, for i = v * 8 + u (row-major over the 8x8 block), is 1 iff Q(u, v) > m. Bit i is
//      stored at position 63 - i, so the most significant bit is the DC coefficient F(0, 0) and
//      the least significant bit is F(7, 7).
//
// Similar images have a small Hamming distance between hashes (typically <= 10 of 64 bits).
//
// Known limitation (inherent to the median threshold, not a bug): images whose 8x8 low-frequency
// block is mostly exact zeros (flat fills, pure linear gradients, patterns finer than 4 pixels)
// have a median of 0 and collapse to (nearly) the DC bit alone, so they are not distinguishable
// from one another. Coefficients sitting next to the median also flip under small noise; a
// couple of bits of difference between near-identical images is normal.

#include <cstdint>
#include <string>

namespace pf::imaging {

// grey: 32*32 bytes (the caller downsizes the image to exactly 32x32 greyscale).
// A null pointer yields 0.
uint64_t perceptual_hash_from_grey32(const uint8_t* grey);

// Number of differing bits, 0..64.
int hamming_distance(uint64_t a, uint64_t b);

// 16 lowercase hex digits, most significant nibble first (zero padded).
std::string perceptual_hash_hex(uint64_t h);

} // namespace pf::imaging
