// Group commit: every write to the index goes through one commit thread that owns the writer
// connection. Writes that arrive while a transaction is being committed wait in a queue and are
// then applied together in the next transaction, each inside its own SAVEPOINT: one WAL fsync for
// the whole batch, and a member that fails (its precondition, a vanished bucket) is rolled back to
// its savepoint without touching the others. Each caller waits for its own batch and gets its own
// result. Internal to storage/.
#pragma once

#include "base/result.h"
#include "storage/blob_files.h"
#include "storage/blob_reclaimer.h"
#include "storage/disk_store.h"
#include "storage/outbox.h"
#include "storage/sqlite.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pf::storage {

struct WriteOp;

// The view of the open transaction a write's apply() gets.
class WriteTxn {
public:
    WriteTxn(Database& db, std::int64_t now_ms, WriteOp& op) : db_(db), now_ms_(now_ms), op_(op) {}
    Database& db() { return db_; }
    // The commit time every member of the batch shares (whole seconds, as S3 reports it).
    std::int64_t now_seconds() const { return now_ms_ / 1000; }
    // The same instant in milliseconds (event times).
    std::int64_t now_ms() const { return now_ms_; }
    // Records that `blob` is no longer referenced once this transaction commits: a trash row now,
    // the unlink after the commit (when no reader needs it any more).
    Result<void> release_blob(const std::string& blob);
    // Records an object change of this write (the outbox turns it into event rows). Sets the
    // change's event time and sequencer.
    void object_changed(ObjectChange change);

private:
    Database& db_;
    std::int64_t now_ms_;
    WriteOp& op_;
};

struct WriteOp {
    // Runs inside the batch transaction, in the op's own savepoint.
    std::function<Result<void>(WriteTxn&)> apply;
    // Blobs this op put under blobs/ before committing: removed if the op does not commit.
    std::vector<std::string> new_blobs;

    // Filled in by the commit thread.
    std::vector<std::string> released;
    std::vector<ObjectChange> changes;
    std::size_t outbox_rows = 0;  // rows this op added to the outbox
    Result<void> result;
    bool done = false;
};

class CommitQueue {
public:
    CommitQueue(std::unique_ptr<Database> db, BlobFiles& files,
                std::shared_ptr<BlobReclaimer> reclaimer, WriteLatch& latch,
                const DiskStoreOptions& options);
    // Applies what is still queued, then stops the thread.
    ~CommitQueue();
    CommitQueue(const CommitQueue&) = delete;
    CommitQueue& operator=(const CommitQueue&) = delete;

    // Blocks until the op's batch committed (or failed). The result is the op's own.
    Result<void> submit(WriteOp& op);

    DiskStoreStats stats() const;

    // Take effect from the next batch. Thread-safe.
    void set_outbox_router(OutboxRouter router);
    void set_outbox_listener(OutboxListener listener);

private:
    void run();
    void apply_batch(const std::vector<WriteOp*>& batch);
    // Fails every op with `error`; the ops' new blobs are removed when `remove_new_blobs`.
    void fail_all(const std::vector<WriteOp*>& batch, const Error& error, bool remove_new_blobs);
    // The error a failed index operation becomes: I/O errors latch the store.
    Error index_failure(const Error& error);
    Result<void> delete_unlinked_trash_rows();
    // Outbox rows for the op's changes, inside its savepoint (commit thread only).
    Result<void> write_outbox(WriteOp& op, const OutboxRouter& router, std::int64_t now_ms);

    std::unique_ptr<Database> db_;
    BlobFiles& files_;
    std::shared_ptr<BlobReclaimer> reclaimer_;
    WriteLatch& latch_;
    const DiskStoreOptions& options_;

    mutable std::mutex mutex_;
    std::condition_variable work_ready_;
    std::condition_variable work_done_;
    std::deque<WriteOp*> queue_;
    bool stopping_ = false;
    DiskStoreStats stats_;
    // The outbox hooks, copied by the commit thread at the start of each batch.
    OutboxRouter router_;
    OutboxListener listener_;
    // Trash rows whose blobs are unlinked, deleted with the next transaction (commit thread only).
    std::vector<std::string> unlinked_rows_;
    std::thread thread_;
};

}  // namespace pf::storage
