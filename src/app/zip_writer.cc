#include "app/zip_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace pf::app {
namespace {

constexpr std::uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr std::uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr std::uint32_t kEndOfCentralDirectorySignature = 0x06054b50;
constexpr std::uint16_t kVersionNeeded = 20;                  // 2.0: deflate
constexpr std::uint16_t kVersionMadeBy = (3u << 8) | 20;      // host 3 = Unix, so modes count
constexpr std::uint16_t kMethodDeflate = 8;
constexpr std::uint16_t kDosTime = 0;                         // 00:00:00
constexpr std::uint16_t kDosDate = (0u << 9) | (1u << 5) | 1;  // 1980-01-01
constexpr std::size_t kLocalHeaderBytes = 30;
constexpr std::size_t kChunkBytes = 256 * 1024;

void put16(std::string& out, std::uint32_t v) {
    out.push_back(static_cast<char>(v & 0xff));
    out.push_back(static_cast<char>((v >> 8) & 0xff));
}

void put32(std::string& out, std::uint32_t v) {
    put16(out, v & 0xffff);
    put16(out, v >> 16);
}

Error io_error(const std::string& what, const std::filesystem::path& path, int err) {
    return make_error(err == ENOSPC ? ErrorCode::Unavailable : ErrorCode::Internal,
                      what + " " + path.string() + ": " + std::strerror(err));
}

Result<void> check_name(std::string_view name) {
    auto bad = [&](const char* why) {
        return make_error(ErrorCode::InvalidArgument,
                          "zip entry name '" + std::string(name) + "' " + why);
    };
    if (name.empty() || name.size() > ZipWriter::kMaxNameBytes) {
        return bad("is empty or too long");
    }
    if (name.front() == '/' || name.back() == '/' || name.find('\\') != std::string_view::npos ||
        name.find('\0') != std::string_view::npos) {
        return bad("must be a relative '/'-separated file path");
    }
    std::size_t start = 0;
    while (start <= name.size()) {
        std::size_t end = name.find('/', start);
        if (end == std::string_view::npos) {
            end = name.size();
        }
        std::string_view part = name.substr(start, end - start);
        if (part.empty() || part == "." || part == "..") {
            return bad("has an empty, '.' or '..' part");
        }
        start = end + 1;
    }
    return {};
}

}  // namespace

struct ZipWriter::Entry {
    std::string name;
    std::uint32_t mode = 0;
    std::uint32_t crc = 0;
    std::uint64_t compressed = 0;
    std::uint64_t uncompressed = 0;
    std::uint64_t local_offset = 0;
};

// A raw deflate stream (no zlib header: ZIP stores bare deflate data), reset for each entry.
class ZipWriter::Deflater {
public:
    Deflater() {
        std::memset(&stream_, 0, sizeof stream_);
        ok_ = deflateInit2(&stream_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8,
                           Z_DEFAULT_STRATEGY) == Z_OK;
    }
    ~Deflater() {
        if (ok_) {
            deflateEnd(&stream_);
        }
    }
    Deflater(const Deflater&) = delete;
    Deflater& operator=(const Deflater&) = delete;

    bool ok() const { return ok_; }
    z_stream& stream() { return stream_; }

private:
    z_stream stream_;
    bool ok_ = false;
};

ZipWriter::ZipWriter(std::filesystem::path target, std::filesystem::path temp, int fd)
    : target_(std::move(target)),
      temp_(std::move(temp)),
      fd_(fd),
      deflater_(std::make_unique<Deflater>()),
      buffer_(kChunkBytes) {}

ZipWriter::ZipWriter(ZipWriter&& other) noexcept
    : target_(std::move(other.target_)),
      temp_(std::move(other.temp_)),
      fd_(other.fd_),
      offset_(other.offset_),
      entries_(std::move(other.entries_)),
      deflater_(std::move(other.deflater_)),
      buffer_(std::move(other.buffer_)),
      failed_(other.failed_) {
    other.fd_ = -1;
    other.temp_.clear();
}

ZipWriter::~ZipWriter() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
    if (!temp_.empty()) {
        std::error_code ec;
        std::filesystem::remove(temp_, ec);
    }
}

Result<ZipWriter> ZipWriter::create(const std::filesystem::path& target) {
    auto dir = target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path();
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
        return make_error(ErrorCode::NotFound, "no such directory: " + dir.string());
    }
    auto temp = dir / ("." + target.filename().string() + ".tmp." + std::to_string(::getpid()));
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return io_error("cannot create", temp, errno);
    }
    ZipWriter writer(target, temp, fd);
    if (!writer.deflater_->ok()) {
        return make_error(ErrorCode::Internal, "zlib deflateInit2 failed");
    }
    return writer;
}

Result<void> ZipWriter::fail(Error error) {
    failed_ = true;
    return error;
}

Result<void> ZipWriter::write(std::string_view bytes) {
    if (offset_ + bytes.size() > kMaxBytes) {
        return fail(make_error(ErrorCode::TooLarge, "the archive would pass the 4 GiB zip limit"));
    }
    while (!bytes.empty()) {
        ssize_t n = ::write(fd_, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fail(io_error("cannot write", temp_, errno));
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
        offset_ += static_cast<std::uint64_t>(n);
    }
    return {};
}

Result<void> ZipWriter::begin_entry(std::string_view name, std::uint32_t mode) {
    if (failed_ || fd_ < 0) {
        return make_error(ErrorCode::Internal, "zip writer already failed or finished");
    }
    if (auto ok = check_name(name); !ok) {
        return ok;
    }
    if (entries_.size() >= kMaxEntries) {
        return fail(make_error(ErrorCode::TooLarge, "more than 65535 zip entries"));
    }
    for (const auto& e : entries_) {
        if (e.name == name) {
            return make_error(ErrorCode::AlreadyExists,
                              "zip entry '" + std::string(name) + "' added twice");
        }
    }
    Entry entry;
    entry.name = std::string(name);
    entry.mode = mode & 07777;
    entry.local_offset = offset_;
    entry.crc = static_cast<std::uint32_t>(crc32(0, Z_NULL, 0));
    // CRC and sizes are zero here and patched by end_entry() once the data is through.
    std::string header;
    put32(header, kLocalHeaderSignature);
    put16(header, kVersionNeeded);
    put16(header, 0);  // flags: sizes are in this header (patched), names are ASCII
    put16(header, kMethodDeflate);
    put16(header, kDosTime);
    put16(header, kDosDate);
    put32(header, 0);  // crc-32
    put32(header, 0);  // compressed size
    put32(header, 0);  // uncompressed size
    put16(header, static_cast<std::uint32_t>(entry.name.size()));
    put16(header, 0);  // extra field length
    header += entry.name;
    entries_.push_back(std::move(entry));
    if (deflateReset(&deflater_->stream()) != Z_OK) {
        return fail(make_error(ErrorCode::Internal, "zlib deflateReset failed"));
    }
    return write(header);
}

Result<void> ZipWriter::write_compressed(std::string_view data, bool last) {
    Entry& entry = entries_.back();
    entry.uncompressed += data.size();
    if (entry.uncompressed > kMaxBytes) {
        return fail(make_error(ErrorCode::TooLarge,
                               "zip entry '" + entry.name + "' passes the 4 GiB zip limit"));
    }
    entry.crc = static_cast<std::uint32_t>(
        crc32(entry.crc, reinterpret_cast<const Bytef*>(data.data()),
              static_cast<uInt>(data.size())));
    z_stream& zs = deflater_->stream();
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    const int flush = last ? Z_FINISH : Z_NO_FLUSH;
    while (true) {
        zs.next_out = reinterpret_cast<Bytef*>(buffer_.data());
        zs.avail_out = static_cast<uInt>(buffer_.size());
        int rc = deflate(&zs, flush);
        if (rc == Z_STREAM_ERROR) {
            return fail(make_error(ErrorCode::Internal, "zlib deflate failed"));
        }
        std::size_t produced = buffer_.size() - zs.avail_out;
        entry.compressed += produced;
        if (auto ok = write(std::string_view(buffer_.data(), produced)); !ok) {
            return ok;
        }
        if (last ? rc == Z_STREAM_END : (zs.avail_in == 0 && zs.avail_out != 0)) {
            return {};
        }
    }
}

Result<void> ZipWriter::end_entry() {
    const Entry& entry = entries_.back();
    std::string patch;
    put32(patch, entry.crc);
    put32(patch, static_cast<std::uint32_t>(entry.compressed));
    put32(patch, static_cast<std::uint32_t>(entry.uncompressed));
    auto at = static_cast<off_t>(entry.local_offset + 14);
    if (::pwrite(fd_, patch.data(), patch.size(), at) != static_cast<ssize_t>(patch.size())) {
        return fail(io_error("cannot write", temp_, errno));
    }
    return {};
}

Result<void> ZipWriter::add_bytes(std::string_view name, std::string_view bytes,
                                  std::uint32_t mode) {
    if (auto ok = begin_entry(name, mode); !ok) {
        return ok;
    }
    while (bytes.size() > kChunkBytes) {
        if (auto ok = write_compressed(bytes.substr(0, kChunkBytes), false); !ok) {
            return ok;
        }
        bytes.remove_prefix(kChunkBytes);
    }
    if (auto ok = write_compressed(bytes, true); !ok) {
        return ok;
    }
    return end_entry();
}

Result<void> ZipWriter::add_file(std::string_view name, const std::filesystem::path& source,
                                 std::uint32_t mode) {
    std::ifstream in(source, std::ios::binary);
    if (!in) {
        return io_error("cannot open", source, errno);
    }
    if (auto ok = begin_entry(name, mode); !ok) {
        return ok;
    }
    std::vector<char> chunk(kChunkBytes);
    while (true) {
        in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        auto got = static_cast<std::size_t>(in.gcount());
        if (in.bad()) {
            return fail(make_error(ErrorCode::Internal, "cannot read " + source.string()));
        }
        bool last = in.eof();
        if (auto ok = write_compressed(std::string_view(chunk.data(), got), last); !ok) {
            return ok;
        }
        if (last) {
            break;
        }
    }
    return end_entry();
}

Result<ZipTotals> ZipWriter::finish() {
    if (failed_ || fd_ < 0) {
        return make_error(ErrorCode::Internal, "zip writer already failed or finished");
    }
    ZipTotals totals;
    const std::uint64_t directory_offset = offset_;
    std::string directory;
    for (const auto& e : entries_) {
        put32(directory, kCentralHeaderSignature);
        put16(directory, kVersionMadeBy);
        put16(directory, kVersionNeeded);
        put16(directory, 0);
        put16(directory, kMethodDeflate);
        put16(directory, kDosTime);
        put16(directory, kDosDate);
        put32(directory, e.crc);
        put32(directory, static_cast<std::uint32_t>(e.compressed));
        put32(directory, static_cast<std::uint32_t>(e.uncompressed));
        put16(directory, static_cast<std::uint32_t>(e.name.size()));
        put16(directory, 0);  // extra field length
        put16(directory, 0);  // comment length
        put16(directory, 0);  // disk number
        put16(directory, 0);  // internal attributes
        put32(directory, (static_cast<std::uint32_t>(S_IFREG) | e.mode) << 16);
        put32(directory, static_cast<std::uint32_t>(e.local_offset));
        directory += e.name;
        totals.uncompressed_bytes += e.uncompressed;
    }
    std::string end;
    put32(end, kEndOfCentralDirectorySignature);
    put16(end, 0);  // this disk
    put16(end, 0);  // disk with the central directory
    put16(end, static_cast<std::uint32_t>(entries_.size()));
    put16(end, static_cast<std::uint32_t>(entries_.size()));
    put32(end, static_cast<std::uint32_t>(directory.size()));
    put32(end, static_cast<std::uint32_t>(directory_offset));
    put16(end, 0);  // comment length
    if (auto ok = write(directory + end); !ok) {
        return ok.error();
    }
    if (::fsync(fd_) != 0) {
        return io_error("cannot fsync", temp_, errno);
    }
    ::close(fd_);
    fd_ = -1;
    std::error_code ec;
    std::filesystem::rename(temp_, target_, ec);
    if (ec) {
        return io_error("cannot rename to", target_, ec.value());
    }
    temp_.clear();
    auto dir = target_.parent_path().empty() ? std::filesystem::path(".") : target_.parent_path();
    if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    totals.entries = entries_.size();
    totals.archive_bytes = offset_;
    return totals;
}

}  // namespace pf::app
