#include "storage/sqlite.h"

#include <sqlite3.h>

#include <cstdint>
#include <system_error>

namespace pf::storage {
namespace {

// SQLITE_TRANSIENT spelled without the header's C-style cast: SQLite copies the bound bytes.
sqlite3_destructor_type transient() {
    return reinterpret_cast<sqlite3_destructor_type>(static_cast<std::intptr_t>(-1));
}

// A zero-length BLOB must be bound with a non-null pointer, or SQLite binds NULL instead.
const char* non_null(std::string_view bytes) {
    return bytes.data() ? bytes.data() : "";
}

}  // namespace

Query::Query(Query&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
    other.stmt_ = nullptr;
}

Query::~Query() {
    if (stmt_ != nullptr) {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
}

Query& Query::bind(int index, std::int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
    return *this;
}

Query& Query::bind_text(int index, std::string_view value) {
    sqlite3_bind_text64(stmt_, index, non_null(value), value.size(), transient(), SQLITE_UTF8);
    return *this;
}

Query& Query::bind_blob(int index, std::string_view value) {
    sqlite3_bind_blob64(stmt_, index, non_null(value), value.size(), transient());
    return *this;
}

Query& Query::bind_null(int index) {
    sqlite3_bind_null(stmt_, index);
    return *this;
}

Result<bool> Query::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    return db_->error(rc, sqlite3_sql(stmt_));
}

Result<void> Query::run() {
    for (;;) {
        auto row = step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            return {};
        }
    }
}

void Query::rewind() {
    sqlite3_reset(stmt_);
}

std::int64_t Query::int64(int column) const {
    return sqlite3_column_int64(stmt_, column);
}

std::string Query::text(int column) const {
    const unsigned char* p = sqlite3_column_text(stmt_, column);
    int n = sqlite3_column_bytes(stmt_, column);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
             : std::string();
}

std::string Query::blob(int column) const {
    const void* p = sqlite3_column_blob(stmt_, column);
    int n = sqlite3_column_bytes(stmt_, column);
    return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n))
             : std::string();
}

bool Query::is_null(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

Result<std::unique_ptr<Database>> Database::open(const std::filesystem::path& path,
                                                 bool read_only) {
    sqlite3* handle = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path.c_str(), &handle, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string message = "cannot open " + path.string() + ": " +
                              (handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc));
        sqlite3_close_v2(handle);
        return make_error(rc == SQLITE_FULL ? ErrorCode::Unavailable : ErrorCode::Internal,
                          message);
    }
    std::unique_ptr<Database> db(new Database(handle));
    sqlite3_extended_result_codes(handle, 1);
    // Readers never wait on the writer in WAL mode; the timeout covers WAL recovery and
    // checkpoints that briefly need exclusive access.
    sqlite3_busy_timeout(handle, 10000);
    if (read_only) {
        if (auto r = db->exec("PRAGMA query_only=1"); !r) {
            return r.error();
        }
    }
    return db;
}

Database::~Database() {
    for (auto& [sql, stmt] : statements_) {
        sqlite3_finalize(stmt);
    }
    sqlite3_close_v2(db_);
}

Result<void> Database::exec(const char* sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        sqlite3_free(message);
        return error(rc, sql);
    }
    return {};
}

Result<Query> Database::query(const char* sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
        sqlite3_stmt* stmt = nullptr;
        int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
        if (rc != SQLITE_OK) {
            return error(rc, sql);
        }
        it = statements_.emplace(sql, stmt).first;
    }
    return Query(this, it->second);
}

bool Database::last_error_was_io() const {
    int primary = last_error_code_ & 0xff;
    return primary == SQLITE_IOERR || primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB ||
           primary == SQLITE_CANTOPEN;
}

bool Database::in_transaction() const {
    return sqlite3_get_autocommit(db_) == 0;
}

std::int64_t Database::changes() const {
    return sqlite3_changes64(db_);
}

Error Database::error(int rc, std::string_view what) {
    last_error_code_ = rc;
    std::string message = std::string(sqlite3_errstr(rc)) + " (" + sqlite3_errmsg(db_) + ", code " +
                          std::to_string(rc) + ") in: " + std::string(what);
    int primary = rc & 0xff;
    if (primary == SQLITE_FULL) {
        return make_error(ErrorCode::Unavailable, "disk full: " + message, "disk full");
    }
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
        return make_error(ErrorCode::Unavailable, "index busy: " + message);
    }
    return make_error(ErrorCode::Internal, "index error: " + message);
}

Result<int> user_version(Database& db) {
    int version = 0;
    auto r = each_row(
        db, "PRAGMA user_version", [](Query&) {},
        [&](const Query& q) { version = static_cast<int>(q.int64(0)); });
    if (!r) {
        return r.error();
    }
    return version;
}

Result<std::unique_ptr<Database>> open_durable(const std::filesystem::path& file,
                                               std::string_view what) {
    std::error_code ec;
    if (file.has_parent_path()) {
        std::filesystem::create_directories(file.parent_path(), ec);
        if (ec) {
            return make_error(ErrorCode::Internal,
                              "cannot create " + file.parent_path().string() + ": " + ec.message());
        }
    }
    auto opened = Database::open(file, /*read_only=*/false);
    if (!opened) {
        return opened.error();
    }
    Database& db = **opened;
    std::string mode;
    auto r = each_row(
        db, "PRAGMA journal_mode=WAL", [](Query&) {}, [&](const Query& q) { mode = q.text(0); });
    if (!r) {
        return r.error();
    }
    if (mode != "wal") {
        return make_error(ErrorCode::Internal, "the " + std::string(what) + " " + file.string() +
                                                   " cannot use WAL mode");
    }
    // FULL: an acknowledged write survives a power cut, not only a process crash.
    if (auto s = db.exec("PRAGMA synchronous=FULL"); !s) {
        return s.error();
    }
    return opened;
}

Result<void> apply_schema(Database& db, const std::filesystem::path& file, std::string_view what,
                          const char* schema, int schema_version) {
    auto version = user_version(db);
    if (!version) {
        return version.error();
    }
    if (*version > schema_version) {
        return make_error(ErrorCode::Internal, "the " + std::string(what) + " " + file.string() +
                                                   " was written by a newer version (schema " +
                                                   std::to_string(*version) + ")");
    }
    if (*version < schema_version) {
        std::string migrate = std::string("BEGIN IMMEDIATE;") + schema +
                              "PRAGMA user_version=" + std::to_string(schema_version) + ";COMMIT;";
        if (auto m = db.exec(migrate.c_str()); !m) {
            if (db.in_transaction()) {
                (void)db.exec("ROLLBACK");
            }
            return m.error();
        }
    }
    return {};
}

}  // namespace pf::storage
