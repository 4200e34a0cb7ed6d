#include "crypto/random.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace pf::crypto {
namespace {

TEST(Random, BytesHaveTheRequestedSizeAndDiffer) {
    EXPECT_EQ(random_bytes(0).size(), 0u);
    EXPECT_EQ(random_bytes(33).size(), 33u);
    EXPECT_EQ(random_bytes(3 << 20).size(), 3u << 20) << "larger than one RAND_bytes request";
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        seen.insert(random_bytes(16));
    }
    EXPECT_EQ(seen.size(), 100u);
}

TEST(Random, HexIsLowercaseAndTwiceAsLong) {
    const std::string hex = random_hex(20);
    ASSERT_EQ(hex.size(), 40u);
    for (const char c : hex) {
        EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << c;
    }
}

TEST(Random, StringsUseOnlyTheAlphabetAndAreRoughlyUniform) {
    // Three symbols: 256 is not a multiple of 3, so a biased implementation favours 'a' by ~1%;
    // the bound below only catches gross errors, the rejection sampling is what removes the bias.
    const std::string text = random_string(60'000, "abc");
    ASSERT_EQ(text.size(), 60'000u);
    std::map<char, int> counts;
    for (const char c : text) {
        ++counts[c];
    }
    ASSERT_EQ(counts.size(), 3u);
    for (const auto& [symbol, count] : counts) {
        EXPECT_GT(count, 19'000) << symbol;
        EXPECT_LT(count, 21'000) << symbol;
    }
    EXPECT_EQ(random_string(0, "xyz"), "");
    EXPECT_EQ(random_string(5, "z"), "zzzzz");
}

} // namespace
} // namespace pf::crypto
