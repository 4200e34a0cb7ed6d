#include "imaging/recipe_parser.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace pf::imaging {
namespace {

std::vector<std::string> problems_of(std::string_view yaml) {
    auto r = parse_recipe(yaml);
    EXPECT_FALSE(r.has_value()) << "expected the recipe to be refused:\n" << yaml;
    if (r.has_value()) {
        return {};
    }
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
    return recipe_problems(r.error());
}

bool has(const std::vector<std::string>& problems, const std::string& line) {
    return std::find(problems.begin(), problems.end(), line) != problems.end();
}

TEST(RecipeParser, ParsesEveryOptionOfAnOutput) {
    auto r = parse_recipe(R"(
version: 1
outputs:
  - name: card
    rotate: -90
    flop: true
    crop: { left: 10, top: 20, width: 300, height: 200 }
    resize: { width: 640, height: 480, fit: cover, gravity: northeast, enlarge: true }
    blur: 1.5
    sharpen: { sigma: 0.8, flat: 0.5, jagged: 3 }
    greyscale: true
    background: "#f80"
    watermark:
      - { text: "(c) Ada", size: 30, colour: "#ff0000", opacity: 0.25, position: south, margin: 4, tile: true }
    format: { type: avif, quality: 55, lossless: false, effort: 2, chroma: "4:4:4" }
    metadata: all
    keep_gps: true
)");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    ASSERT_EQ(r->outputs().size(), 1u);
    const Output& o = r->outputs()[0];
    EXPECT_EQ(o.name, "card");
    EXPECT_EQ(o.rotate, 270);
    EXPECT_TRUE(o.flop);
    EXPECT_FALSE(o.flip);
    ASSERT_TRUE(o.crop);
    EXPECT_EQ(o.crop->left, 10);
    EXPECT_EQ(o.crop->height, 200);
    ASSERT_TRUE(o.resize);
    EXPECT_EQ(o.resize->fit, Fit::Cover);
    EXPECT_EQ(o.resize->gravity, Gravity::NorthEast);
    EXPECT_TRUE(o.resize->enlarge);
    EXPECT_DOUBLE_EQ(*o.blur, 1.5);
    EXPECT_DOUBLE_EQ(o.sharpen->jagged, 3);
    EXPECT_TRUE(o.greyscale);
    EXPECT_EQ(*o.background, (Colour{255, 136, 0}));
    ASSERT_EQ(o.watermarks.size(), 1u);
    EXPECT_EQ(o.watermarks[0].text->text, "(c) Ada");
    EXPECT_EQ(o.watermarks[0].text->colour, (Colour{255, 0, 0}));
    EXPECT_TRUE(o.watermarks[0].text->tile);
    EXPECT_EQ(o.encoding.format, Format::Avif);
    EXPECT_EQ(o.encoding.quality, 55);
    EXPECT_EQ(*o.encoding.effort, 2);
    EXPECT_EQ(o.encoding.chroma, ChromaSubsampling::Full444);
    EXPECT_EQ(o.metadata, MetadataPolicy::KeepAll);
    EXPECT_TRUE(o.keep_gps);
}

TEST(RecipeParser, AcceptsJson) {
    auto r = parse_recipe(R"({"outputs": [{"name": "t", "resize": {"width": 100}, "format": "png"}]})");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->outputs()[0].encoding.format, Format::Png);
    EXPECT_EQ(*r->outputs()[0].resize->width, 100);
    EXPECT_FALSE(r->outputs()[0].resize->height);
}

TEST(RecipeParser, DefaultRecipeIsAThumbnailAndAPreview) {
    const Recipe& r = default_recipe();
    ASSERT_EQ(r.outputs().size(), 2u);
    EXPECT_EQ(r.outputs()[0].name, "thumb");
    EXPECT_EQ(r.outputs()[0].encoding.format, Format::Webp);
    EXPECT_EQ(r.outputs()[0].resize->fit, Fit::Cover);
    EXPECT_EQ(r.outputs()[0].resize->gravity, Gravity::Attention);
    EXPECT_EQ(*r.outputs()[0].resize->width, 320);
    EXPECT_EQ(r.outputs()[1].name, "preview");
    EXPECT_EQ(r.outputs()[1].encoding.format, Format::Jpeg);
    EXPECT_EQ(*r.outputs()[1].resize->width, 1280);
    EXPECT_EQ(r.outputs()[1].metadata, MetadataPolicy::Strip);
}

TEST(RecipeParser, ReportsEveryProblemAtOnceWithItsPath) {
    auto p = problems_of(R"(
outputs:
  - name: Thumb!
    resize: { width: 0, fit: sideways }
    format: { type: webp, quality: 120, chroma: "4:4:4" }
  - name: preview
    resize: { widht: 20 }
    rotate: 45
    format: bmp
  - name: preview
    format: { type: png, quality: 80 }
    metadata: everything
)");
    EXPECT_TRUE(has(p, "outputs[0].name: may only use a-z, 0-9, _ and - (it names the output file)"));
    EXPECT_TRUE(has(p, "outputs[0].resize.width: must be between 1 and 16383"));
    EXPECT_TRUE(has(p, "outputs[0].resize.fit: must be one of cover, contain, fill, inside, outside"));
    EXPECT_TRUE(has(p, "outputs[0].format.quality: must be between 1 and 100"));
    EXPECT_TRUE(has(p, "outputs[0].format.chroma: applies to jpeg and avif only"));
    EXPECT_TRUE(has(p, "outputs[1].resize.widht: unknown key (expected one of width, height, fit, "
                       "gravity, enlarge)"));
    EXPECT_TRUE(has(p, "outputs[1].resize: needs a width, a height, or both"));
    EXPECT_TRUE(has(p, "outputs[1].rotate: must be a multiple of 90"));
    EXPECT_TRUE(has(p, "outputs[1].format: must be one of jpeg, png, webp, avif, gif, jxl"));
    EXPECT_TRUE(has(p, "outputs[2].name: \"preview\" is used by an earlier output"));
    EXPECT_TRUE(has(p, "outputs[2].metadata: must be one of strip, icc, copyright, all"));
    EXPECT_EQ(p.size(), 12u) << "one line per problem, no duplicates:\n" << [&] {
        std::string all;
        for (auto& l : p) all += l + "\n";
        return all;
    }();
}

TEST(RecipeParser, CrossFieldRules) {
    auto p = problems_of(R"(
outputs:
  - name: a
    resize: { width: 100, fit: cover }
    format: jpeg
  - name: b
    resize: { width: 100, height: 100, fit: inside, gravity: attention }
    format: { type: jpeg, lossless: true, effort: 3 }
    keep_gps: true
  - name: c
    format: { type: gif, progressive: true, effort: 11 }
    watermark: { text: hi, image: logo.png }
)");
    EXPECT_TRUE(has(p, "outputs[0].resize.fit: fit cover needs both a width and a height"));
    EXPECT_TRUE(has(p, "outputs[1].resize.gravity: attention chooses what a crop keeps: it needs fit cover"));
    EXPECT_TRUE(has(p, "outputs[1].format.lossless: applies to webp, avif and jxl only"));
    EXPECT_TRUE(has(p, "outputs[1].format.effort: does not apply to jpeg"));
    EXPECT_TRUE(has(p, "outputs[1].keep_gps: needs metadata: all (other policies drop EXIF anyway)"));
    EXPECT_TRUE(has(p, "outputs[2].format.effort: must be between 1 and 10"));
    EXPECT_TRUE(has(p, "outputs[2].watermark: has both text and image: use one watermark entry for each"));
}

TEST(RecipeParser, MissingWatermarkFileIsReportedWithItsResolvedPath) {
    RecipeContext ctx;
    ctx.base_dir = "/nonexistent-dir";
    auto r = parse_recipe(R"(
outputs:
  - name: a
    format: jpeg
    watermark: { image: logo.png, scale: 2 }
)", ctx);
    ASSERT_FALSE(r.has_value());
    auto p = recipe_problems(r.error());
    EXPECT_TRUE(has(p, "outputs[0].watermark.image: no such file: /nonexistent-dir/logo.png"));
    EXPECT_TRUE(has(p, "outputs[0].watermark.scale: must be between 0.01 and 1"));
}

TEST(RecipeParser, RefusesStructuralNonsense) {
    EXPECT_TRUE(has(problems_of("outputs: []"), "outputs: must be a non-empty list"));
    EXPECT_TRUE(has(problems_of("version: 1"), "outputs: is required: a list of outputs"));
    EXPECT_TRUE(has(problems_of("version: 2\noutputs: [{name: a, format: png}]"),
                    "version: must be between 1 and 1"));
    EXPECT_TRUE(has(problems_of("- just\n- a list"), "(recipe): must be a mapping"));
    EXPECT_EQ(problems_of("outputs: [unclosed").size(), 1u);
    EXPECT_TRUE(has(problems_of("outputs: [{name: a, format: png}]\nextra: 1"),
                    "extra: unknown key (expected one of version, outputs)"));
}

TEST(RecipeParser, LoadsAFileAndResolvesWatermarksBesideIt) {
    auto r = load_recipe_file(std::string(PF_TEST_DATA_DIR) + "/../../bench/does-not-exist.yaml");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::NotFound);
}

}  // namespace
}  // namespace pf::imaging
