#include "imaging/decode_plan.h"

#include <gtest/gtest.h>

namespace pf::imaging {
namespace {

int analysis_groups(const std::vector<DecodeGroup>& groups) {
    int n = 0;
    for (const auto& g : groups) {
        n += g.analysis ? 1 : 0;
    }
    return n;
}

TEST(DecodePlan, JpegShrinkSteps) {
    EXPECT_EQ(jpeg_shrink_step(1.0), 1);
    EXPECT_EQ(jpeg_shrink_step(1.99), 1);
    EXPECT_EQ(jpeg_shrink_step(2.0), 2);
    EXPECT_EQ(jpeg_shrink_step(7.9), 4);
    EXPECT_EQ(jpeg_shrink_step(40.0), 8);
}

TEST(DecodePlan, WithoutDctScalingEverythingSharesOneDecodeAtTheSmallestShrink) {
    auto groups = plan_decodes({5.0, 1.5, 9.0}, 20.0, false);
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_DOUBLE_EQ(groups[0].shrink, 1.5);
    EXPECT_EQ(groups[0].outputs, (std::vector<std::size_t>{0, 1, 2}));
    EXPECT_TRUE(groups[0].analysis);
}

TEST(DecodePlan, BaselineJpegGetsOneDecodePerShrinkStep) {
    // A 1280 px preview (step 1), a 320 px thumbnail (step 4) and a 64 px icon (step 8).
    auto groups = plan_decodes({1.0, 5.0, 20.0, 1.2}, 25.0, true);
    ASSERT_EQ(groups.size(), 3u);
    EXPECT_DOUBLE_EQ(groups[0].shrink, 1);
    EXPECT_EQ(groups[0].outputs, (std::vector<std::size_t>{0, 3}));
    EXPECT_DOUBLE_EQ(groups[1].shrink, 4);
    EXPECT_EQ(groups[1].outputs, (std::vector<std::size_t>{1}));
    EXPECT_DOUBLE_EQ(groups[2].shrink, 8);
    EXPECT_EQ(groups[2].outputs, (std::vector<std::size_t>{2}));
    // The analysis rides on the smallest copy that is still large enough.
    EXPECT_TRUE(groups[2].analysis);
    EXPECT_EQ(analysis_groups(groups), 1);
}

TEST(DecodePlan, AnalysisNeverReadsACopyTooSmallForIt) {
    // Only a tiny output (step 8), but the photo is small: the analysis allows only step 2.
    auto groups = plan_decodes({16.0}, 2.5, true);
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_DOUBLE_EQ(groups[0].shrink, 2);
    EXPECT_TRUE(groups[0].analysis);
    auto two = plan_decodes({16.0, 1.0}, 3.0, true);
    ASSERT_EQ(two.size(), 2u);
    EXPECT_TRUE(two[0].analysis) << "step 1 copy carries it; step 8 would be too small";
    EXPECT_FALSE(two[1].analysis);
}

TEST(DecodePlan, EveryOutputIsDecodedExactlyOnce) {
    std::vector<double> allowances = {1, 2, 3, 4, 5, 8, 9, 1.5, 16, 2.2};
    auto groups = plan_decodes(allowances, 8.0, true);
    std::vector<int> seen(allowances.size(), 0);
    for (const auto& g : groups) {
        for (auto i : g.outputs) {
            ++seen[i];
            EXPECT_LE(g.shrink, allowances[i]) << "output " << i << " would get too few pixels";
        }
    }
    for (int count : seen) {
        EXPECT_EQ(count, 1);
    }
    EXPECT_EQ(analysis_groups(groups), 1);
}

}  // namespace
}  // namespace pf::imaging
