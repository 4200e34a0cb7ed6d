// Whole-file helpers with the project's durability rule: a file a reader may observe is written
// to a temporary name in the same directory, fsynced, then renamed into place (and the directory
// fsynced), so a crash leaves either the old file or the new one, never a torn one.
#pragma once

#include "base/result.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace pf {

// Reads a whole file, refusing files larger than max_bytes (TooLarge) before reading them.
Result<std::string> read_file(const std::filesystem::path& path, std::uint64_t max_bytes);

// temp -> fsync -> rename -> fsync(dir). Creates missing parent directories.
Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

}  // namespace pf
