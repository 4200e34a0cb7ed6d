#include "imaging/analysis/blurhash.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

namespace pf::imaging {
namespace {

std::vector<uint8_t> solid(int width, int height, uint8_t r, uint8_t g, uint8_t b) {
    std::vector<uint8_t> px;
    px.reserve(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
    for (int i = 0; i < width * height; ++i) {
        px.push_back(r);
        px.push_back(g);
        px.push_back(b);
    }
    return px;
}

std::vector<uint8_t> left_red_right_blue(int width, int height) {
    std::vector<uint8_t> px;
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            const bool left = x < width / 2;
            px.push_back(left ? 255 : 0);
            px.push_back(0);
            px.push_back(left ? 0 : 255);
        }
    }
    return px;
}

TEST(BlurhashTest, SolidColourRoundTrips) {
    const struct {
        uint8_t r, g, b;
    } colours[] = {{200, 100, 50}, {0, 0, 0}, {255, 255, 255}, {17, 230, 128}, {1, 2, 3}};
    for (const auto& c : colours) {
        const auto px = solid(32, 24, c.r, c.g, c.b);
        const std::string hash = blurhash_encode(px.data(), 32, 24, 4, 3);
        ASSERT_TRUE(blurhash_valid(hash)) << hash;
        const auto out = blurhash_decode(hash, 16, 12);
        ASSERT_EQ(out.size(), 16u * 12u * 3u);
        for (size_t i = 0; i < out.size(); i += 3) {
            EXPECT_NEAR(out[i], c.r, 2) << hash;
            EXPECT_NEAR(out[i + 1], c.g, 2) << hash;
            EXPECT_NEAR(out[i + 2], c.b, 2) << hash;
        }
    }
}

TEST(BlurhashTest, LeftRedRightBlue) {
    const int width = 64;
    const int height = 32;
    const auto px = left_red_right_blue(width, height);
    const std::string hash = blurhash_encode(px.data(), width, height, 4, 3);
    ASSERT_TRUE(blurhash_valid(hash));
    const auto out = blurhash_decode(hash, width, height);
    ASSERT_EQ(out.size(), static_cast<size_t>(width * height * 3));
    for (int y = 0; y < height; y += 5) {
        const uint8_t* left = &out[static_cast<size_t>((y * width + 4) * 3)];
        const uint8_t* right = &out[static_cast<size_t>((y * width + width - 5) * 3)];
        // Four horizontal components cannot reproduce a hard edge, and sRGB encoding lifts
        // small linear leakage, so "red" means clearly red-dominant rather than pure red.
        EXPECT_GT(left[0], 180) << y;
        EXPECT_GT(left[0], left[2] + 60) << y;
        EXPECT_GT(right[2], 180) << y;
        EXPECT_GT(right[2], right[0] + 60) << y;
        EXPECT_LT(left[1], 40) << y;
        EXPECT_LT(right[1], 40) << y;
    }
}

TEST(BlurhashTest, HashLengthMatchesComponents) {
    const auto px = left_red_right_blue(20, 10);
    for (int cx = 1; cx <= 9; ++cx) {
        for (int cy = 1; cy <= 9; ++cy) {
            const std::string hash = blurhash_encode(px.data(), 20, 10, cx, cy);
            EXPECT_EQ(hash.size(), static_cast<size_t>(4 + 2 * cx * cy)) << cx << "x" << cy;
            EXPECT_TRUE(blurhash_valid(hash)) << hash;
            EXPECT_EQ(blurhash_decode(hash, 4, 4).size(), 4u * 4u * 3u);
        }
    }
}

TEST(BlurhashTest, EncodeRejectsBadArguments) {
    const auto px = solid(4, 4, 1, 2, 3);
    EXPECT_EQ(blurhash_encode(nullptr, 4, 4, 4, 3), "");
    EXPECT_EQ(blurhash_encode(px.data(), 0, 4, 4, 3), "");
    EXPECT_EQ(blurhash_encode(px.data(), 4, -1, 4, 3), "");
    EXPECT_EQ(blurhash_encode(px.data(), 4, 4, 0, 3), "");
    EXPECT_EQ(blurhash_encode(px.data(), 4, 4, 4, 10), "");
    // A 1x1 image is fine, even with more components than pixels.
    EXPECT_EQ(blurhash_encode(px.data(), 1, 1, 9, 9).size(), 4u + 2u * 81u);
}

TEST(BlurhashTest, ValidityChecks) {
    // The example hash from the BlurHash documentation: 4x3 components.
    EXPECT_TRUE(blurhash_valid("LEHV6nWB2yk8pyo0adR*.7kCMdnj"));
    EXPECT_FALSE(blurhash_valid(""));
    EXPECT_FALSE(blurhash_valid("00000"));
    EXPECT_TRUE(blurhash_valid("00OZZy"));                         // 1x1: just flag, max and DC
    EXPECT_FALSE(blurhash_valid("LEHV6nWB2yk8pyo0adR*.7kCMdn"));   // one short
    EXPECT_FALSE(blurhash_valid("LEHV6nWB2yk8pyo0adR*.7kCMdnjj")); // one long
    EXPECT_FALSE(blurhash_valid("LEHV6nWB2yk8pyo0adR*.7kCMdn\"")); // bad character
    EXPECT_FALSE(blurhash_valid("LEHV6nWB2yk8pyo0adR*.7kCMd j"));
    EXPECT_FALSE(blurhash_valid(std::string("LEHV6nWB2yk8pyo0adR*.7kCMd\0j", 28)));
    EXPECT_FALSE(blurhash_valid("LEHV6nWB2yk8pyo0adR*.7kCMd\xC3\xA9"));
    // Size flags 81 ('}') and 82 ('~') would mean 10 vertical components.
    EXPECT_FALSE(blurhash_valid("}0" + std::string(4 + 2 * 10 * 9 - 2, '0')));
    EXPECT_FALSE(blurhash_valid("~0" + std::string(4 + 2 * 10 * 10 - 2, '0')));
}

TEST(BlurhashTest, DecodeIsDeterministic) {
    std::vector<uint8_t> px;
    for (int y = 0; y < 24; ++y) {
        for (int x = 0; x < 32; ++x) {
            px.push_back(static_cast<uint8_t>(x * 8));
            px.push_back(static_cast<uint8_t>(y * 10));
            px.push_back(static_cast<uint8_t>((x * y) % 256));
        }
    }
    const std::string hash = blurhash_encode(px.data(), 32, 24, 5, 4);
    EXPECT_EQ(hash, blurhash_encode(px.data(), 32, 24, 5, 4));
    ASSERT_TRUE(blurhash_valid(hash));
    const auto a = blurhash_decode(hash, 32, 32);
    const auto b = blurhash_decode(hash, 32, 32);
    ASSERT_EQ(a.size(), 32u * 32u * 3u);
    EXPECT_EQ(a, b);

    // The documented example decodes, deterministically, and is not a flat colour.
    const auto c = blurhash_decode("LEHV6nWB2yk8pyo0adR*.7kCMdnj", 32, 32);
    ASSERT_EQ(c.size(), 32u * 32u * 3u);
    EXPECT_EQ(c, blurhash_decode("LEHV6nWB2yk8pyo0adR*.7kCMdnj", 32, 32));
    EXPECT_NE(std::vector<uint8_t>(c.begin(), c.begin() + 3),
              std::vector<uint8_t>(c.end() - 3, c.end()));
}

TEST(BlurhashTest, RoundTripPreservesAverageColour) {
    std::vector<uint8_t> px;
    for (int y = 0; y < 30; ++y) {
        for (int x = 0; x < 40; ++x) {
            px.push_back(static_cast<uint8_t>(100 + x));
            px.push_back(static_cast<uint8_t>(60 + y));
            px.push_back(150);
        }
    }
    const std::string hash = blurhash_encode(px.data(), 40, 30, 1, 1);
    const auto out = blurhash_decode(hash, 1, 1);
    ASSERT_EQ(out.size(), 3u);
    // The DC term is the mean in linear light, so it sits near (slightly above) the sRGB mean.
    EXPECT_NEAR(out[0], 120, 3);
    EXPECT_NEAR(out[1], 75, 3);
    EXPECT_NEAR(out[2], 150, 1);
}

TEST(BlurhashTest, PunchScalesContrast) {
    const auto px = left_red_right_blue(32, 16);
    const std::string hash = blurhash_encode(px.data(), 32, 16, 3, 1);
    const auto normal = blurhash_decode(hash, 32, 1);
    const auto punchy = blurhash_decode(hash, 32, 1, 1.5);
    ASSERT_EQ(normal.size(), punchy.size());
    EXPECT_GE(punchy[0], normal[0]); // more red on the left
    // Invalid punch values fall back to 1.
    EXPECT_EQ(blurhash_decode(hash, 32, 1, 0.0), normal);
    EXPECT_EQ(blurhash_decode(hash, 32, 1, -3.0), normal);
    EXPECT_EQ(blurhash_decode(hash, 32, 1, std::numeric_limits<double>::quiet_NaN()), normal);
}

TEST(BlurhashTest, DecodeRejectsHostileInput) {
    const std::string good = "LEHV6nWB2yk8pyo0adR*.7kCMdnj";
    EXPECT_TRUE(blurhash_decode("", 8, 8).empty());
    EXPECT_TRUE(blurhash_decode("L\"HV6nWB2yk8pyo0adR*.7kCMdnj", 8, 8).empty());
    EXPECT_TRUE(blurhash_decode(good, 0, 8).empty());
    EXPECT_TRUE(blurhash_decode(good, 8, -8).empty());
    EXPECT_TRUE(blurhash_decode(good, 100000, 100000).empty());
    EXPECT_TRUE(blurhash_decode(good, std::numeric_limits<int>::max(), 2).empty());
    // Maximal digits everywhere: AC pairs exceed 19^3 and the DC exceeds 24 bits.
    const std::string maxed = "L" + std::string(27, '~');
    ASSERT_TRUE(blurhash_valid(maxed));
    EXPECT_EQ(blurhash_decode(maxed, 8, 8).size(), 8u * 8u * 3u);
}

} // namespace
} // namespace pf::imaging
