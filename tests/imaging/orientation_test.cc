// Every EXIF orientation (1-8) comes out upright, at the upright size, without the tag.
#include "support/engine.h"

#include <gtest/gtest.h>

namespace pf::imaging {
namespace {

struct Case {
    std::string set;  // landscape (upright 600x400) or portrait (upright 400x600)
    int orientation;
};

class Orientation : public ::testing::TestWithParam<Case> {};

TEST_P(Orientation, OutputIsUprightWithTheTagRemoved) {
    const Case c = GetParam();
    const std::string file = "orientation/" + c.set + "_" + std::to_string(c.orientation) + ".jpg";
    // metadata: all keeps EXIF: the orientation tag must still not survive, or viewers would
    // rotate the already-upright pixels a second time.
    const std::string recipe = R"(
outputs:
  - name: o
    resize: { width: 300 }
    format: jpeg
    metadata: all
)";
    auto result = testing::process(testing::data_path(file), recipe);
    ASSERT_TRUE(result.has_value()) << result.error().message;
    const bool landscape = c.set == "landscape";

    const Manifest& m = result->manifest;
    EXPECT_EQ(m.source.orientation, c.orientation);
    EXPECT_EQ(m.source.width, landscape ? 600 : 400);
    EXPECT_EQ(m.source.height, landscape ? 400 : 600);

    vips::VImage out = testing::decode(*result, "o");
    EXPECT_EQ(out.width(), 300);
    EXPECT_EQ(out.height(), landscape ? 200 : 450);
    int tag = out.get_typeof(VIPS_META_ORIENTATION) ? out.get_int(VIPS_META_ORIENTATION) : 1;
    EXPECT_EQ(tag, 1) << "an orientation tag survived in " << file;

    // Perceptually the same picture as the reference stored upright (orientation 1).
    vips::VImage reference =
        testing::load_file(testing::data_path("orientation/" + c.set + "_1.jpg"));
    EXPECT_LE(testing::hash_distance(out, reference), 8) << file << " is not upright";
}

std::vector<Case> all_cases() {
    std::vector<Case> cases;
    for (const char* set : {"landscape", "portrait"}) {
        for (int o = 1; o <= 8; ++o) {
            cases.push_back({set, o});
        }
    }
    return cases;
}

INSTANTIATE_TEST_SUITE_P(AllEight, Orientation, ::testing::ValuesIn(all_cases()),
                         [](const auto& test_info) {
                             return test_info.param.set + "_" + std::to_string(test_info.param.orientation);
                         });

TEST(OrientationSanity, AWronglyRotatedImageIsFarFromTheReference) {
    // Guards the threshold above: a sideways picture must not pass as upright.
    vips::VImage reference = testing::load_file(testing::data_path("orientation/landscape_1.jpg"));
    vips::VImage sideways = reference.rot(VIPS_ANGLE_D90);
    vips::VImage upside_down = reference.rot(VIPS_ANGLE_D180);
    EXPECT_GT(testing::hash_distance(sideways, reference), 16);
    EXPECT_GT(testing::hash_distance(upside_down, reference), 16);
}

}  // namespace
}  // namespace pf::imaging
