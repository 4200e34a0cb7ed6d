#include "storage/blob_files.h"

#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "crypto/random.h"
#include "storage/background_md5.h"
#include "storage/logger.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

namespace pf::storage {
namespace {

// A body is written through a buffer that starts small (most photos' derivatives are small) and
// grows to the configured size, so large bodies go to disk in large writes.
constexpr std::size_t kInitialBuffer = 64 * 1024;
// Full-size buffers waiting for the background MD5 (memory per large upload: this + 2 buffers).
constexpr std::size_t kHashQueueDepth = 2;
// A large body's pages are sent to the disk every this many bytes, so the fsync at the end waits
// for the last few MiB instead of the whole body, and the page cache does not fill with it.
constexpr std::uint64_t kWritebackStep = 8u << 20;

bool is_disk_full(int err) {
    return err == ENOSPC || err == EDQUOT;
}

// Closes a file descriptor on scope exit unless released.
class FdGuard {
public:
    explicit FdGuard(int fd) : fd_(fd) {}
    FdGuard(const FdGuard&) = delete;
    FdGuard& operator=(const FdGuard&) = delete;
    ~FdGuard() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    int get() const { return fd_; }
    // Closes now, returning close()'s errno (0 on success).
    int close_now() {
        int rc = ::close(fd_);
        fd_ = -1;
        return rc == 0 ? 0 : errno;
    }

private:
    int fd_;
};

// write(2) until everything is written; returns 0 or an errno value.
int write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return 0;
}

// Asks the kernel to start writing [from, to) once a whole step is pending (no waiting: the
// fsync at the end still decides durability and reports errors).
void start_writeback(int fd, std::uint64_t& from, std::uint64_t to) {
    if (to - from < kWritebackStep) {
        return;
    }
#ifdef __linux__
    (void)::sync_file_range(fd, static_cast<off_t>(from), static_cast<off_t>(to - from),
                            SYNC_FILE_RANGE_WRITE);
#endif
    from = to;
}

std::string errno_text(int err) {
    return std::strerror(err);
}

}  // namespace

std::string utc_now_text() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

Error disk_full_error(const std::string& detail) {
    return make_error(ErrorCode::Unavailable, "disk full: " + detail, "disk full");
}

std::filesystem::path BlobLayout::shard_dir(std::string_view id) const {
    return blobs_dir() / std::string(id.substr(0, 2));
}

std::filesystem::path BlobLayout::blob_path(std::string_view id) const {
    return shard_dir(id) / std::string(id);
}

std::filesystem::path BlobLayout::temp_path(std::string_view id) const {
    return tmp_dir() / (std::string(id) + ".tmp");
}

std::string BlobLayout::new_id() {
    return crypto::random_hex(16);
}

bool BlobLayout::is_blob_id(std::string_view name) {
    return name.size() == 32 && std::all_of(name.begin(), name.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

Result<void> WriteLatch::check() const {
    std::lock_guard lock(mutex_);
    if (error_) {
        return *error_;
    }
    return {};
}

void WriteLatch::latch(const std::string& reason) {
    std::lock_guard lock(mutex_);
    if (error_) {
        log().error("event=write_failure_after_latch reason=\"{}\"", reason);
        return;
    }
    error_ = make_error(ErrorCode::Unavailable,
                        "store is read-only since " + utc_now_text() + ": " + reason +
                            " (reopen the store after checking the disk)",
                        "storage is read-only after an I/O error");
    log().error("event=store_read_only reason=\"{}\"", reason);
}

BlobFiles::BlobFiles(BlobLayout layout, const DiskStoreOptions& options, WriteLatch& latch)
    : layout_(std::move(layout)), options_(options), latch_(latch) {
    shard_fds_.fill(-1);
}

BlobFiles::~BlobFiles() {
    for (int fd : shard_fds_) {
        if (fd >= 0) {
            ::close(fd);
        }
    }
}

Result<void> BlobFiles::check_free_space() const {
    if (options_.min_free_bytes == 0) {
        return {};
    }
    struct statvfs fs {};
    if (::statvfs(layout_.root().c_str(), &fs) != 0) {
        return make_error(ErrorCode::Internal,
                          "cannot stat " + layout_.root().string() + ": " + errno_text(errno));
    }
    std::uint64_t free_bytes =
        static_cast<std::uint64_t>(fs.f_bavail) * static_cast<std::uint64_t>(fs.f_frsize);
    if (free_bytes < options_.min_free_bytes) {
        return disk_full_error(std::to_string(free_bytes) + " bytes free under " +
                               layout_.root().string() + ", below the minimum of " +
                               std::to_string(options_.min_free_bytes));
    }
    return {};
}

int BlobFiles::sync_fd(const std::filesystem::path& path, int fd) const {
    if (options_.fsync_override) {
        return options_.fsync_override(path, fd);
    }
    return ::fsync(fd) == 0 ? 0 : errno;
}

Result<void> BlobFiles::sync_dir(const std::filesystem::path& dir) const {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return make_error(ErrorCode::Internal,
                          "cannot open directory " + dir.string() + ": " + errno_text(errno));
    }
    FdGuard guard(fd);
    if (int err = sync_fd(dir, fd); err != 0) {
        return latch_error(dir, err);
    }
    return {};
}

Error BlobFiles::latch_error(const std::filesystem::path& path, int err) const {
    latch_.latch("fsync of " + path.string() + " failed: " + errno_text(err));
    return latch_.check().error();
}

Result<StagedBlob> BlobFiles::stage(ByteSource& body) {
    StagedBlob blob;
    blob.id = BlobLayout::new_id();
    auto temp = layout_.temp_path(blob.id);
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        int err = errno;
        if (is_disk_full(err)) {
            return disk_full_error("cannot create " + temp.string() + ": " + errno_text(err));
        }
        return make_error(ErrorCode::Internal,
                          "cannot create " + temp.string() + ": " + errno_text(err));
    }
    FdGuard guard(fd);
    // Whatever fails from here on, the temp file must not stay behind.
    auto fail = [&](Error error) -> Result<StagedBlob> {
        ::unlink(temp.c_str());
        return error;
    };

    crypto::Md5 md5;
    // Set once the body has grown past the first full-size buffer: from then on MD5 runs beside
    // the receiving and writing.
    std::unique_ptr<BackgroundMd5> background;
    std::vector<char> buffer(
        std::min(kInitialBuffer, std::max<std::size_t>(options_.write_buffer_bytes, 4096)));
    std::size_t filled = 0;
    std::uint64_t written = 0;
    std::uint64_t flushed_up_to = 0;  // start of what sync_file_range has not been asked to write
    bool at_end = false;
    while (!at_end) {
        auto n = body.read(std::span<char>(buffer.data() + filled, buffer.size() - filled));
        if (!n) {
            return fail(n.error());
        }
        if (*n == 0) {
            at_end = true;
        } else {
            filled += *n;
            blob.digest.size += *n;
        }
        if (filled < buffer.size() && !(at_end && filled > 0)) {
            continue;
        }
        if (int err = write_all(fd, buffer.data(), filled); err != 0) {
            if (is_disk_full(err)) {
                return fail(disk_full_error("writing " + temp.string() + ": " + errno_text(err)));
            }
            return fail(make_error(ErrorCode::Internal,
                                   "cannot write " + temp.string() + ": " + errno_text(err)));
        }
        written += filled;
        start_writeback(fd, flushed_up_to, written);
        if (background) {
            buffer = background->hand_off(std::move(buffer), filled);
        } else if (buffer.size() >= options_.write_buffer_bytes && !at_end) {
            background = std::make_unique<BackgroundMd5>(std::move(md5), kHashQueueDepth);
            buffer = background->hand_off(std::move(buffer), filled);
        } else {
            md5.update(std::string_view(buffer.data(), filled));
            if (buffer.size() < options_.write_buffer_bytes) {
                buffer.resize(std::min(buffer.size() * 2, options_.write_buffer_bytes));
            }
        }
        filled = 0;
    }
    if (int err = sync_fd(temp, fd); err != 0) {
        // The file is discarded, so a full disk reported at fsync (thin provisioning, NFS) is
        // still only "disk full". Anything else means the device failed: stop writing.
        if (is_disk_full(err)) {
            return fail(disk_full_error("fsync of " + temp.string() + ": " + errno_text(err)));
        }
        return fail(latch_error(temp, err));
    }
    if (int err = guard.close_now(); err != 0) {
        return fail(make_error(ErrorCode::Internal,
                               "cannot close " + temp.string() + ": " + errno_text(err)));
    }
    auto digest = background ? background->finish() : md5.finish();
    blob.md5 = crypto::as_bytes(digest);
    blob.digest.md5_hex = crypto::hex_encode(digest);
    return blob;
}

void BlobFiles::discard(const StagedBlob& blob) {
    ::unlink(layout_.temp_path(blob.id).c_str());
}

Result<void> BlobFiles::create_shards() {
    static constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t index = 0; index < shard_fds_.size(); ++index) {
        auto dir = layout_.blobs_dir() / std::string{kHex[index >> 4], kHex[index & 15]};
        if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
            int err = errno;
            return make_error(is_disk_full(err) ? ErrorCode::Unavailable : ErrorCode::Internal,
                              "cannot create " + dir.string() + ": " + errno_text(err));
        }
        if (shard_fds_[index] < 0) {
            shard_fds_[index] = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (shard_fds_[index] < 0) {
                return make_error(ErrorCode::Internal,
                                  "cannot open directory " + dir.string() + ": " +
                                      errno_text(errno));
            }
        }
    }
    // Always synced, even when nothing was created: a previous run may have created shards and
    // crashed before syncing blobs/.
    return sync_dir(layout_.blobs_dir());
}

Result<void> BlobFiles::publish(const StagedBlob& blob) {
    auto temp = layout_.temp_path(blob.id);
    auto target = layout_.blob_path(blob.id);
    if (::rename(temp.c_str(), target.c_str()) != 0) {
        int err = errno;
        ::unlink(temp.c_str());
        if (is_disk_full(err)) {
            return disk_full_error("cannot rename into " + target.string() + ": " +
                                   errno_text(err));
        }
        return make_error(ErrorCode::Internal,
                          "cannot rename into " + target.string() + ": " + errno_text(err));
    }
    // The blob stays if this fails: nothing references it, and recovery removes it at the next
    // open.
    auto shard = layout_.shard_dir(blob.id);
    int shard_fd = shard_fds_[static_cast<std::size_t>(std::stoi(blob.id.substr(0, 2), nullptr, 16))];
    if (shard_fd < 0) {
        return sync_dir(shard);
    }
    if (int err = sync_fd(shard, shard_fd); err != 0) {
        return latch_error(shard, err);
    }
    return {};
}

void BlobFiles::remove_blob(std::string_view id) {
    auto path = layout_.blob_path(id);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        log().warn("event=unlink_failed path={} error=\"{}\"", path.string(), errno_text(errno));
    }
}

}  // namespace pf::storage
