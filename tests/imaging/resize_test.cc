// Fit modes, gravity, smart crop, explicit crop, rotate/flip and letterboxing on a real photo.
#include "support/engine.h"

#include <gtest/gtest.h>

namespace pf::imaging {
namespace {

const std::string kCamera = "photos/camera.jpg";  // 2560x1600, a leaf on the right-hand side

Result<ProcessResult> one_output(const std::string& file, const std::string& body) {
    return testing::process(testing::data_path(file),
                            "outputs:\n  - name: o\n    format: png\n" + body);
}

struct FitCase {
    std::string resize;
    int width, height;
};

class Fits : public ::testing::TestWithParam<FitCase> {};

TEST_P(Fits, GiveTheExactExpectedSize) {
    auto r = one_output(kCamera, "    resize: " + GetParam().resize + "\n");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    vips::VImage out = testing::decode(*r, "o");
    EXPECT_EQ(out.width(), GetParam().width) << GetParam().resize;
    EXPECT_EQ(out.height(), GetParam().height) << GetParam().resize;
    EXPECT_EQ(r->derivatives[0].width, GetParam().width);
    EXPECT_EQ(r->manifest.outputs[0].height, GetParam().height);
}

INSTANTIATE_TEST_SUITE_P(
    CameraPhoto, Fits,
    ::testing::Values(FitCase{"{ width: 500, height: 500, fit: inside }", 500, 313},
                      FitCase{"{ width: 500, height: 500, fit: outside }", 800, 500},
                      FitCase{"{ width: 500, height: 500, fit: cover }", 500, 500},
                      FitCase{"{ width: 500, height: 500, fit: cover, gravity: attention }", 500, 500},
                      FitCase{"{ width: 500, height: 500, fit: cover, gravity: entropy }", 500, 500},
                      FitCase{"{ width: 500, height: 500, fit: contain }", 500, 500},
                      FitCase{"{ width: 500, height: 200, fit: fill }", 500, 200},
                      FitCase{"{ width: 640 }", 640, 400},
                      FitCase{"{ height: 100 }", 160, 100},
                      FitCase{"{ width: 4000, height: 4000 }", 2560, 1600},
                      FitCase{"{ width: 3000, height: 3000, enlarge: true }", 3000, 1875},
                      FitCase{"{ width: 4000, height: 1000, fit: cover }", 2560, 640}));

TEST(Resize, ContainLetterboxIsTransparentForPngAndColouredWhenAsked) {
    auto r = testing::process(testing::data_path(kCamera), R"(
outputs:
  - name: clear
    resize: { width: 400, height: 400, fit: contain }
    format: png
  - name: red
    resize: { width: 400, height: 400, fit: contain, gravity: north }
    background: "#ff0000"
    format: jpeg
)");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    vips::VImage clear = testing::decode(*r, "clear");
    ASSERT_EQ(clear.bands(), 4);
    // 400x250 photo centred: bars of 75 px above and below.
    EXPECT_LT(testing::mean_of(clear, 0, 0, 400, 70)[3], 1.0);
    EXPECT_GT(testing::mean_of(clear, 0, 100, 400, 200)[3], 254.0);
    vips::VImage red = testing::decode(*r, "red");
    // gravity north: the photo at the top, the red bar below.
    auto bar = testing::mean_of(red, 0, 260, 400, 140);
    EXPECT_GT(bar[0], 240);
    EXPECT_LT(bar[1], 15);
    EXPECT_LT(bar[2], 15);
}

TEST(Resize, CoverGravityPicksTheRightPartOfThePhoto) {
    auto r = testing::process(testing::data_path(kCamera), R"(
outputs:
  - { name: west, resize: { width: 300, height: 300, fit: cover, gravity: west }, format: png }
  - { name: east, resize: { width: 300, height: 300, fit: cover, gravity: east }, format: png }
  - { name: whole, resize: { width: 480, height: 300, fit: fill }, format: png }
)");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    vips::VImage whole = testing::decode(*r, "whole");
    vips::VImage left = whole.extract_area(0, 0, 300, 300);
    vips::VImage right = whole.extract_area(180, 0, 300, 300);
    vips::VImage west = testing::decode(*r, "west");
    vips::VImage east = testing::decode(*r, "east");
    EXPECT_LE(testing::hash_distance(west, left), 6);
    EXPECT_LE(testing::hash_distance(east, right), 6);
    EXPECT_GT(testing::hash_distance(west, east), 10);
}

TEST(Resize, ExplicitCropRotateAndFlopCompose) {
    // crop the top-left quarter at full resolution, then halve it.
    auto r = testing::process(testing::data_path(kCamera), R"(
outputs:
  - { name: quarter, crop: { left: 0, top: 0, width: 1280, height: 800 }, resize: { width: 640 }, format: png }
  - { name: turned, rotate: 90, resize: { width: 400 }, format: png }
  - { name: mirrored, flop: true, resize: { width: 400 }, format: png }
  - { name: plain, resize: { width: 400 }, format: png }
)");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    vips::VImage quarter = testing::decode(*r, "quarter");
    EXPECT_EQ(quarter.width(), 640);
    EXPECT_EQ(quarter.height(), 400);
    vips::VImage plain = testing::decode(*r, "plain");
    EXPECT_LE(testing::hash_distance(quarter, plain.extract_area(0, 0, 200, 125)), 8);

    vips::VImage turned = testing::decode(*r, "turned");
    EXPECT_EQ(turned.width(), 400);
    EXPECT_EQ(turned.height(), 640);
    EXPECT_LE(testing::hash_distance(turned, plain.rot(VIPS_ANGLE_D90)), 4);

    vips::VImage mirrored = testing::decode(*r, "mirrored");
    EXPECT_LE(testing::hash_distance(mirrored, plain.flip(VIPS_DIRECTION_HORIZONTAL)), 4);
    EXPECT_GT(testing::hash_distance(mirrored, plain), 10);
}

TEST(Resize, ACropOutsideThePhotoIsAClearError) {
    auto r = one_output(kCamera, "    crop: { left: 3000, top: 0, width: 10, height: 10 }\n");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(r.error().message.find("the crop lies outside the 2560x1600 photo"), std::string::npos);
}

TEST(Resize, EffectsChangeThePixelsTheWayTheyShould) {
    auto r = testing::process(testing::data_path(kCamera), R"(
outputs:
  - { name: plain, resize: { width: 400 }, format: png }
  - { name: grey, resize: { width: 400 }, greyscale: true, format: png }
  - { name: blurred, resize: { width: 400 }, blur: 4, format: png }
  - { name: sharp, resize: { width: 400 }, sharpen: { sigma: 1, flat: 2, jagged: 4 }, format: png }
)");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    vips::VImage plain = testing::decode(*r, "plain");
    vips::VImage grey = testing::decode(*r, "grey");
    EXPECT_EQ(grey.bands(), 1);
    // Edge energy: blur lowers it, sharpen raises it.
    auto edges = [](const vips::VImage& img) {
        vips::VImage g = img.colourspace(VIPS_INTERPRETATION_B_W)[0];
        return g.sobel().avg();
    };
    double base = edges(plain);
    EXPECT_LT(edges(testing::decode(*r, "blurred")), base * 0.7);
    EXPECT_GT(edges(testing::decode(*r, "sharp")), base * 1.1);
    EXPECT_LE(testing::hash_distance(grey, plain), 4);
}

}  // namespace
}  // namespace pf::imaging
