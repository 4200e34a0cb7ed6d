// What goes into the Lambda deployment package: the list of files (source on this machine, name
// in the package, mode), decided from the binary's own needs. Writing the archive is
// package_command's job; the layout is in lambda_layout.h.
//
// The libraries are the ones the build host's dynamic loader resolves for the binary and for each
// bundled libvips module (loader_list.h), stored under their SONAMEs with symlinks resolved, plus
// the loader itself: the package then runs on any x86_64 Linux whatever its glibc (Amazon Linux
// 2023 on Lambda), and never reads the host's libraries.
#pragma once

#include "base/result.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace pf::app {

struct BundleFile {
    std::string name;                // path in the package ("lib/libvips.so.42")
    std::filesystem::path source;    // file to copy (symlinks resolved); empty when `content` set
    std::string content;             // generated file (fonts.conf)
    std::uint32_t mode = 0644;
    bool strip_debug = false;        // the binary: copied without its DWARF sections
};

struct LambdaBundleInputs {
    std::filesystem::path binary;     // the photoflux to package (dynamically linked)
    std::filesystem::path bootstrap;  // the static launcher (photoflux-bootstrap)
    // libvips modules for the formats photoflux reads and writes beyond the built-in ones:
    // heif (HEIC/AVIF) is required; a missing optional one is reported in `notes`.
    std::vector<std::string> required_vips_modules = {"heif"};
    std::vector<std::string> optional_vips_modules = {"jxl"};
    std::filesystem::path font_dir = "/usr/share/fonts/truetype/dejavu";  // fonts-dejavu-core
};

struct LambdaBundle {
    std::vector<BundleFile> files;   // in package order
    std::vector<std::string> notes;  // what was left out and why
};

Result<LambdaBundle> plan_lambda_bundle(const LambdaBundleInputs& inputs);

// The fontconfig configuration the package carries: the bundled fonts only, found relative to
// the configuration file itself (the package root is /var/task on Lambda, anywhere in tests).
std::string bundle_fonts_conf();

}  // namespace pf::app
