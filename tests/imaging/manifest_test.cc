// The manifest describes the source, its camera data, and what was made, truthfully.
#include "imaging/analysis/blurhash.h"
#include "imaging/analysis/perceptual_hash.h"
#include "support/engine.h"

#include <gtest/gtest.h>

namespace pf::imaging {
namespace {

TEST(Manifest, CameraDataFromExif) {
    auto r = testing::process(testing::data_path("photos/camera.jpg"), R"(
outputs:
  - { name: thumb, resize: { width: 320, height: 320, fit: cover }, format: webp }
  - { name: preview, resize: { width: 1280, height: 1280 }, format: jpeg }
)");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    const Manifest& m = r->manifest;
    EXPECT_EQ(m.source.format, "jpeg");
    EXPECT_EQ(m.source.width, 2560);
    EXPECT_EQ(m.source.height, 1600);
    EXPECT_EQ(m.source.bytes, 543137u);
    EXPECT_FALSE(m.source.progressive);
    EXPECT_FALSE(m.source.has_alpha);
    ASSERT_TRUE(m.exif);
    EXPECT_EQ(m.exif->make.value_or(""), "Canon");
    EXPECT_EQ(m.exif->model.value_or(""), "Canon EOS 70D");
    EXPECT_EQ(m.exif->lens_model.value_or(""), "EF50mm f/1.8 II");
    EXPECT_EQ(m.exif->date_taken.value_or(""), "2015-10-29T15:44:44");
    EXPECT_EQ(m.exif->exposure_time_text.value_or(""), "1/4000");
    EXPECT_DOUBLE_EQ(m.exif->f_number.value_or(0), 2.0);
    EXPECT_EQ(m.exif->iso.value_or(0), 100);
    EXPECT_DOUBLE_EQ(m.exif->focal_length_mm.value_or(0), 50.0);
    EXPECT_FALSE(m.exif->gps);

    nlohmann::json j = to_json(m);
    EXPECT_EQ(j["exif"]["lens"], "EF50mm f/1.8 II");
    EXPECT_TRUE(j["exif"]["gps"].is_null() || !j["exif"].contains("gps"));
    ASSERT_EQ(j["outputs"].size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        const auto& o = j["outputs"][i];
        const Derivative& d = r->derivatives[i];
        EXPECT_EQ(o["name"], d.name);
        EXPECT_EQ(o["file"], d.file);
        EXPECT_EQ(o["bytes"], d.bytes.size());
        EXPECT_EQ(o["width"], d.width);
        EXPECT_EQ(o["height"], d.height);
        EXPECT_GE(o["millis"].get<double>(), 0.0);
    }
    EXPECT_EQ(j["outputs"][0]["content_type"], "image/webp");
    EXPECT_EQ(j["outputs"][1]["content_type"], "image/jpeg");
    EXPECT_EQ(j["outputs"][1]["width"], 1280);
    EXPECT_EQ(j["outputs"][1]["height"], 800);
}

TEST(Manifest, GpsIsReportedAndMarkedPrivate) {
    auto r = testing::process(testing::data_path("photos/progressive.jpg"),
                              "outputs:\n  - { name: t, resize: { width: 64 }, format: png }\n");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_TRUE(r->manifest.source.progressive);
    EXPECT_EQ(r->manifest.source.icc_profile.value_or(""), "sRGB");
    nlohmann::json j = to_json(r->manifest);
    EXPECT_NEAR(j["exif"]["gps"]["latitude"].get<double>(), 56.156, 0.001);
    EXPECT_NEAR(j["exif"]["gps"]["longitude"].get<double>(), 10.208, 0.001);
    EXPECT_EQ(j["exif"]["gps"]["private"], true);
}

TEST(Manifest, PlaceholderHashAndColourDescribeThePicture) {
    // p3.jpg: a ladybird on a green leaf, mostly green.
    auto r = testing::process(testing::data_path("photos/p3.jpg"),
                              "outputs:\n  - { name: p, resize: { width: 600 }, format: png }\n");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    const Manifest& m = r->manifest;
    EXPECT_TRUE(blurhash_valid(m.blurhash));
    EXPECT_EQ(m.blurhash.size(), 4u + 2u * m.blurhash_x * m.blurhash_y);
    unsigned rgb = std::stoul(m.dominant_colour.substr(1), nullptr, 16);
    int red = (rgb >> 16) & 0xff, green = (rgb >> 8) & 0xff, blue = rgb & 0xff;
    EXPECT_GT(green, red + 15) << m.dominant_colour;
    EXPECT_GT(green, blue + 40) << m.dominant_colour;
    auto placeholder = blurhash_decode(m.blurhash, 8, 8);
    ASSERT_EQ(placeholder.size(), 8u * 8u * 3u);
    double g_sum = 0, b_sum = 0;
    for (std::size_t i = 0; i < placeholder.size(); i += 3) {
        g_sum += placeholder[i + 1];
        b_sum += placeholder[i + 2];
    }
    EXPECT_GT(g_sum, b_sum * 1.3);
    // The manifest's hash is the picture's: close to the hash of the derivative itself.
    EXPECT_LE(hamming_distance(m.perceptual_hash, testing::phash(testing::decode(*r, "p"))), 6);
}

TEST(Manifest, DifferentPhotosHaveDistantHashes) {
    const char* recipe = "outputs:\n  - { name: t, resize: { width: 64 }, format: png }\n";
    auto a = testing::process(testing::data_path("photos/camera.jpg"), recipe);
    auto b = testing::process(testing::data_path("photos/progressive.jpg"), recipe);
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_GT(hamming_distance(a->manifest.perceptual_hash, b->manifest.perceptual_hash), 16);
}

}  // namespace
}  // namespace pf::imaging
