#pragma once

// BlurHash: a compact (typically 20-30 characters) text encoding of a blurred image, used as a
// placeholder while the real image loads. This is an independent implementation of the published
// algorithm: pixels are converted from sRGB to linear light, projected onto a small 2-D cosine
// basis, and the coefficients are packed in base 83: the DC term as a 24-bit sRGB colour, the AC
// terms quantised to 19 levels per channel relative to a shared, quantised maximum magnitude.
//
// One deliberate difference from the reference code: the cosine basis is sampled at pixel
// centres (x + 0.5), which makes it orthogonal, so a solid colour encodes with all-zero AC terms
// and round-trips exactly. The string format is identical and interoperates with standard
// decoders (details in blurhash.cc).
//
// Layout: [1 char: (cx - 1) + (cy - 1) * 9] [1 char: quantised AC maximum] [4 chars: DC]
//         [2 chars per AC component, cx * cy - 1 of them], so length == 4 + 2 * cx * cy.
//
// Pure functions on buffers; the decoder treats the hash as untrusted input.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pf::imaging {

// pixels: width*height*3 bytes, row-major RGB. components_x/y in 1..9.
// Returns an empty string if rgb is null, a dimension is not positive, or a component count is
// out of range.
std::string blurhash_encode(const uint8_t* rgb, int width, int height, int components_x,
                            int components_y);

// Decoder used by tests and by anyone who wants to render the placeholder: returns
// width*height*3 RGB bytes. `punch` scales the AC contrast (1.0 = as encoded); a non-finite or
// non-positive punch is treated as 1.0. Returns an empty vector for an invalid hash, a
// non-positive dimension, or more than kBlurhashMaxDecodePixels pixels (placeholders are
// rendered small and upscaled; the cap keeps a bad caller from allocating gigabytes).
inline constexpr int64_t kBlurhashMaxDecodePixels = int64_t{4096} * 4096;
std::vector<uint8_t> blurhash_decode(std::string_view hash, int width, int height,
                                     double punch = 1.0);

// True if the hash has only base-83 characters, a valid size flag and the matching length.
bool blurhash_valid(std::string_view hash);

} // namespace pf::imaging
