#include "lambda/invocation_store.h"

#include "storage/sqlite.h"

#include <utility>

namespace pf::lambda {
namespace {

using storage::Database;
using storage::each_row;
using storage::Query;
using storage::run_bound;

// Schema version 1. Payloads and error texts are BLOBs: whatever bytes a function reports survive.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS invocations(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    function TEXT NOT NULL,
    payload BLOB NOT NULL,
    trace_id TEXT NOT NULL,
    enqueued_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    last_error_type BLOB NOT NULL,
    last_error_message BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS invocations_by_due ON invocations(function, next_attempt_ms, seq);
CREATE TABLE IF NOT EXISTS dead_letters(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    function TEXT NOT NULL,
    payload BLOB NOT NULL,
    trace_id TEXT NOT NULL,
    enqueued_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    last_error_type BLOB NOT NULL,
    last_error_message BLOB NOT NULL,
    condition TEXT NOT NULL,
    dead_at_ms INTEGER NOT NULL,
    record BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS dead_letters_by_time ON dead_letters(dead_at_ms, seq);
CREATE INDEX IF NOT EXISTS dead_letters_by_function ON dead_letters(function, dead_at_ms, seq);
)sql";

#define PF_INVOCATION_COLUMNS                                                                      \
    "request_id, function, payload, trace_id, enqueued_ms, attempts, next_attempt_ms, "            \
    "last_error_type, last_error_message"

QueuedInvocation read_invocation(const Query& q) {
    QueuedInvocation inv;
    inv.request_id = q.text(0);
    inv.function = q.text(1);
    inv.payload = q.blob(2);
    inv.trace_id = q.text(3);
    inv.enqueued_ms = q.int64(4);
    inv.attempts = static_cast<int>(q.int64(5));
    inv.next_attempt_ms = q.int64(6);
    inv.last_error_type = q.blob(7);
    inv.last_error_message = q.blob(8);
    return inv;
}

StoredDeadLetter read_dead_letter(const Query& q) {
    StoredDeadLetter letter;
    letter.invocation = read_invocation(q);
    letter.condition = q.text(9);
    letter.dead_at_ms = q.int64(10);
    letter.record = q.blob(11);
    return letter;
}

}  // namespace

template <typename T, typename F>
Result<T> InvocationStore::write(F&& body) {
    std::lock_guard lock(mutex_);
    return storage::in_write_transaction<T>(*db_, std::forward<F>(body));
}

template <typename T, typename F>
Result<T> InvocationStore::read(F&& body) {
    std::lock_guard lock(mutex_);
    return storage::in_read_transaction<T>(*db_, std::forward<F>(body));
}

InvocationStore::InvocationStore(std::unique_ptr<storage::Database> db) : db_(std::move(db)) {}

InvocationStore::~InvocationStore() = default;

Result<std::unique_ptr<InvocationStore>> InvocationStore::open(const std::filesystem::path& file) {
    // synchronous=FULL (open_durable): an acknowledged invoke_async survives a power cut.
    auto opened = storage::open_durable(file, "invocation store");
    if (!opened) {
        return opened.error();
    }
    if (auto r = storage::apply_schema(**opened, file, "invocation store", kSchema, kSchemaVersion);
        !r) {
        return r.error();
    }
    return std::unique_ptr<InvocationStore>(new InvocationStore(std::move(*opened)));
}

Result<void> InvocationStore::enqueue(const QueuedInvocation& inv) {
    return write<void>([&](Database& db) -> Result<void> {
        bool exists = false;
        auto r = each_row(
            db, "SELECT 1 FROM invocations WHERE request_id = ?1",
            [&](Query& q) { q.bind_text(1, inv.request_id); },
            [&](const Query&) { exists = true; });
        if (!r) {
            return r.error();
        }
        if (exists) {
            return make_error(ErrorCode::AlreadyExists,
                              "invocation " + inv.request_id + " is queued already");
        }
        return run_bound(db,
                         "INSERT INTO invocations(" PF_INVOCATION_COLUMNS
                         ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                         [&](Query& q) {
                             q.bind_text(1, inv.request_id)
                                 .bind_text(2, inv.function)
                                 .bind_blob(3, inv.payload)
                                 .bind_text(4, inv.trace_id)
                                 .bind(5, inv.enqueued_ms)
                                 .bind(6, inv.attempts)
                                 .bind(7, inv.next_attempt_ms)
                                 .bind_blob(8, inv.last_error_type)
                                 .bind_blob(9, inv.last_error_message);
                         });
    });
}

Result<std::vector<QueueHead>> InvocationStore::heads(const std::string& function,
                                                      std::size_t limit) {
    return read<std::vector<QueueHead>>([&](Database& db) -> Result<std::vector<QueueHead>> {
        std::vector<QueueHead> out;
        auto r = each_row(
            db,
            "SELECT request_id, next_attempt_ms FROM invocations WHERE function = ?1 "
            "ORDER BY next_attempt_ms, seq LIMIT ?2",
            [&](Query& q) { q.bind_text(1, function).bind(2, static_cast<std::int64_t>(limit)); },
            [&](const Query& q) {
                out.push_back(QueueHead{q.text(0), q.int64(1)});
            });
        if (!r) {
            return r.error();
        }
        return out;
    });
}

Result<std::optional<QueuedInvocation>> InvocationStore::get(const std::string& request_id) {
    return read<std::optional<QueuedInvocation>>(
        [&](Database& db) -> Result<std::optional<QueuedInvocation>> {
            std::optional<QueuedInvocation> out;
            auto r = each_row(
                db, "SELECT " PF_INVOCATION_COLUMNS " FROM invocations WHERE request_id = ?1",
                [&](Query& q) { q.bind_text(1, request_id); },
                [&](const Query& q) { out = read_invocation(q); });
            if (!r) {
                return r.error();
            }
            return out;
        });
}

Result<bool> InvocationStore::complete(const std::string& request_id) {
    return write<bool>([&](Database& db) -> Result<bool> {
        auto r = run_bound(db, "DELETE FROM invocations WHERE request_id = ?1",
                           [&](Query& q) { q.bind_text(1, request_id); });
        if (!r) {
            return r.error();
        }
        return db.changes() > 0;
    });
}

Result<void> InvocationStore::reschedule(const std::string& request_id, int attempts,
                                         std::int64_t next_attempt_ms,
                                         const std::string& error_type,
                                         const std::string& error_message) {
    return write<void>([&](Database& db) -> Result<void> {
        auto r = run_bound(db,
                           "UPDATE invocations SET attempts = ?2, next_attempt_ms = ?3, "
                           "last_error_type = ?4, last_error_message = ?5 WHERE request_id = ?1",
                           [&](Query& q) {
                               q.bind_text(1, request_id)
                                   .bind(2, attempts)
                                   .bind(3, next_attempt_ms)
                                   .bind_blob(4, error_type)
                                   .bind_blob(5, error_message);
                           });
        if (!r) {
            return r.error();
        }
        if (db.changes() == 0) {
            return make_error(ErrorCode::NotFound, "invocation " + request_id + " is not queued");
        }
        return {};
    });
}

Result<void> InvocationStore::dead_letter(const StoredDeadLetter& letter) {
    const QueuedInvocation& inv = letter.invocation;
    return write<void>([&](Database& db) -> Result<void> {
        auto r = run_bound(db, "DELETE FROM invocations WHERE request_id = ?1",
                           [&](Query& q) { q.bind_text(1, inv.request_id); });
        if (!r) {
            return r.error();
        }
        return run_bound(db,
                         "INSERT OR REPLACE INTO dead_letters(" PF_INVOCATION_COLUMNS
                         ", condition, dead_at_ms, record) "
                         "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                         [&](Query& q) {
                             q.bind_text(1, inv.request_id)
                                 .bind_text(2, inv.function)
                                 .bind_blob(3, inv.payload)
                                 .bind_text(4, inv.trace_id)
                                 .bind(5, inv.enqueued_ms)
                                 .bind(6, inv.attempts)
                                 .bind(7, inv.next_attempt_ms)
                                 .bind_blob(8, inv.last_error_type)
                                 .bind_blob(9, inv.last_error_message)
                                 .bind_text(10, letter.condition)
                                 .bind(11, letter.dead_at_ms)
                                 .bind_blob(12, letter.record);
                         });
    });
}

Result<std::vector<StoredDeadLetter>>
InvocationStore::dead_letters(const std::optional<std::string>& function, std::size_t limit) {
    return read<std::vector<StoredDeadLetter>>(
        [&](Database& db) -> Result<std::vector<StoredDeadLetter>> {
            std::vector<StoredDeadLetter> out;
            const auto n = static_cast<std::int64_t>(limit);
            auto add = [&](const Query& q) { out.push_back(read_dead_letter(q)); };
            Result<void> r =
                function ? each_row(
                               db,
                               "SELECT " PF_INVOCATION_COLUMNS
                               ", condition, dead_at_ms, record FROM dead_letters "
                               "WHERE function = ?1 ORDER BY dead_at_ms DESC, seq DESC LIMIT ?2",
                               [&](Query& q) { q.bind_text(1, *function).bind(2, n); }, add)
                         : each_row(
                               db,
                               "SELECT " PF_INVOCATION_COLUMNS
                               ", condition, dead_at_ms, record FROM dead_letters "
                               "ORDER BY dead_at_ms DESC, seq DESC LIMIT ?1",
                               [&](Query& q) { q.bind(1, n); }, add);
            if (!r) {
                return r.error();
            }
            return out;
        });
}

Result<std::vector<std::string>>
InvocationStore::replay(const std::vector<std::string>& request_ids,
                        const std::optional<std::string>& function, std::int64_t now_ms) {
    return write<std::vector<std::string>>([&](Database& db) -> Result<std::vector<std::string>> {
        std::vector<std::string> ids = request_ids;
        if (ids.empty()) {
            auto collect = [&](const Query& q) { ids.push_back(q.text(0)); };
            Result<void> r =
                function ? each_row(
                               db, "SELECT request_id FROM dead_letters WHERE function = ?1",
                               [&](Query& q) { q.bind_text(1, *function); }, collect)
                         : each_row(
                               db, "SELECT request_id FROM dead_letters", [](Query&) {}, collect);
            if (!r) {
                return r.error();
            }
        }
        std::vector<std::string> replayed;
        for (const auto& id : ids) {
            std::optional<std::string> owner;
            auto r = each_row(
                db, "SELECT function FROM dead_letters WHERE request_id = ?1",
                [&](Query& q) { q.bind_text(1, id); }, [&](const Query& q) { owner = q.text(0); });
            if (!r) {
                return r.error();
            }
            if (!owner || (function && *owner != *function)) {
                continue;  // not a dead letter (already replayed, or never was), or not asked for
            }
            // Fresh attempts and a fresh age: an EventAgeExceeded letter would otherwise die again
            // at once. The last error stays for the record.
            r = run_bound(db,
                          "INSERT OR REPLACE INTO invocations(" PF_INVOCATION_COLUMNS
                          ") SELECT request_id, function, payload, trace_id, ?2, 0, ?2, "
                          "last_error_type, last_error_message FROM dead_letters "
                          "WHERE request_id = ?1",
                          [&](Query& q) { q.bind_text(1, id).bind(2, now_ms); });
            if (!r) {
                return r.error();
            }
            r = run_bound(db, "DELETE FROM dead_letters WHERE request_id = ?1",
                          [&](Query& q) { q.bind_text(1, id); });
            if (!r) {
                return r.error();
            }
            replayed.push_back(*owner);
        }
        return replayed;
    });
}

Result<std::map<std::string, std::size_t>> InvocationStore::queued_counts() {
    return read<std::map<std::string, std::size_t>>(
        [&](Database& db) -> Result<std::map<std::string, std::size_t>> {
            std::map<std::string, std::size_t> out;
            auto r = each_row(
                db, "SELECT function, COUNT(*) FROM invocations GROUP BY function", [](Query&) {},
                [&](const Query& q) { out[q.text(0)] = static_cast<std::size_t>(q.int64(1)); });
            if (!r) {
                return r.error();
            }
            return out;
        });
}

}  // namespace pf::lambda
