// Limits: a violation is a typed error with a clear message, found before decoding where the
// header allows, fast, and without memory growth.
#include "support/engine.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>

namespace pf::imaging {
namespace {

long peak_rss_kb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

const char* kThumb = "outputs:\n  - { name: t, resize: { width: 320, height: 320, fit: cover }, format: webp }\n";

class HugeHeaders : public ::testing::TestWithParam<std::string> {};

TEST_P(HugeHeaders, AreRefusedFromTheHeaderFastAndWithoutMemoryGrowth) {
    long before = peak_rss_kb();
    auto started = std::chrono::steady_clock::now();
    auto r = testing::process(testing::data_path("hostile/" + GetParam()), kThumb);
    auto took = std::chrono::steady_clock::now() - started;
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::LimitExceeded) << r.error().message;
    EXPECT_NE(r.error().message.find("over the limit of 100000000"), std::string::npos)
        << r.error().message;
    EXPECT_EQ(r.error().public_message, "The photo has more than 100000000 pixels");
    EXPECT_LT(took, std::chrono::seconds(1));
    // An unguarded decode of these reaches gigabytes (tests/data/README.md).
    EXPECT_LT(peak_rss_kb() - before, 64 * 1024);
}

INSTANTIATE_TEST_SUITE_P(Hostile, HugeHeaders,
                         ::testing::Values<std::string>("claims-50000.png", "claims-50000.jpg",
                                           "huge-header.jpg", "huge-header.gif",
                                           "huge-header.png"),
    testing::file_param_name);

TEST(Limits, PixelLimitIsConfigurable) {
    config::ImagingConfig c;
    c.limits.max_pixels = 4'000'000;  // camera.jpg is 2560x1600 = 4,096,000
    auto r = testing::process(testing::data_path("photos/camera.jpg"), kThumb, c);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::LimitExceeded);
    EXPECT_NE(r.error().message.find("2560x1600 is 4096000 pixels"), std::string::npos);
    c.limits.max_pixels = 4'096'000;
    EXPECT_TRUE(testing::process(testing::data_path("photos/camera.jpg"), kThumb, c).has_value());
}

TEST(Limits, InputBytes) {
    config::ImagingConfig c;
    c.limits.max_input_bytes = 100'000;
    auto r = testing::process(testing::data_path("photos/camera.jpg"), kThumb, c);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::LimitExceeded);
    EXPECT_NE(r.error().message.find("543137 bytes is over the limit of 100000"), std::string::npos)
        << r.error().message;
}

TEST(Limits, FramesAndTheFirstFrameOfAnAnimation) {
    config::ImagingConfig c;
    c.limits.max_frames = 10;
    auto refused = testing::process(testing::data_path("photos/animated.gif"), kThumb, c);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, ErrorCode::LimitExceeded);
    EXPECT_NE(refused.error().message.find("45 frames"), std::string::npos);

    auto accepted = testing::process(testing::data_path("photos/animated.gif"), kThumb);
    ASSERT_TRUE(accepted.has_value()) << accepted.error().message;
    EXPECT_EQ(accepted->manifest.source.frames, 45);
    EXPECT_EQ(accepted->manifest.source.height, 666) << "one frame's height, not the strip's";
    vips::VImage t = testing::decode(*accepted, "t");
    EXPECT_EQ(t.width(), 320);
    EXPECT_EQ(t.height(), 320);
}

TEST(Limits, OutputDimension) {
    config::ImagingConfig c;
    c.limits.max_output_dimension = 2000;
    auto r = testing::process(testing::data_path("photos/camera.jpg"),
                              "outputs:\n  - { name: full, format: jpeg }\n", c);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::LimitExceeded);
    EXPECT_NE(r.error().message.find("output full would be 2560x1600"), std::string::npos);
}

TEST(Limits, TimeBudgetStopsTheWorkAndSaysSo) {
    config::ImagingConfig c;
    c.limits.time_budget = std::chrono::milliseconds(150);
    auto started = std::chrono::steady_clock::now();
    auto r = testing::process(testing::data_path("photos/camera.jpg"), R"(
outputs:
  - { name: slow, resize: { width: 6000, enlarge: true }, sharpen: true, format: { type: avif, effort: 9 } }
)", c);
    auto took = std::chrono::steady_clock::now() - started;
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::Timeout) << r.error().message;
    EXPECT_EQ(r.error().public_message, "Processing the photo took too long");
    EXPECT_LT(took, std::chrono::seconds(3)) << "the computation was not interrupted";
    EXPECT_TRUE(r.error().retryable());
}

}  // namespace
}  // namespace pf::imaging
