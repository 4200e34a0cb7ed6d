// Turns the command line's files and directories into a list of photos, each with the relative
// path its outputs will live under.
#pragma once

#include "base/result.h"

#include <filesystem>
#include <string>
#include <vector>

namespace pf::app {

struct PhotoInput {
    std::filesystem::path path;      // where to read it
    std::filesystem::path relative;  // where its outputs go under --out: dir-relative, file name kept
};

struct WalkResult {
    std::vector<PhotoInput> photos;
    std::vector<std::filesystem::path> skipped;  // files in directories that are not images
};

// Files named on the command line are always taken (and fail later if they are not photos).
// Directories are walked recursively in name order; hidden entries are skipped, and so are files
// whose content libvips does not recognise as an image (sidecars, notes). Two inputs that would
// write to the same place are an error.
Result<WalkResult> collect_photos(const std::vector<std::string>& arguments);

}  // namespace pf::app
