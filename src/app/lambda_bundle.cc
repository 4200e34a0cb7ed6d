#include "app/lambda_bundle.h"

#include "app/elf_file.h"
#include "app/lambda_layout.h"
#include "app/loader_list.h"

#include <algorithm>
#include <map>
#include <set>

namespace pf::app {
namespace {

namespace fs = std::filesystem;
namespace layout = lambda_layout;

// More than this many libraries means something is badly wrong (a real list is ~150).
constexpr std::size_t kMaxLibraries = 2000;

Result<fs::path> resolved_file(const fs::path& path, const std::string& what) {
    std::error_code ec;
    fs::path real = fs::canonical(path, ec);
    if (ec || !fs::is_regular_file(real, ec)) {
        return make_error(ErrorCode::NotFound, what + " not found: " + path.string());
    }
    return real;
}

// SONAME -> file, first resolution wins (the loader resolves a name once per process too).
using LibraryMap = std::map<std::string, fs::path>;

Result<void> add_libraries_of(const fs::path& loader, const fs::path& file, LibraryMap& libs) {
    auto listed = list_shared_libraries(loader, file);
    if (!listed) {
        return listed.error();
    }
    for (auto& lib : *listed) {
        libs.emplace(lib.name, lib.path);
    }
    if (libs.size() > kMaxLibraries) {
        return make_error(ErrorCode::LimitExceeded, "more than 2000 shared libraries needed");
    }
    return {};
}

// libvips' module folder sits beside the library (/usr/lib/x86_64-linux-gnu/vips-modules-8.14).
// At run time libvips looks in `$VIPSHOME/<last part of its libdir>/vips-modules-<major.minor>`,
// so the package keeps the last two parts of that path under its VIPSHOME.
Result<fs::path> vips_module_dir(const LibraryMap& libs) {
    auto it = std::find_if(libs.begin(), libs.end(),
                           [](const auto& e) { return e.first.starts_with("libvips.so."); });
    if (it == libs.end()) {
        return make_error(ErrorCode::NotFound, "the binary does not link libvips");
    }
    std::error_code ec;
    fs::path dir = fs::canonical(it->second, ec).parent_path();
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (entry.is_directory() && entry.path().filename().string().starts_with("vips-modules-")) {
            found.push_back(entry.path());
        }
    }
    if (found.size() != 1) {
        return make_error(ErrorCode::NotFound, "expected one vips-modules-* folder beside " +
                                                   it->second.string() + ", found " +
                                                   std::to_string(found.size()));
    }
    return found.front();
}

}  // namespace

std::string bundle_fonts_conf() {
    return std::string(
               "<?xml version=\"1.0\"?>\n"
               "<!DOCTYPE fontconfig SYSTEM \"urn:fontconfig:fonts.dtd\">\n"
               "<!-- Written by `photoflux package lambda`: only the fonts in this package. -->\n"
               "<fontconfig>\n"
               "  <dir prefix=\"relative\">../../") +
           layout::kFontsDir +
           "</dir>\n"
           "  <cachedir>" +
           layout::kFontCacheDir +
           "</cachedir>\n"
           "  <alias><family>sans-serif</family><prefer><family>DejaVu Sans</family></prefer>"
           "</alias>\n"
           "  <alias><family>serif</family><prefer><family>DejaVu Serif</family></prefer>"
           "</alias>\n"
           "  <alias><family>monospace</family><prefer><family>DejaVu Sans Mono</family>"
           "</prefer></alias>\n"
           "</fontconfig>\n";
}

Result<LambdaBundle> plan_lambda_bundle(const LambdaBundleInputs& inputs) {
    LambdaBundle bundle;
    auto binary = resolved_file(inputs.binary, "photoflux binary");
    if (!binary) {
        return binary.error();
    }
    auto binary_elf = read_elf_info(*binary);
    if (!binary_elf) {
        return binary_elf.error();
    }
    if (binary_elf->interpreter.empty()) {
        return make_error(ErrorCode::InvalidArgument,
                          binary->string() + " names no dynamic loader (PT_INTERP): package a "
                                             "dynamically linked photoflux");
    }
    const fs::path loader = binary_elf->interpreter;
    if (loader.filename() != layout::kLoaderName) {
        return make_error(ErrorCode::InvalidArgument,
                          "the binary's loader is " + loader.string() + "; this bootstrap starts " +
                              layout::kLoaderName + " (package on the target architecture)");
    }
    auto bootstrap = resolved_file(inputs.bootstrap, "bootstrap launcher");
    if (!bootstrap) {
        return bootstrap.error();
    }
    auto bootstrap_elf = read_elf_info(*bootstrap);
    if (!bootstrap_elf) {
        return bootstrap_elf.error();
    }
    if (!bootstrap_elf->interpreter.empty() || bootstrap_elf->machine != binary_elf->machine) {
        return make_error(ErrorCode::InvalidArgument,
                          bootstrap->string() + " must be statically linked for the binary's "
                                                "architecture (Lambda starts it with no libraries)");
    }

    LibraryMap libs;
    if (auto ok = add_libraries_of(loader, *binary, libs); !ok) {
        return ok.error();
    }
    auto module_dir = vips_module_dir(libs);
    if (!module_dir) {
        return module_dir.error();
    }
    std::vector<BundleFile> modules;
    auto add_module = [&](const std::string& name, bool required) -> Result<void> {
        fs::path file = *module_dir / ("vips-" + name + ".so");
        std::error_code ec;
        if (!fs::is_regular_file(file, ec)) {
            if (required) {
                return make_error(ErrorCode::NotFound, "libvips module " + file.string() +
                                                           " is missing (install libvips's " +
                                                           name + " support)");
            }
            bundle.notes.push_back("libvips module " + file.string() + " not found: " + name +
                                   " left out");
            return {};
        }
        if (auto ok = add_libraries_of(loader, file, libs); !ok) {
            return ok.error();
        }
        modules.push_back({std::string(layout::kVipsHome) + "/" +
                               module_dir->parent_path().filename().string() + "/" +
                               module_dir->filename().string() + "/" + file.filename().string(),
                           file, {}, 0644, false});
        return {};
    };
    for (const auto& m : inputs.required_vips_modules) {
        if (auto ok = add_module(m, true); !ok) {
            return ok.error();
        }
    }
    for (const auto& m : inputs.optional_vips_modules) {
        if (auto ok = add_module(m, false); !ok) {
            return ok.error();
        }
    }

    bundle.files.push_back({layout::kBootstrap, *bootstrap, {}, 0755, true});
    bundle.files.push_back({layout::kBinary, *binary, {}, 0755, true});
    auto real_loader = resolved_file(loader, "dynamic loader");
    if (!real_loader) {
        return real_loader.error();
    }
    bundle.files.push_back({std::string(layout::kLibDir) + "/" + layout::kLoaderName,
                            *real_loader, {}, 0755, false});
    for (const auto& [name, path] : libs) {
        if (name == layout::kLoaderName) {
            continue;
        }
        auto real = resolved_file(path, "shared library");
        if (!real) {
            return real.error();
        }
        bundle.files.push_back({std::string(layout::kLibDir) + "/" + name, *real, {}, 0644, false});
    }
    for (auto& m : modules) {
        bundle.files.push_back(std::move(m));
    }

    std::set<fs::path> fonts;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(inputs.font_dir, ec)) {
        if (entry.is_regular_file() && entry.path().extension() == ".ttf") {
            fonts.insert(entry.path());
        }
    }
    if (fonts.empty()) {
        return make_error(ErrorCode::NotFound, "no .ttf fonts in " + inputs.font_dir.string() +
                                                   " (install fonts-dejavu-core)");
    }
    for (const auto& font : fonts) {
        bundle.files.push_back({std::string(layout::kFontsDir) + "/" + font.filename().string(),
                                font, {}, 0644, false});
    }
    bundle.files.push_back({layout::kFontsConf, {}, bundle_fonts_conf(), 0644, false});
    return bundle;
}

}  // namespace pf::app
