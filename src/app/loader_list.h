// Which shared libraries an ELF file needs, as the build host's dynamic loader resolves them:
// `<loader> --list <file>` (what ldd runs), which already walks the dependencies recursively.
// The loader is the only external program `photoflux package lambda` runs.
#pragma once

#include "base/result.h"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace pf::app {

struct SharedLibrary {
    std::string name;             // the name the loader looked for: the SONAME (DT_NEEDED entry)
    std::filesystem::path path;   // where it found it on this machine
};

// Output larger than this is refused (a real list is a few KiB).
inline constexpr std::size_t kMaxLoaderListBytes = 1024 * 1024;

// Parses the loader's list. Lines look like
//   "\tlibvips.so.42 => /lib/x86_64-linux-gnu/libvips.so.42 (0x00007f...)"
//   "\t/lib64/ld-linux-x86-64.so.2 (0x...)"            (the loader itself; name = file name)
//   "\tlinux-vdso.so.1 (0x...)"                          (kernel-provided: skipped)
// A "=> not found" entry makes the whole list an error naming every missing library.
Result<std::vector<SharedLibrary>> parse_loader_list(std::string_view output);

// Runs `<loader> --list <file>` (no shell; the environment passes through, so LD_LIBRARY_PATH
// counts as it does for ldd) and parses what it prints.
Result<std::vector<SharedLibrary>> list_shared_libraries(const std::filesystem::path& loader,
                                                         const std::filesystem::path& file);

}  // namespace pf::app
