// Colour: CMYK and Display P3 photos come out as sRGB through their profiles.
#include "support/engine.h"

#include <gtest/gtest.h>

namespace pf::imaging {
namespace {

double mean_abs_diff(const vips::VImage& a, const vips::VImage& b) {
    return (a.cast(VIPS_FORMAT_FLOAT) - b.cast(VIPS_FORMAT_FLOAT)).abs().avg();
}

const char* kFullSizePng = "outputs:\n  - { name: o, format: png }\n";

TEST(Colour, CmykWithAProfileBecomesSrgbThroughIt) {
    auto r = testing::process(testing::data_path("photos/cmyk.jpg"), kFullSizePng);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->manifest.source.colour_space, "cmyk");
    vips::VImage out = testing::decode(*r, "o");
    EXPECT_EQ(out.bands(), 3);
    EXPECT_EQ(out.interpretation(), VIPS_INTERPRETATION_sRGB);
    // The reference: libvips' own ICC transform of the same file.
    vips::VImage reference = vips::VImage::new_from_file(testing::data_path("photos/cmyk.jpg").c_str())
                                 .icc_transform("srgb", vips::VImage::option()->set("embedded", true));
    EXPECT_LT(mean_abs_diff(out, reference.cast(VIPS_FORMAT_UCHAR)), 1.0);
    // A yellow flower, not the inverted or purple mess naive CMYK handling gives.
    auto mean = testing::mean_of(out, 0, 0, out.width(), out.height());
    EXPECT_GT(mean[0], mean[2] + 60);
    EXPECT_GT(mean[1], mean[2] + 30);
}

TEST(Colour, CmykWithoutAProfileUsesTheDefaultCmykProfile) {
    auto with = testing::process(testing::data_path("photos/cmyk.jpg"), kFullSizePng);
    auto without = testing::process(testing::data_path("photos/cmyk-noprofile.jpg"), kFullSizePng);
    ASSERT_TRUE(with.has_value() && without.has_value());
    vips::VImage a = testing::decode(*with, "o");
    vips::VImage b = testing::decode(*without, "o");
    ASSERT_EQ(b.bands(), 3);
    // cmyk.jpg's profile is libvips' built-in CMYK profile, so both must agree closely.
    EXPECT_LT(mean_abs_diff(a, b), 2.0);
}

TEST(Colour, DisplayP3IsConvertedNotReinterpreted) {
    auto r = testing::process(testing::data_path("photos/p3.jpg"), kFullSizePng);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->manifest.source.icc_profile.value_or(""), "DisplayP3 color profile");
    vips::VImage out = testing::decode(*r, "o");
    vips::VImage raw = vips::VImage::new_from_file(testing::data_path("photos/p3.jpg").c_str());
    vips::VImage reference = raw.icc_transform("srgb", vips::VImage::option()->set("embedded", true))
                                 .cast(VIPS_FORMAT_UCHAR);
    double to_reference = mean_abs_diff(out, reference);
    double to_raw = mean_abs_diff(out, raw);
    EXPECT_LT(to_reference, 0.6);
    EXPECT_GT(to_raw, to_reference * 2) << "the P3 pixels were passed through unconverted";
}

TEST(Colour, GreyscaleStaysGreyAndSixteenBitBecomesEightBit) {
    auto grey = testing::process(testing::data_path("photos/grey.jpg"),
                                 "outputs:\n  - { name: o, resize: { width: 200 }, format: png }\n");
    ASSERT_TRUE(grey.has_value()) << grey.error().message;
    vips::VImage out = testing::decode(*grey, "o");
    EXPECT_EQ(out.bands(), 1);
    EXPECT_EQ(out.format(), VIPS_FORMAT_UCHAR);

    // A 16-bit PNG made from a real photo.
    auto path = std::filesystem::temp_directory_path() / ("pf-16bit-" + std::to_string(::getpid()) + ".png");
    testing::load_file(testing::data_path("photos/camera.jpg"))
        .resize(0.2)
        .colourspace(VIPS_INTERPRETATION_RGB16)
        .write_to_file(path.c_str());
    auto deep = testing::process(path.string(), "outputs:\n  - { name: o, format: jpeg }\n");
    std::filesystem::remove(path);
    ASSERT_TRUE(deep.has_value()) << deep.error().message;
    EXPECT_EQ(deep->manifest.source.colour_space, "rgb16");
    vips::VImage eight = testing::decode(*deep, "o");
    EXPECT_EQ(eight.format(), VIPS_FORMAT_UCHAR);
    EXPECT_LE(testing::hash_distance(eight, testing::load_file(testing::data_path("photos/camera.jpg"))), 6);
}

}  // namespace
}  // namespace pf::imaging
