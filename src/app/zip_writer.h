// ZipWriter: writes a .zip archive (PKWARE APPNOTE, no ZIP64) entry by entry, deflating each file
// with zlib as it streams through, so a large input is never held in memory.
//
// What Lambda needs from it: Unix permission bits in each entry's external attributes (made by
// "Unix"), so `bootstrap` and the dynamic loader stay executable after Lambda unpacks the package.
// Every entry gets the same fixed timestamp (1980-01-01), so the same inputs give the same bytes.
// The archive is written to a temporary name beside the target and renamed into place by
// finish() after an fsync; a writer dropped before finish() removes its temporary file.
#pragma once

#include "base/result.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pf::app {

struct ZipTotals {
    std::uint64_t entries = 0;
    std::uint64_t uncompressed_bytes = 0;  // the sum of the entries' sizes
    std::uint64_t archive_bytes = 0;       // the size of the .zip file
};

class ZipWriter {
public:
    // Limits of the classic (non-ZIP64) format: refused with TooLarge rather than written wrong.
    static constexpr std::uint64_t kMaxEntries = 65535;
    static constexpr std::uint64_t kMaxBytes = 0xFFFFFFFEu;  // per entry and for the archive
    static constexpr std::size_t kMaxNameBytes = 1024;

    static Result<ZipWriter> create(const std::filesystem::path& target);

    ZipWriter(ZipWriter&& other) noexcept;
    ZipWriter& operator=(ZipWriter&&) = delete;
    ~ZipWriter();

    // `name` is the path inside the archive: relative, '/'-separated, no "." or ".." parts.
    // `mode` holds the permission bits (e.g. 0755); the entry is always a regular file.
    Result<void> add_file(std::string_view name, const std::filesystem::path& source,
                          std::uint32_t mode);
    Result<void> add_bytes(std::string_view name, std::string_view bytes, std::uint32_t mode);

    // Writes the central directory, fsyncs and renames the archive into place.
    Result<ZipTotals> finish();

private:
    struct Entry;
    class Deflater;

    ZipWriter(std::filesystem::path target, std::filesystem::path temp, int fd);

    Result<void> begin_entry(std::string_view name, std::uint32_t mode);
    Result<void> write_compressed(std::string_view data, bool last);
    Result<void> end_entry();
    Result<void> write(std::string_view bytes);
    Result<void> fail(Error error);

    std::filesystem::path target_;
    std::filesystem::path temp_;
    int fd_ = -1;
    std::uint64_t offset_ = 0;  // bytes written so far
    std::vector<Entry> entries_;
    std::unique_ptr<Deflater> deflater_;
    std::vector<char> buffer_;
    bool failed_ = false;
};

}  // namespace pf::app
