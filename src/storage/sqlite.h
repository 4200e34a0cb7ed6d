// A thin RAII layer over the SQLite C API for the index: connections with a cache of prepared
// statements, and a Query lease that resets its statement when it goes out of scope. Internal to
// storage/; nothing outside this folder includes <sqlite3.h>.
//
// A Database is used by one thread at a time (connections are opened NOMUTEX); DiskStore gives the
// writer connection to its commit thread and hands read connections out of a pool.
#pragma once

#include "base/result.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

struct sqlite3;
struct sqlite3_stmt;

namespace pf::storage {

class Database;

// One use of a cached prepared statement. Binding indexes are 1-based, columns 0-based (SQLite's
// own conventions). Keys and other byte strings are bound as BLOBs so that comparisons are memcmp.
class Query {
public:
    Query(Query&& other) noexcept;
    Query& operator=(Query&&) = delete;
    Query(const Query&) = delete;
    ~Query();

    Query& bind(int index, std::int64_t value);
    Query& bind_text(int index, std::string_view value);
    Query& bind_blob(int index, std::string_view value);
    Query& bind_null(int index);

    // true: a row is available; false: done.
    Result<bool> step();
    // Runs a statement that returns no rows (or ignores them).
    Result<void> run();
    // Resets so the statement can be stepped again with new bindings.
    void rewind();

    std::int64_t int64(int column) const;
    std::string text(int column) const;
    std::string blob(int column) const;
    bool is_null(int column) const;

private:
    friend class Database;
    Query(Database* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
    Database* db_;
    sqlite3_stmt* stmt_;
};

class Database {
public:
    // read_only opens with query_only: the connection never writes (it still needs the -shm file).
    static Result<std::unique_ptr<Database>> open(const std::filesystem::path& path,
                                                  bool read_only);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    Result<void> exec(const char* sql);
    // A cached statement; `sql` must be a string literal (the cache is keyed by its text).
    Result<Query> query(const char* sql);

    // The extended result code of the last failure (SQLITE_IOERR_FSYNC, SQLITE_FULL, ...), so
    // callers can tell "the disk is full" from "durability is in doubt".
    int last_error_code() const { return last_error_code_; }
    void clear_error() { last_error_code_ = 0; }
    // Whether the last failure means the state of the files is in doubt (an I/O error).
    bool last_error_was_io() const;
    bool in_transaction() const;
    // Rows changed by the last INSERT, UPDATE or DELETE.
    std::int64_t changes() const;

    // Turns a SQLite result code into an Error (and remembers it for last_error_code()).
    Error error(int rc, std::string_view what);

private:
    explicit Database(sqlite3* db) : db_(db) {}
    sqlite3* db_;
    // Keyed by the literal's address: no allocation per lookup.
    std::unordered_map<const char*, sqlite3_stmt*> statements_;
    int last_error_code_ = 0;
};

// --- Helpers for the single-connection stores (lambda/invocation_store, notify/notify_store) ---
// They own the locking: each keeps its Database under its own mutex and calls these inside it.

// Prepares (or reuses) `sql`, lets `bind(Query&)` set its parameters and runs it to the end,
// ignoring any rows.
template <typename Bind>
Result<void> run_bound(Database& db, const char* sql, Bind&& bind) {
    auto q = db.query(sql);
    if (!q) {
        return q.error();
    }
    bind(*q);
    return q->run();
}

// Like run_bound, and calls `row(const Query&)` for each row; stops at the first step error.
template <typename Bind, typename Row>
Result<void> each_row(Database& db, const char* sql, Bind&& bind, Row&& row) {
    auto q = db.query(sql);
    if (!q) {
        return q.error();
    }
    bind(*q);
    for (;;) {
        auto has = q->step();
        if (!has) {
            return has.error();
        }
        if (!*has) {
            return {};
        }
        row(*q);
    }
}

// Runs `body(Database&) -> Result<T>` inside BEGIN IMMEDIATE ... COMMIT. When the body or the
// COMMIT fails the transaction is rolled back (if SQLite has not done so already) and that error
// is returned: either all of the body's writes are durable or none are.
template <typename T, typename F>
Result<T> in_write_transaction(Database& db, F&& body) {
    if (auto r = db.exec("BEGIN IMMEDIATE"); !r) {
        return r.error();
    }
    Result<T> result = std::forward<F>(body)(db);
    if (!result) {
        if (db.in_transaction()) {
            (void)db.exec("ROLLBACK");
        }
        return result;
    }
    if (auto c = db.exec("COMMIT"); !c) {
        if (db.in_transaction()) {
            (void)db.exec("ROLLBACK");
        }
        return c.error();
    }
    return result;
}

// Runs `body(Database&) -> Result<T>` inside a deferred transaction, so all its reads see one
// snapshot. The body's result is returned as it is; ending a read transaction cannot lose data,
// so a failed COMMIT is ignored.
template <typename T, typename F>
Result<T> in_read_transaction(Database& db, F&& body) {
    if (auto r = db.exec("BEGIN"); !r) {
        return r.error();
    }
    Result<T> result = std::forward<F>(body)(db);
    if (db.in_transaction()) {
        (void)db.exec("COMMIT");
    }
    return result;
}

// PRAGMA user_version: the schema version a store recorded in its file (0 for a new file).
Result<int> user_version(Database& db);

// Opens a store's own SQLite file for writing: creates its directory, opens it, switches to WAL
// and sets synchronous=FULL (a write is durable when its COMMIT returns, across a power cut).
// `what` names the store in errors ("invocation store" -> "the invocation store <file> ...").
Result<std::unique_ptr<Database>> open_durable(const std::filesystem::path& file,
                                               std::string_view what);

// Brings a store opened by open_durable to `schema_version`: refuses a file written by a newer
// version; below it, runs `schema` (every statement IF NOT EXISTS) and records the version in one
// transaction. Only right while each version's schema text is its whole migration (version 0 -> 1
// creates everything); a store with a real migration step must run it itself.
Result<void> apply_schema(Database& db, const std::filesystem::path& file, std::string_view what,
                          const char* schema, int schema_version);

}  // namespace pf::storage
