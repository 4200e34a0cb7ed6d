#include "imaging/analysis/perceptual_hash.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>

namespace pf::imaging {
namespace {

using Grey32 = std::array<uint8_t, 32 * 32>;

template <typename F>
Grey32 make(F f) {
    Grey32 g{};
    for (int y = 0; y < 32; ++y) {
        for (int x = 0; x < 32; ++x) {
            g[static_cast<size_t>(y * 32 + x)] =
                static_cast<uint8_t>(std::clamp(std::lround(f(x, y)), 0L, 255L));
        }
    }
    return g;
}

// Synthetic "photos": a mid-grey background with overlapping light and dark Gaussian blobs,
// which spreads energy over the low frequencies the way real downscaled images do. (Very smooth
// scenes leave most 8x8 coefficients near zero, i.e. near the median, where any noise flips bits.)
struct Blob {
    double cx, cy, radius, amplitude;
};

constexpr Blob kSceneA[] = {{6, 7, 5, 70},    {20, 5, 4, -60}, {27, 17, 7, 55},  {12, 22, 6, -75},
                            {24, 28, 3, 65},  {4, 28, 4, 40},  {16, 14, 3, -45}, {30, 3, 3, 35},
                            {9, 15, 2.5, 50}, {19, 24, 5, -30}};
constexpr Blob kSceneB[] = {{25, 25, 6, -70},  {8, 4, 4, 60},  {3, 16, 7, -50}, {18, 10, 5, 75},
                            {10, 29, 3, -55},  {28, 9, 4, 45}, {15, 19, 3, 40}, {29, 30, 3, -35},
                            {22, 2, 2.5, -50}, {5, 9, 5, 30}};

template <size_t N>
double render(const Blob (&blobs)[N], int x, int y) {
    double value = 128.0;
    for (const auto& b : blobs) {
        const double d2 = (x - b.cx) * (x - b.cx) + (y - b.cy) * (y - b.cy);
        value += b.amplitude * std::exp(-d2 / (2.0 * b.radius * b.radius));
    }
    return value;
}

double scene(int x, int y) {
    return render(kSceneA, x, y);
}

double other_scene(int x, int y) {
    return render(kSceneB, x, y);
}

TEST(PerceptualHashTest, IdenticalInputsHaveDistanceZero) {
    const auto a = make(scene);
    const auto b = make(scene);
    EXPECT_EQ(perceptual_hash_from_grey32(a.data()), perceptual_hash_from_grey32(b.data()));
    EXPECT_EQ(hamming_distance(perceptual_hash_from_grey32(a.data()),
                               perceptual_hash_from_grey32(b.data())),
              0);
}

TEST(PerceptualHashTest, NoisedAndBrightenedVersionsStayClose) {
    const auto original = make(scene);
    const uint64_t h = perceptual_hash_from_grey32(original.data());

    // +-4 grey levels of uniform noise. mt19937's output sequence is fully specified by the
    // standard (distributions are not), so this is the same image on every platform.
    for (uint32_t seed = 0; seed < 10; ++seed) {
        std::mt19937 rng(seed);
        const auto noised = make([&](int x, int y) {
            return scene(x, y) + static_cast<double>(static_cast<int>(rng() % 9) - 4);
        });
        EXPECT_LE(hamming_distance(h, perceptual_hash_from_grey32(noised.data())), 6) << seed;
    }

    const auto brightened = make([](int x, int y) { return scene(x, y) + 12.0; });
    EXPECT_LE(hamming_distance(h, perceptual_hash_from_grey32(brightened.data())), 6);

    const auto contrast = make([](int x, int y) { return 1.1 * scene(x, y) - 5.0; });
    EXPECT_LE(hamming_distance(h, perceptual_hash_from_grey32(contrast.data())), 6);
}

TEST(PerceptualHashTest, UnrelatedPatternsAreFarApart) {
    const uint64_t a = perceptual_hash_from_grey32(make(scene).data());
    const uint64_t b = perceptual_hash_from_grey32(make(other_scene).data());
    EXPECT_GE(hamming_distance(a, b), 20);

    // 8-pixel checkerboard vs a radial gradient centred in the frame.
    const auto checker = make([](int x, int y) { return ((x / 8 + y / 8) % 2) ? 230.0 : 25.0; });
    const auto radial = make([](int x, int y) { return 255.0 - 7.0 * std::hypot(x - 16, y - 16); });
    EXPECT_GE(hamming_distance(perceptual_hash_from_grey32(checker.data()),
                               perceptual_hash_from_grey32(radial.data())),
              20);

    // A gradient radiating from the top-left corner vs an off-centre bright blob.
    const auto corner = make([](int x, int y) { return 255.0 - 5.0 * std::hypot(x, y); });
    const auto blob = make([](int x, int y) {
        return 60.0 + 150.0 * std::exp(-((x - 8) * (x - 8) + (y - 20) * (y - 20)) / 30.0);
    });
    EXPECT_GE(hamming_distance(perceptual_hash_from_grey32(corner.data()),
                               perceptual_hash_from_grey32(blob.data())),
              20);
}

TEST(PerceptualHashTest, PureGradientsCollapseToTheDcBit) {
    // Documented limitation of the contract: a pure linear gradient has only negative AC terms in
    // the first row/column and exact zeros elsewhere, so the median is 0 and only the DC bit is
    // set. Horizontal, vertical and diagonal gradients are therefore indistinguishable; step 3's
    // rounding is what makes this deterministic instead of depending on floating-point noise.
    const auto horizontal = make([](int x, int) { return 8.0 * x; });
    const auto vertical = make([](int, int y) { return 8.0 * y; });
    EXPECT_EQ(perceptual_hash_from_grey32(horizontal.data()), uint64_t{1} << 63);
    EXPECT_EQ(perceptual_hash_from_grey32(vertical.data()), uint64_t{1} << 63);
}

TEST(PerceptualHashTest, DcBitIsMostSignificant) {
    // Every AC coefficient of a flat image is zero, so the median is zero and only the (positive)
    // DC coefficient exceeds it.
    Grey32 flat{};
    flat.fill(100);
    EXPECT_EQ(perceptual_hash_from_grey32(flat.data()), uint64_t{1} << 63);
    Grey32 black{};
    EXPECT_EQ(perceptual_hash_from_grey32(black.data()), 0u);
}

TEST(PerceptualHashTest, NullInputIsZero) {
    EXPECT_EQ(perceptual_hash_from_grey32(nullptr), 0u);
}

TEST(PerceptualHashTest, HammingDistance) {
    EXPECT_EQ(hamming_distance(0, 0), 0);
    EXPECT_EQ(hamming_distance(0, ~uint64_t{0}), 64);
    EXPECT_EQ(hamming_distance(0xF0, 0x0F), 8);
    EXPECT_EQ(hamming_distance(uint64_t{1} << 63, 1), 2);
}

TEST(PerceptualHashTest, HexFormatting) {
    EXPECT_EQ(perceptual_hash_hex(0), "0000000000000000");
    EXPECT_EQ(perceptual_hash_hex(~uint64_t{0}), "ffffffffffffffff");
    EXPECT_EQ(perceptual_hash_hex(0x0123456789abcdefULL), "0123456789abcdef");
    EXPECT_EQ(perceptual_hash_hex(0xA), "000000000000000a");
    EXPECT_EQ(perceptual_hash_hex(uint64_t{1} << 63), "8000000000000000");
}

} // namespace
} // namespace pf::imaging
