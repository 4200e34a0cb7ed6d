#include "storage/commit_queue.h"

#include "aws/s3_event.h"
#include "storage/logger.h"

#include <algorithm>
#include <chrono>
#include <optional>

namespace pf::storage {
namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The bucket's notification document and region, read inside the write's transaction so the
// rows match the configuration the change committed under.
struct BucketNotification {
    std::optional<std::string> document;
    std::string region;
};

Result<BucketNotification> load_notification(Database& db, const std::string& bucket) {
    BucketNotification out;
    auto q = db.query("SELECT b.region, c.document FROM buckets b LEFT JOIN bucket_configs c "
                      "ON c.bucket = b.name AND c.name = 'notification' WHERE b.name = ?1");
    if (!q) {
        return q.error();
    }
    auto row = q->bind_text(1, bucket).step();
    if (!row) {
        return row.error();
    }
    if (*row) {
        out.region = q->text(0);
        if (!q->is_null(1)) {
            out.document = q->blob(1);
        }
    }
    return out;
}

}  // namespace

Result<void> WriteTxn::release_blob(const std::string& blob) {
    auto q = db_.query("INSERT OR IGNORE INTO trash(blob) VALUES (?1)");
    if (!q) {
        return q.error();
    }
    if (auto r = q->bind_text(1, blob).run(); !r) {
        return r.error();
    }
    op_.released.push_back(blob);
    return {};
}

void WriteTxn::object_changed(ObjectChange change) {
    change.event_time_ms = now_ms_;
    // Taken on the commit thread, in commit order: later changes of a key get larger values.
    change.sequencer = aws::next_sequencer();
    op_.changes.push_back(std::move(change));
}

// The transactional outbox: one row per matching notification rule for each change that has an
// event name, written inside the op's savepoint so that it commits exactly when the object change
// commits and rolls back with it.
Result<void> CommitQueue::write_outbox(WriteOp& op, const OutboxRouter& router, std::int64_t now) {
    op.outbox_rows = 0;
    if (!router) {
        return {};
    }
    for (ObjectChange& change : op.changes) {
        if (change.cause.event_name.empty()) {
            continue;  // an internal write
        }
        auto notification = load_notification(*db_, change.bucket);
        if (!notification) {
            return notification.error();
        }
        if (!notification->document) {
            continue;
        }
        change.region = notification->region;
        auto rows = router(change, *notification->document);
        if (!rows) {
            return rows.error();
        }
        for (const OutboxRow& row : *rows) {
            auto q = db_->query("INSERT INTO outbox(target, payload, trace_id, created_ms) "
                                "VALUES (?1, ?2, ?3, ?4)");
            if (!q) {
                return q.error();
            }
            if (auto r = q->bind_text(1, row.target)
                             .bind_blob(2, row.payload)
                             .bind_text(3, row.trace_id)
                             .bind(4, now)
                             .run();
                !r) {
                return r;
            }
            ++op.outbox_rows;
        }
    }
    return {};
}

void CommitQueue::set_outbox_router(OutboxRouter router) {
    std::lock_guard lock(mutex_);
    router_ = std::move(router);
}

void CommitQueue::set_outbox_listener(OutboxListener listener) {
    std::lock_guard lock(mutex_);
    listener_ = std::move(listener);
}

CommitQueue::CommitQueue(std::unique_ptr<Database> db, BlobFiles& files,
                         std::shared_ptr<BlobReclaimer> reclaimer, WriteLatch& latch,
                         const DiskStoreOptions& options)
    : db_(std::move(db)), files_(files), reclaimer_(std::move(reclaimer)), latch_(latch),
      options_(options) {
    thread_ = std::thread([this] { run(); });
}

CommitQueue::~CommitQueue() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    work_ready_.notify_all();
    thread_.join();
    // Trash rows of blobs unlinked since the last batch; whatever is left is redone at the next
    // open (unlinking a missing blob is harmless).
    auto rows = reclaimer_->take_unlinked();
    unlinked_rows_.insert(unlinked_rows_.end(), rows.begin(), rows.end());
    if (!unlinked_rows_.empty() && latch_.check() && db_->exec("BEGIN IMMEDIATE")) {
        if (delete_unlinked_trash_rows() && db_->exec("COMMIT")) {
            return;
        }
        if (db_->in_transaction()) {
            (void)db_->exec("ROLLBACK");
        }
    }
}

Result<void> CommitQueue::submit(WriteOp& op) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            return make_error(ErrorCode::Unavailable, "store is closing");
        }
        queue_.push_back(&op);
    }
    work_ready_.notify_one();
    std::unique_lock lock(mutex_);
    work_done_.wait(lock, [&] { return op.done; });
    return op.result;
}

DiskStoreStats CommitQueue::stats() const {
    std::lock_guard lock(mutex_);
    DiskStoreStats stats = stats_;
    stats.queued = queue_.size();
    stats.pending_unlinks = reclaimer_->pending();
    return stats;
}

void CommitQueue::run() {
    const std::size_t limit =
        options_.group_commit ? std::max<std::size_t>(options_.max_batch, 1) : 1;
    std::unique_lock lock(mutex_);
    for (;;) {
        work_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) {
            return;  // stopping, and everything submitted has been applied
        }
        std::vector<WriteOp*> batch;
        while (!queue_.empty() && batch.size() < limit) {
            batch.push_back(queue_.front());
            queue_.pop_front();
        }
        lock.unlock();
        if (options_.batch_observer) {
            options_.batch_observer(batch.size());
        }
        apply_batch(batch);
        lock.lock();
        stats_.writes += batch.size();
        stats_.largest_batch = std::max<std::uint64_t>(stats_.largest_batch, batch.size());
        for (WriteOp* op : batch) {
            op->done = true;
        }
        work_done_.notify_all();
    }
}

Error CommitQueue::index_failure(const Error& error) {
    if (db_->last_error_was_io()) {
        // SQLite's own fsync (or a write) failed: whether the WAL holds the transaction is unknown,
        // and retrying could report durability that does not exist.
        latch_.latch("index write failed: " + error.message);
        return latch_.check().error();
    }
    return error;
}

Result<void> CommitQueue::delete_unlinked_trash_rows() {
    for (const auto& blob : unlinked_rows_) {
        auto q = db_->query("DELETE FROM trash WHERE blob = ?1");
        if (!q) {
            return q.error();
        }
        if (auto r = q->bind_text(1, blob).run(); !r) {
            return r.error();
        }
    }
    return {};
}

void CommitQueue::fail_all(const std::vector<WriteOp*>& batch, const Error& error,
                           bool remove_new_blobs) {
    for (WriteOp* op : batch) {
        if (op->result) {
            op->result = error;
            op->released.clear();
            op->changes.clear();
            op->outbox_rows = 0;
        }
        if (remove_new_blobs) {
            for (const auto& blob : op->new_blobs) {
                files_.remove_blob(blob);
            }
        }
    }
}

void CommitQueue::apply_batch(const std::vector<WriteOp*>& batch) {
    if (auto writable = latch_.check(); !writable) {
        fail_all(batch, writable.error(), true);
        return;
    }
    // Aborts the whole transaction: nothing of it reached the index, so every new blob can go.
    auto abort_batch = [&](const Error& error) {
        Error reported = index_failure(error);
        if (db_->in_transaction()) {
            (void)db_->exec("ROLLBACK");
        }
        fail_all(batch, reported, true);
    };

    OutboxRouter router;
    OutboxListener listener;
    {
        std::lock_guard lock(mutex_);
        router = router_;
        listener = listener_;
    }

    db_->clear_error();
    if (auto r = db_->exec("BEGIN IMMEDIATE"); !r) {
        abort_batch(r.error());
        return;
    }
    auto rows = reclaimer_->take_unlinked();
    unlinked_rows_.insert(unlinked_rows_.end(), rows.begin(), rows.end());
    if (auto r = delete_unlinked_trash_rows(); !r) {
        abort_batch(r.error());
        return;
    }

    const std::int64_t now = now_ms();
    std::vector<WriteOp*> failed;  // individually, rolled back to their savepoint
    for (WriteOp* op : batch) {
        op->released.clear();
        op->changes.clear();
        op->outbox_rows = 0;
        if (auto r = db_->exec("SAVEPOINT op"); !r) {
            abort_batch(r.error());
            return;
        }
        db_->clear_error();
        WriteTxn txn(*db_, now, *op);
        Result<void> applied = op->apply(txn);
        if (applied) {
            applied = write_outbox(*op, router, now);
        }
        if (applied) {
            if (auto r = db_->exec("RELEASE op"); !r) {
                abort_batch(r.error());
                return;
            }
            continue;
        }
        // The op failed. A logical failure (precondition, missing bucket) or a statement error
        // SQLite contained to the statement is rolled back to the savepoint and the others go on;
        // an I/O error, or an error that made SQLite abandon the whole transaction, fails them all.
        if (db_->last_error_code() != 0 && (db_->last_error_was_io() || !db_->in_transaction())) {
            op->result = applied.error();
            abort_batch(applied.error());
            return;
        }
        if (auto r = db_->exec("ROLLBACK TO op"); !r) {
            abort_batch(r.error());
            return;
        }
        if (auto r = db_->exec("RELEASE op"); !r) {
            abort_batch(r.error());
            return;
        }
        op->result = applied.error();
        op->released.clear();
        op->changes.clear();
        op->outbox_rows = 0;
        failed.push_back(op);
    }

    db_->clear_error();
    if (auto r = db_->exec("COMMIT"); !r) {
        // After an I/O error the WAL may or may not hold the commit: keep the blobs (recovery
        // removes them if the commit did not survive). Otherwise SQLite rolled it back.
        bool uncertain = db_->last_error_was_io();
        Error reported = index_failure(r.error());
        if (db_->in_transaction()) {
            (void)db_->exec("ROLLBACK");
        }
        for (WriteOp* op : failed) {
            for (const auto& blob : op->new_blobs) {
                files_.remove_blob(blob);
            }
        }
        fail_all(batch, reported, !uncertain);
        return;
    }
    {
        std::lock_guard lock(mutex_);
        ++stats_.commits;
    }
    unlinked_rows_.clear();
    std::vector<std::string> released;
    for (WriteOp* op : batch) {
        if (op->result) {
            released.insert(released.end(), op->released.begin(), op->released.end());
        }
    }
    for (WriteOp* op : failed) {
        for (const auto& blob : op->new_blobs) {
            files_.remove_blob(blob);
        }
    }
    if (!released.empty()) {
        reclaimer_->committed(std::move(released));
    }
    bool outbox_grew = false;
    for (WriteOp* op : batch) {
        outbox_grew = outbox_grew || (op->result && op->outbox_rows > 0);
    }
    if (outbox_grew && listener) {
        listener();
    }
}

}  // namespace pf::storage
