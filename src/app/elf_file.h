// The two ELF facts `photoflux package lambda` needs, read without any external tool:
// which dynamic loader an executable asks for, and a copy of it without its debug sections
// (a RelWithDebInfo photoflux is ~170 MB of DWARF around ~6 MB of code, which alone would pass
// Lambda's 250 MB limit once the libraries are added).
//
// Only 64-bit little-endian ELF (x86_64, aarch64) is handled; anything else is refused.
#pragma once

#include "base/result.h"

#include <cstdint>
#include <filesystem>
#include <string>

namespace pf::app {

// Headers and section tables larger than this are refused as not a sane ELF file.
inline constexpr std::uint64_t kMaxElfTableBytes = 16 * 1024 * 1024;

struct ElfInfo {
    std::string interpreter;  // PT_INTERP ("/lib64/ld-linux-x86-64.so.2"); empty: static/library
    std::uint16_t machine = 0;  // e_machine (62 = x86_64, 183 = aarch64)
};

Result<ElfInfo> read_elf_info(const std::filesystem::path& path);

// The file's bytes with every non-loaded `.debug*`/`.zdebug*` section dropped: everything the
// program headers cover is copied byte for byte, the remaining non-debug sections (symbols,
// `.comment`, the section name table) follow, and the dropped sections' headers become SHT_NULL
// so that no section index changes (symbols and links stay valid).
Result<std::string> copy_without_debug_sections(const std::filesystem::path& path);

}  // namespace pf::app
