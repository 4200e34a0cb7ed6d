// Helpers for tests that run the imaging engine on real photos: a processor, a one-line recipe
// runner, decoding derivatives back, and perceptual comparison (a DCT hash distance, not bytes).
#pragma once

#include "config/imaging_config.h"
#include "imaging/processor.h"

#include <gtest/gtest.h>
#include <vips/vips8>

#include <string>
#include <vector>

namespace pf::testing {

std::string data_path(const std::string& relative);  // under tests/data

// Starts libvips once for the test binary.
void start_engine();

// Runs `recipe_yaml` on a file with the given settings.
Result<imaging::ProcessResult> process(const std::string& path, const std::string& recipe_yaml,
                                       const config::ImagingConfig& config = {});

// The derivative named `name`, decoded (pixels owned by the image).
vips::VImage decode(const imaging::ProcessResult& result, const std::string& name);
vips::VImage load_file(const std::string& path);  // upright (autorot), in memory

// 64-bit DCT hash of an image (squashed to 32x32 grey) and the Hamming distance of two images.
std::uint64_t phash(const vips::VImage& image);
int hash_distance(const vips::VImage& a, const vips::VImage& b);

// A test name from a file-name parameter ("huge-header.jpg" -> "huge_header_jpg").
std::string file_param_name(const ::testing::TestParamInfo<std::string>& info);

// Mean of each band over a region.
std::vector<double> mean_of(const vips::VImage& image, int left, int top, int width, int height);

}  // namespace pf::testing
