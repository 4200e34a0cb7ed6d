// Broken files and non-images give clear, typed errors: never a crash, a hang, or a grey image.
#include "support/engine.h"

#include <gtest/gtest.h>

namespace pf::imaging {
namespace {

const char* kThumb = "outputs:\n  - { name: t, resize: { width: 200 }, format: jpeg }\n";

class Broken : public ::testing::TestWithParam<std::string> {};

TEST_P(Broken, IsAClearCorruptInputError) {
    const std::string path = testing::data_path("hostile/" + GetParam());
    auto r = testing::process(path, kThumb);
    ASSERT_FALSE(r.has_value()) << GetParam() << " was accepted";
    EXPECT_TRUE(r.error().code == ErrorCode::CorruptInput ||
                r.error().code == ErrorCode::UnsupportedFormat)
        << GetParam() << ": " << to_string(r.error().code) << " " << r.error().message;
    EXPECT_NE(r.error().message.find(path), std::string::npos) << "the message names the file";
    EXPECT_FALSE(r.error().public_message.empty());
    EXPECT_FALSE(r.error().retryable());
}

INSTANTIATE_TEST_SUITE_P(
    Hostile, Broken,
    ::testing::Values<std::string>("truncated.jpg", "truncated-progressive.jpg", "truncated.png",
                      "truncated-cmyk.jpg", "corrupt-cve-2017-2862.jpg",
                      "corrupt-no-quant-table.jpg", "corrupt-extraneous-bytes.jpg",
                      "corrupt-chunk-type.png", "corrupt-short.png", "corrupt-frame.gif",
                      "corrupt-no-frames.gif", "pillow-broken.png", "empty.jpg",
                      "not-an-image.jpg"),
    testing::file_param_name);

TEST(Corrupt, NonImagesAreUnsupportedWhateverTheirName) {
    auto r = testing::process(testing::data_path("hostile/not-an-image.jpg"), kThumb);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::UnsupportedFormat);
    EXPECT_EQ(r.error().public_message,
              "Not a supported image (JPEG, PNG, WebP, GIF, TIFF, HEIC or AVIF)");
    auto empty = testing::process(testing::data_path("hostile/empty.jpg"), kThumb);
    ASSERT_FALSE(empty.has_value());
    EXPECT_EQ(empty.error().public_message, "The file is empty");
}

TEST(Corrupt, FailOnLevelIsTheOperatorsChoice) {
    // Truncated photos are refused by default; an operator who prefers a partial picture can
    // lower fail_on to none.
    config::ImagingConfig lax;
    lax.limits.fail_on = config::FailOn::None;
    auto r = testing::process(testing::data_path("hostile/truncated.jpg"), kThumb, lax);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->derivatives.size(), 1u);

    config::ImagingConfig strict;
    strict.limits.fail_on = config::FailOn::Warning;
    auto warned = testing::process(testing::data_path("hostile/pillow-bad-exif.jpg"), kThumb, strict);
    EXPECT_FALSE(warned.has_value());
    auto tolerated = testing::process(testing::data_path("hostile/pillow-bad-exif.jpg"), kThumb);
    EXPECT_TRUE(tolerated.has_value()) << tolerated.error().message;
}

TEST(Corrupt, AMissingFileIsNotFound) {
    auto r = testing::process("/nonexistent/photo.jpg", kThumb);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::NotFound);
}

}  // namespace
}  // namespace pf::imaging
