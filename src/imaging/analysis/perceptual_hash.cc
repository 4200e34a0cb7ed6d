#include "imaging/analysis/perceptual_hash.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <numbers>

namespace pf::imaging {
namespace {

constexpr size_t kSize = 32;
constexpr size_t kKept = 8;
// Power of two, so the scaling itself is exact and only the final rounding matters.
constexpr double kFixedPointScale = 65536.0;

using CosineTable = std::array<std::array<double, kSize>, kKept>;

// Orthonormal DCT-II basis rows a(k) cos((2n + 1) k pi / 64) for the 8 frequencies we keep.
// Built once; the function-local static makes initialisation thread-safe.
const CosineTable& cosine_table() {
    static const CosineTable table = [] {
        CosineTable t{};
        for (size_t k = 0; k < kKept; ++k) {
            const double scale = std::sqrt((k == 0 ? 1.0 : 2.0) / static_cast<double>(kSize));
            for (size_t n = 0; n < kSize; ++n) {
                const auto angle = static_cast<double>((2 * n + 1) * k) * std::numbers::pi /
                                   static_cast<double>(2 * kSize);
                t[k][n] = scale * std::cos(angle);
            }
        }
        return t;
    }();
    return table;
}

} // namespace

uint64_t perceptual_hash_from_grey32(const uint8_t* grey) {
    if (grey == nullptr)
        return 0;
    const CosineTable& c = cosine_table();

    // Separable DCT restricted to the 8 lowest frequencies: rows first, then columns.
    std::array<std::array<double, kKept>, kSize> rows{}; // rows[y][u]
    for (size_t y = 0; y < kSize; ++y) {
        for (size_t u = 0; u < kKept; ++u) {
            double sum = 0.0;
            for (size_t x = 0; x < kSize; ++x)
                sum += grey[y * kSize + x] * c[u][x];
            rows[y][u] = sum;
        }
    }
    std::array<int64_t, kKept * kKept> coeffs{}; // coeffs[v * 8 + u], fixed point (contract 3)
    for (size_t v = 0; v < kKept; ++v) {
        for (size_t u = 0; u < kKept; ++u) {
            double sum = 0.0;
            for (size_t y = 0; y < kSize; ++y)
                sum += rows[y][u] * c[v][y];
            // |F| <= 255 * 32, so the scaled value fits comfortably in 64 bits.
            coeffs[v * kKept + u] = std::llround(sum * kFixedPointScale);
        }
    }

    // The DC term only tracks overall brightness, so it must not shift the threshold.
    std::array<int64_t, kKept * kKept - 1> ac{};
    std::copy(coeffs.begin() + 1, coeffs.end(), ac.begin());
    constexpr size_t kMedianIndex = ac.size() / 2; // 31: the middle of 63 values
    std::nth_element(ac.begin(), ac.begin() + static_cast<std::ptrdiff_t>(kMedianIndex), ac.end());
    const int64_t median = ac[kMedianIndex];

    uint64_t hash = 0;
    for (size_t i = 0; i < coeffs.size(); ++i) {
        if (coeffs[i] > median)
            hash |= uint64_t{1} << (63 - i);
    }
    return hash;
}

int hamming_distance(uint64_t a, uint64_t b) {
    return std::popcount(a ^ b);
}

std::string perceptual_hash_hex(uint64_t h) {
    constexpr std::string_view kDigits = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i) {
        out[static_cast<size_t>(i)] = kDigits[h & 0xF];
        h >>= 4;
    }
    return out;
}

} // namespace pf::imaging
