#include "base/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace pf {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

Error io_error(const std::string& what, const std::filesystem::path& path, int err) {
    // ENOSPC and EDQUOT are worth retrying once space is freed; everything else is final.
    ErrorCode code = (err == ENOSPC || err == EDQUOT) ? ErrorCode::Unavailable
                     : err == ENOENT                   ? ErrorCode::NotFound
                     : (err == EACCES || err == EPERM) ? ErrorCode::Forbidden
                                                       : ErrorCode::Internal;
    return make_error(code, what + " " + path.string() + ": " + errno_text(err));
}

bool write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

}  // namespace

Result<std::string> read_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
    std::error_code ec;
    auto status = std::filesystem::status(path, ec);
    if (ec) {
        return io_error("cannot read", path, ec.value());
    }
    if (!std::filesystem::is_regular_file(status)) {
        return make_error(ErrorCode::InvalidArgument, path.string() + " is not a regular file");
    }
    std::uint64_t size = std::filesystem::file_size(path, ec);
    if (ec) {
        return io_error("cannot read", path, ec.value());
    }
    if (size > max_bytes) {
        return make_error(ErrorCode::TooLarge, path.string() + " is " + std::to_string(size) +
                                                   " bytes, over the limit of " +
                                                   std::to_string(max_bytes));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return io_error("cannot open", path, errno);
    }
    std::string bytes(size, '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(size));
    if (static_cast<std::uint64_t>(in.gcount()) != size) {
        return make_error(ErrorCode::Internal, "short read from " + path.string());
    }
    return bytes;
}

Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
    static std::atomic<unsigned> counter{0};
    std::error_code ec;
    auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        return io_error("cannot create directory", dir, ec.value());
    }
    // Hidden, unique temp name in the same directory so the rename is atomic.
    auto tmp = dir / ("." + path.filename().string() + ".tmp." + std::to_string(::getpid()) +
                      "." + std::to_string(counter.fetch_add(1)));
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return io_error("cannot create", tmp, errno);
    }
    if (!write_all(fd, bytes) || ::fsync(fd) != 0) {
        int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        return io_error("cannot write", path, err);
    }
    if (::close(fd) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return io_error("cannot write", path, err);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return io_error("cannot rename into", path, err);
    }
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);  // best effort: the rename is already visible
        ::close(dfd);
    }
    return {};
}

}  // namespace pf
