#include "imaging/analysis/dominant_colour.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace pf::imaging {
namespace {

void push(std::vector<uint8_t>& px, Rgb8 c) {
    px.push_back(c.r);
    px.push_back(c.g);
    px.push_back(c.b);
}

TEST(DominantColourTest, MajorityColourWins) {
    const Rgb8 majority{30, 120, 200};
    const Rgb8 minority{220, 40, 40};
    std::vector<uint8_t> px;
    for (int i = 0; i < 100; ++i)
        push(px, (i % 10 < 7) ? majority : minority);
    const Rgb8 d = dominant_colour(px.data(), 10, 10);
    EXPECT_EQ(d.r, majority.r);
    EXPECT_EQ(d.g, majority.g);
    EXPECT_EQ(d.b, majority.b);
}

TEST(DominantColourTest, ReturnsMeanOfWinningBin) {
    // Three shades in the same 4-bit bin (0x40..0x4f, 0x80..0x8f, 0xc0..0xcf), one outlier.
    std::vector<uint8_t> px;
    push(px, {0x40, 0x80, 0xC0});
    push(px, {0x44, 0x84, 0xC4});
    push(px, {0x4A, 0x8A, 0xCA});
    push(px, {0x10, 0x10, 0x10});
    const Rgb8 d = dominant_colour(px.data(), 2, 2);
    EXPECT_EQ(d.r, 69);  // (64 + 68 + 74) / 3 = 68.67, rounded to nearest
    EXPECT_EQ(d.g, 133); // (128 + 132 + 138) / 3 = 132.67
    EXPECT_EQ(d.b, 197); // (192 + 196 + 202) / 3 = 196.67
}

TEST(DominantColourTest, TiesPreferChromaticBins) {
    // Equal counts of near-white, near-black, grey and a saturated green: green wins the tie.
    std::vector<uint8_t> px;
    for (int i = 0; i < 4; ++i) {
        push(px, {250, 250, 250});
        push(px, {5, 5, 5});
        push(px, {128, 128, 128});
        push(px, {40, 200, 60});
    }
    const Rgb8 d = dominant_colour(px.data(), 4, 4);
    EXPECT_EQ(d.r, 40);
    EXPECT_EQ(d.g, 200);
    EXPECT_EQ(d.b, 60);

    // The tie-breaker never overrides a real majority.
    std::vector<uint8_t> mostly_white;
    for (int i = 0; i < 9; ++i)
        push(mostly_white, {250, 250, 250});
    push(mostly_white, {40, 200, 60});
    const Rgb8 w = dominant_colour(mostly_white.data(), 5, 2);
    EXPECT_EQ(w.r, 250);
    EXPECT_EQ(w.g, 250);
    EXPECT_EQ(w.b, 250);
}

TEST(DominantColourTest, DegenerateInputs) {
    const Rgb8 a = dominant_colour(nullptr, 4, 4);
    EXPECT_EQ(to_hex(a), "#000000");
    const uint8_t one[3] = {1, 2, 3};
    EXPECT_EQ(to_hex(dominant_colour(one, 0, 1)), "#000000");
    EXPECT_EQ(to_hex(dominant_colour(one, 1, -1)), "#000000");
    EXPECT_EQ(to_hex(dominant_colour(one, 1, 1)), "#010203");
}

TEST(DominantColourTest, HexFormatting) {
    EXPECT_EQ(to_hex({0, 0, 0}), "#000000");
    EXPECT_EQ(to_hex({255, 255, 255}), "#ffffff");
    EXPECT_EQ(to_hex({0x1e, 0x78, 0xc8}), "#1e78c8");
    EXPECT_EQ(to_hex({10, 0, 171}), "#0a00ab");
}

} // namespace
} // namespace pf::imaging
