// The files under a DiskStore root: where blobs live, how a body becomes a durable blob
// (temp -> fsync -> rename -> fsync dir), and the write latch that turns the store read-only after
// a failed fsync. Internal to storage/.
//
// Blob names are random 128-bit ids (32 lowercase hex), sharded by their first byte:
// blobs/ab/ab.... Keys never reach a path. The 256 shard directories are created when the store
// opens, so a write never has to create (and fsync the parent of) a directory.
#pragma once

#include "base/byte_stream.h"
#include "base/result.h"
#include "storage/disk_store.h"
#include "storage/object_store.h"

#include <array>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace pf::storage {

// Pure path arithmetic, shared by the writer, readers and recovery.
class BlobLayout {
public:
    explicit BlobLayout(std::filesystem::path root) : root_(std::move(root)) {}
    const std::filesystem::path& root() const { return root_; }
    std::filesystem::path blobs_dir() const { return root_ / "blobs"; }
    std::filesystem::path tmp_dir() const { return root_ / "tmp"; }
    std::filesystem::path index_path() const { return root_ / "index.sqlite"; }
    std::filesystem::path lock_path() const { return root_ / "lock"; }
    std::filesystem::path shard_dir(std::string_view id) const;
    std::filesystem::path blob_path(std::string_view id) const;
    std::filesystem::path temp_path(std::string_view id) const;

    static std::string new_id();
    // 32 lowercase hex characters: the only names recovery treats as blobs.
    static bool is_blob_id(std::string_view name);

private:
    std::filesystem::path root_;
};

// Once an fsync fails the store accepts no more writes until it is reopened: after a failed fsync
// the kernel may have dropped the dirty pages and a retry can "succeed" without the data
// (fsyncgate), so nothing written since can be trusted to be durable. Reads keep working.
class WriteLatch {
public:
    Result<void> check() const;
    // The first reason wins; later ones are only logged.
    void latch(const std::string& reason);

private:
    mutable std::mutex mutex_;
    std::optional<Error> error_;
};

// A body written to tmp/ and fsynced, not yet visible under blobs/.
struct StagedBlob {
    std::string id;
    BodyDigest digest;
    std::string md5;  // the 16 raw bytes (multipart ETags concatenate them)
};

class BlobFiles {
public:
    BlobFiles(BlobLayout layout, const DiskStoreOptions& options, WriteLatch& latch);
    ~BlobFiles();
    BlobFiles(const BlobFiles&) = delete;
    BlobFiles& operator=(const BlobFiles&) = delete;

    const BlobLayout& layout() const { return layout_; }

    // Unavailable "disk full" when less than min_free_bytes is free.
    Result<void> check_free_space() const;
    // Streams `body` into a temp file (hashing MD5 as it goes) and fsyncs it. On any failure the
    // temp file is gone. ENOSPC/EDQUOT -> Unavailable "disk full"; a failed fsync latches.
    Result<StagedBlob> stage(ByteSource& body);
    // Removes a staged temp file (a BeforeCommit hook refused it).
    void discard(const StagedBlob& blob);
    // Creates the 256 shard directories that are missing, makes them durable and keeps a
    // descriptor of each open (every publish fsyncs one; opening it each time costs a path walk).
    Result<void> create_shards();
    // Renames the temp file into blobs/ and fsyncs the directory. On failure the temp file is gone.
    Result<void> publish(const StagedBlob& blob);
    // Unlinks a blob nothing references (best effort; recovery catches what this misses).
    void remove_blob(std::string_view id);

    // fsync through the test seam. Returns 0 or an errno value.
    int sync_fd(const std::filesystem::path& path, int fd) const;
    // fsyncs a directory. A failed fsync latches the store (the returned error says so).
    Result<void> sync_dir(const std::filesystem::path& dir) const;

private:
    Error latch_error(const std::filesystem::path& path, int err) const;

    BlobLayout layout_;
    const DiskStoreOptions& options_;
    WriteLatch& latch_;
    std::array<int, 256> shard_fds_;  // blobs/00 .. blobs/ff, -1 until create_shards()
};

Error disk_full_error(const std::string& detail);
// "2026-11-29T11:57:44Z" for the current time.
std::string utc_now_text();

}  // namespace pf::storage
