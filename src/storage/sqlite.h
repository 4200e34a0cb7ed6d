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

}  // namespace pf::storage
