// Watermarks land where the recipe says, and nowhere else (pixel checks against an unmarked copy).
#include "support/engine.h"

#include <gtest/gtest.h>

#include <cmath>

namespace pf::imaging {
namespace {

// Mean absolute difference between two same-sized images over a region, all bands.
double change_in(const vips::VImage& a, const vips::VImage& b, int left, int top, int width,
                 int height) {
    vips::VImage diff = (a.extract_area(left, top, width, height).cast(VIPS_FORMAT_FLOAT) -
                         b.extract_area(left, top, width, height).cast(VIPS_FORMAT_FLOAT))
                            .abs();
    return diff.avg();
}

class Watermarks : public ::testing::Test {
protected:
    void SetUp() override {
        auto r = testing::process(testing::data_path("photos/camera.jpg"), R"(
outputs:
  - { name: plain, resize: { width: 800 }, format: png }
  - name: text
    resize: { width: 800 }
    format: png
    watermark: { text: "PHOTOFLUX", size: 60, colour: "#ff00ff", opacity: 1, position: southeast, margin: 10 }
  - name: logo
    resize: { width: 800 }
    format: png
    watermark: { image: watermark/logo.png, scale: 0.25, opacity: 1, position: northwest, margin: 0 }
  - name: tiled
    resize: { width: 800 }
    format: png
    watermark: { text: "PF", size: 40, opacity: 1, tile: true, margin: 40 }
  - name: faint
    resize: { width: 800 }
    format: png
    watermark: { text: "PHOTOFLUX", size: 60, colour: "#ff00ff", opacity: 0.2, position: southeast, margin: 10 }
)");
        ASSERT_TRUE(r.has_value()) << r.error().message;
        result_ = std::move(*r);
        plain_ = testing::decode(result_, "plain");
        ASSERT_EQ(plain_.width(), 800);
        ASSERT_EQ(plain_.height(), 500);
    }
    ProcessResult result_;
    vips::VImage plain_;
};

TEST_F(Watermarks, TextSitsInTheChosenCornerInTheChosenColour) {
    vips::VImage marked = testing::decode(result_, "text");
    EXPECT_GT(change_in(marked, plain_, 560, 420, 230, 70), 20.0) << "no text in the south-east";
    EXPECT_LT(change_in(marked, plain_, 0, 0, 400, 250), 0.5) << "text outside its corner";
    EXPECT_LT(change_in(marked, plain_, 0, 420, 300, 80), 0.5) << "text in the south-west";
    // Magenta: where the text is, red and blue rise and green falls.
    vips::VImage delta = marked.cast(VIPS_FORMAT_FLOAT) - plain_.cast(VIPS_FORMAT_FLOAT);
    vips::VImage corner = delta.extract_area(560, 420, 230, 70);
    EXPECT_GT(corner[0].avg(), 5.0);
    EXPECT_LT(corner[1].avg(), -5.0);
}

TEST_F(Watermarks, OpacityScalesTheMark) {
    double strong = change_in(testing::decode(result_, "text"), plain_, 560, 420, 230, 70);
    double faint = change_in(testing::decode(result_, "faint"), plain_, 560, 420, 230, 70);
    EXPECT_GT(faint, 1.0);
    EXPECT_NEAR(faint / strong, 0.2, 0.08);
}

TEST_F(Watermarks, ImageWatermarkIsScaledAndPlacedNorthWest) {
    vips::VImage marked = testing::decode(result_, "logo");
    // logo.png is 400x120; at scale 0.25 of an 800 px output it is 200x60.
    EXPECT_GT(change_in(marked, plain_, 0, 0, 200, 60), 10.0);
    EXPECT_LT(change_in(marked, plain_, 0, 70, 800, 430), 0.5);
    EXPECT_LT(change_in(marked, plain_, 210, 0, 590, 60), 0.5);
}

TEST_F(Watermarks, TilingCoversTheWholeImage) {
    vips::VImage marked = testing::decode(result_, "tiled");
    for (int y = 0; y < 500; y += 250) {
        for (int x = 0; x < 800; x += 400) {
            EXPECT_GT(change_in(marked, plain_, x, y, 400, 250), 2.0) << "no tile near " << x << "," << y;
        }
    }
}

}  // namespace
}  // namespace pf::imaging
