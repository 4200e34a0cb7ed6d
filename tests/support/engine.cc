#include "support/engine.h"

#include "imaging/analysis/perceptual_hash.h"
#include "imaging/recipe_parser.h"
#include "imaging/vips_runtime.h"

#include <gtest/gtest.h>

namespace pf::testing {

std::string data_path(const std::string& relative) {
    return std::string(PF_TEST_DATA_DIR) + "/" + relative;
}

void start_engine() {
    auto started = imaging::start_vips({2});
    if (!started) {
        std::abort();
    }
}

Result<imaging::ProcessResult> process(const std::string& path, const std::string& recipe_yaml,
                                       const config::ImagingConfig& config) {
    start_engine();
    imaging::RecipeContext ctx;
    ctx.base_dir = PF_TEST_DATA_DIR;
    auto recipe = imaging::parse_recipe(recipe_yaml, ctx);
    if (!recipe) {
        ADD_FAILURE() << "test recipe is invalid: " << recipe.error().message;
        return recipe.error();
    }
    imaging::Processor processor(config);
    return processor.run(imaging::PhotoSource::from_file(path), *recipe);
}

vips::VImage decode(const imaging::ProcessResult& result, const std::string& name) {
    for (const auto& d : result.derivatives) {
        if (d.name == name) {
            return vips::VImage::new_from_buffer(d.bytes.data(), d.bytes.size(), "").copy_memory();
        }
    }
    ADD_FAILURE() << "no derivative named " << name;
    return vips::VImage::black(1, 1);
}

vips::VImage load_file(const std::string& path) {
    start_engine();
    return vips::VImage::new_from_file(path.c_str()).autorot().copy_memory();
}

std::uint64_t phash(const vips::VImage& image) {
    vips::VImage grey = image;
    if (grey.has_alpha()) {
        grey = grey.flatten(vips::VImage::option()->set(
            "background", std::vector<double>(grey.bands() <= 2 ? 1 : 3, 255.0)));
    }
    grey = grey.colourspace(VIPS_INTERPRETATION_B_W)
               .resize(32.0 / grey.width(),
                       vips::VImage::option()->set("vscale", 32.0 / grey.height()))
               .extract_band(0)
               .cast(VIPS_FORMAT_UCHAR);
    grey = grey.embed(0, 0, 32, 32, vips::VImage::option()->set("extend", VIPS_EXTEND_COPY));
    size_t length = 0;
    void* pixels = grey.write_to_memory(&length);
    std::uint64_t h = imaging::perceptual_hash_from_grey32(static_cast<std::uint8_t*>(pixels));
    g_free(pixels);
    return h;
}

int hash_distance(const vips::VImage& a, const vips::VImage& b) {
    return imaging::hamming_distance(phash(a), phash(b));
}

std::string file_param_name(const ::testing::TestParamInfo<std::string>& info) {
    std::string name = info.param;
    for (char& c : name) {
        c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    }
    return name;
}

std::vector<double> mean_of(const vips::VImage& image, int left, int top, int width, int height) {
    vips::VImage region = image.extract_area(left, top, width, height);
    std::vector<double> means;
    for (int b = 0; b < region.bands(); ++b) {
        means.push_back(region[b].avg());
    }
    return means;
}

}  // namespace pf::testing
