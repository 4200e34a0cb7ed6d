// DiskStore: the ObjectStore of `photoflux serve`. Object bytes live in blob files named by random
// ids, the index (buckets, objects, multipart uploads, configs) in SQLite (WAL, synchronous=FULL).
// See src/storage/README.md for the on-disk layout, the write protocol and recovery.
//
// Thread-safe: request threads call it concurrently. Reads run on a pool of read connections and
// never wait for writes; writes are committed by one commit thread, concurrent ones together
// (group commit).
#pragma once

#include "base/result.h"
#include "storage/object_store.h"
#include "storage/outbox.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pf::storage {

struct DiskStoreOptions {
    std::filesystem::path root;
    // A write that would start with less free space than this fails with Unavailable "disk full"
    // (0 disables the check; ENOSPC while writing is reported the same way).
    std::uint64_t min_free_bytes = 256ull << 20;
    // Commit concurrent writes in one transaction (one WAL fsync per batch). false: one
    // transaction per write, kept for measurements.
    bool group_commit = true;
    std::size_t max_batch = 256;
    // Bodies are written to disk through a buffer that grows to this size.
    std::size_t write_buffer_bytes = 1u << 20;
    // Read connections kept open when idle (more are opened under load).
    std::size_t max_idle_readers = 16;

    // --- Test seams; leave empty in production. ---
    // Replaces fsync(2) for every file and directory the store syncs itself (blobs, temp files,
    // blob directories; not SQLite's own WAL fsync). Gets the path and the open fd; returns 0 or
    // an errno value. Tests use it to inject a failed fsync or to crash at an exact step.
    std::function<int(const std::filesystem::path& path, int fd)> fsync_override;
    // Called on the commit thread with the size of each batch before it is applied. Tests block
    // in it to build a batch of a known size.
    std::function<void(std::size_t batch_size)> batch_observer;
};

// What open() cleaned up after an unclean shutdown (also logged).
struct RecoveryReport {
    std::size_t temp_files = 0;        // bodies being written when the process stopped
    std::size_t orphan_blobs = 0;      // renamed into blobs/ but never committed
    std::size_t trash_blobs = 0;       // released by a committed write, not yet unlinked
    std::size_t orphan_rows = 0;       // parts of no upload, segments of no object
    std::vector<std::string> removed;  // paths relative to the root (the first 1000)
};

struct DiskStoreStats {
    std::uint64_t commits = 0;          // index transactions committed by the commit thread
    std::uint64_t writes = 0;           // write operations applied (succeeded or failed)
    std::uint64_t largest_batch = 0;    // most writes in one transaction so far
    std::uint64_t queued = 0;           // writes waiting for the commit thread now
    std::uint64_t pending_unlinks = 0;  // released blobs kept for open readers
};

class Database;
class WriteLatch;
struct WriteOp;
class BlobFiles;
class BlobReclaimer;
class CommitQueue;
class ReadPool;

class DiskStore final : public ObjectStore {
public:
    // Creates the layout under options.root if needed, takes an exclusive lock on it (a second
    // open of the same root, in this process or another, fails with Unavailable), and recovers
    // from an unclean shutdown before returning.
    static Result<std::unique_ptr<DiskStore>> open(DiskStoreOptions options);
    // Waits for queued writes. Open readers may outlive the store (their blobs stay until they
    // close), but close them before opening the same root again: recovery would unlink them.
    ~DiskStore() override;
    DiskStore(const DiskStore&) = delete;
    DiskStore& operator=(const DiskStore&) = delete;

    Result<BucketInfo> create_bucket(const std::string& name, const std::string& region) override;
    Result<BucketInfo> head_bucket(const std::string& name) override;
    Result<std::vector<BucketInfo>> list_buckets() override;
    Result<void> delete_bucket(const std::string& name) override;
    Result<void> put_bucket_config(const std::string& bucket, const std::string& name,
                                   const std::string& document) override;
    Result<std::optional<std::string>> get_bucket_config(const std::string& bucket,
                                                         const std::string& name) override;
    Result<bool> delete_bucket_config(const std::string& bucket, const std::string& name) override;

    Result<ObjectInfo> put_object(const std::string& bucket, const std::string& key,
                                  ByteSource& body, ObjectMetadata metadata,
                                  const PutConditions& conditions,
                                  const BeforeCommit& before_commit,
                                  const ChangeCause& cause) override;
    Result<ObjectInfo> head_object(const std::string& bucket, const std::string& key) override;
    Result<std::unique_ptr<Reader>> open_object(const std::string& bucket,
                                                const std::string& key) override;
    Result<bool> delete_object(const std::string& bucket, const std::string& key,
                               const ChangeCause& cause) override;
    Result<ListPage> list_objects(const std::string& bucket, const ListQuery& query) override;

    Result<UploadInfo> create_multipart(const std::string& bucket, const std::string& key,
                                        ObjectMetadata metadata) override;
    Result<UploadInfo> get_multipart(const std::string& bucket, const std::string& key,
                                     const std::string& upload_id) override;
    Result<PartInfo> upload_part(const std::string& bucket, const std::string& key,
                                 const std::string& upload_id, int part_number, ByteSource& body,
                                 const BeforeCommit& before_commit) override;
    Result<std::vector<PartInfo>> list_parts(const std::string& bucket, const std::string& key,
                                             const std::string& upload_id, int after_part,
                                             std::size_t max_parts) override;
    Result<std::vector<UploadInfo>> list_multipart_uploads(const std::string& bucket,
                                                           const std::string& prefix,
                                                           const std::string& key_marker,
                                                           const std::string& upload_id_marker,
                                                           std::size_t max_uploads) override;
    Result<void> abort_multipart(const std::string& bucket, const std::string& key,
                                 const std::string& upload_id) override;
    Result<ObjectInfo> complete_multipart(const std::string& bucket, const std::string& key,
                                          const std::string& upload_id,
                                          const std::vector<CompletedPart>& parts,
                                          const PutConditions& conditions,
                                          const BeforeCommit& before_commit,
                                          const ChangeCause& cause) override;

    Result<void> writable() const override;

    // --- The transactional outbox (see outbox.h and README.md). ---
    // The router turning a change into rows; without one no rows are written. Takes effect from
    // the next commit; set it before serving requests.
    void set_outbox_router(OutboxRouter router);
    // Called after every commit that added rows (on the commit thread: only wake someone).
    void set_outbox_listener(OutboxListener listener);
    // Up to `max` rows (at most kMaxOutboxPeek) with ids greater than `after_id`, oldest first.
    // Reads never wait for writes.
    static constexpr std::size_t kMaxOutboxPeek = 1000;
    Result<std::vector<OutboxEntry>> outbox_peek(std::int64_t after_id, std::size_t max);
    // Deletes delivered rows (a write, through the commit queue; at most kMaxOutboxRemove ids per
    // call). Unknown ids are ignored. Returns how many rows were deleted.
    static constexpr std::size_t kMaxOutboxRemove = 10000;
    Result<std::size_t> outbox_remove(const std::vector<std::int64_t>& ids);

    const RecoveryReport& recovery_report() const { return recovery_; }
    DiskStoreStats stats() const;
    const std::filesystem::path& root() const { return options_.root; }

private:
    explicit DiskStore(DiskStoreOptions options);
    Result<void> start();
    Result<void> recover_with(Database& db);
    // Common path of put_object and upload_part: stream, fsync, BeforeCommit, rename, fsync dir.
    struct StagedBody;
    Result<StagedBody> write_body(ByteSource& body, ObjectMetadata& metadata,
                                  const BeforeCommit& before_commit);
    Result<void> commit(WriteOp& op);

    DiskStoreOptions options_;
    int lock_fd_ = -1;
    std::unique_ptr<WriteLatch> latch_;
    std::unique_ptr<BlobFiles> files_;
    std::shared_ptr<BlobReclaimer> reclaimer_;
    std::unique_ptr<ReadPool> readers_;
    std::unique_ptr<CommitQueue> commits_;
    RecoveryReport recovery_;
};

}  // namespace pf::storage
