#include "storage/disk_store.h"
#include "base/ascii.h"

#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "crypto/random.h"
#include "storage/blob_files.h"
#include "storage/blob_reclaimer.h"
#include "storage/commit_queue.h"
#include "storage/logger.h"
#include "storage/metadata_codec.h"
#include "storage/sqlite.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <system_error>

namespace pf::storage {

// ---------------------------------------------------------------------------------------------
// Schema. Keys are BLOBs (bound as BLOBs everywhere) so that every comparison and every index is
// memcmp order, which is S3's listing order. Blob ids are TEXT.
namespace {

// 1: buckets, configs, objects, segments, uploads, parts, trash. 2: + outbox.
constexpr int kSchemaVersion = 2;
constexpr std::size_t kMaxKeyBytes = 1024;
constexpr int kMaxPartNumber = 10000;
constexpr std::size_t kMaxListedRemovals = 1000;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS buckets(
    name TEXT PRIMARY KEY,
    created INTEGER NOT NULL,
    region TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bucket_configs(
    bucket TEXT NOT NULL,
    name TEXT NOT NULL,
    document BLOB NOT NULL,
    PRIMARY KEY(bucket, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects(
    id INTEGER PRIMARY KEY,
    bucket TEXT NOT NULL,
    object_key BLOB NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified INTEGER NOT NULL,
    part_count INTEGER NOT NULL,
    checksum_algorithm TEXT NOT NULL,
    metadata BLOB NOT NULL,
    UNIQUE(bucket, object_key)
);
CREATE TABLE IF NOT EXISTS segments(
    object_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY(object_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS segments_by_blob ON segments(blob);
CREATE TABLE IF NOT EXISTS uploads(
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    object_key BLOB NOT NULL,
    initiated INTEGER NOT NULL,
    metadata BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads(bucket, object_key, upload_id);
CREATE TABLE IF NOT EXISTS parts(
    upload_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified INTEGER NOT NULL,
    checksum_value TEXT NOT NULL,
    blob TEXT NOT NULL,
    PRIMARY KEY(upload_id, number)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS parts_by_blob ON parts(blob);
CREATE TABLE IF NOT EXISTS trash(
    blob TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    payload BLOB NOT NULL,
    trace_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
)sql";

// The entries of a directory, without exceptions.
Result<std::vector<std::filesystem::directory_entry>> list_dir(const std::filesystem::path& dir) {
    std::error_code ec;
    std::vector<std::filesystem::directory_entry> entries;
    std::filesystem::directory_iterator it(dir, ec);
    while (!ec && it != std::filesystem::directory_iterator()) {
        entries.push_back(*it);
        it.increment(ec);
    }
    if (ec) {
        return make_error(ErrorCode::Internal, "cannot list " + dir.string() + ": " + ec.message());
    }
    return entries;
}

// The first blob file found under blobs/, if any.
Result<std::optional<std::string>> any_blob_file(const BlobLayout& layout) {
    auto shards = list_dir(layout.blobs_dir());
    if (!shards) {
        return shards.error();
    }
    for (const auto& shard : *shards) {
        std::error_code ec;
        if (!shard.is_directory(ec)) {
            continue;
        }
        auto files = list_dir(shard.path());
        if (!files) {
            return files.error();
        }
        for (const auto& file : *files) {
            if (BlobLayout::is_blob_id(file.path().filename().string())) {
                return std::optional<std::string>(file.path().string());
            }
        }
    }
    return std::optional<std::string>();
}

TimePoint from_seconds(std::int64_t seconds) {
    return TimePoint(std::chrono::seconds(seconds));
}

Error no_such_bucket(const std::string& bucket) {
    return make_error(ErrorCode::NotFound, "no such bucket: " + bucket);
}
Error no_such_key(const std::string& bucket) {
    return make_error(ErrorCode::NotFound, "no such key in bucket " + bucket);
}
Error no_such_upload(const std::string& upload_id) {
    return make_error(ErrorCode::NotFound, "no such upload: " + upload_id);
}

Result<void> check_key(const std::string& key) {
    if (key.empty()) {
        return make_error(ErrorCode::InvalidArgument, "empty object key");
    }
    if (key.size() > kMaxKeyBytes) {
        return make_error(ErrorCode::InvalidArgument,
                          "object key of " + std::to_string(key.size()) + " bytes (limit " +
                              std::to_string(kMaxKeyBytes) + ")");
    }
    if (key.find('\0') != std::string::npos) {
        return make_error(ErrorCode::InvalidArgument, "object key contains a NUL byte");
    }
    return {};
}

Result<void> check_bucket_name(const std::string& name) {
    if (name.empty() || name.find('\0') != std::string::npos) {
        return make_error(ErrorCode::InvalidArgument, "invalid bucket name");
    }
    return {};
}

std::string normalize_etag(std::string_view etag) {
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
        etag = etag.substr(1, etag.size() - 2);
    }
    return ascii_lowercase(etag);
}

// The smallest byte string greater than every string that starts with `prefix`; nullopt when
// there is none (the prefix is all 0xff bytes).
std::optional<std::string> prefix_end(std::string prefix) {
    while (!prefix.empty()) {
        auto last = static_cast<unsigned char>(prefix.back());
        if (last != 0xff) {
            prefix.back() = static_cast<char>(last + 1);
            return prefix;
        }
        prefix.pop_back();
    }
    return std::nullopt;
}

// A read transaction: several queries see one snapshot. Read-only, so ending it cannot fail in a
// way that matters.
class ReadSnapshot {
public:
    static Result<ReadSnapshot> begin(Database& db) {
        if (auto r = db.exec("BEGIN"); !r) {
            return r.error();
        }
        return ReadSnapshot(db);
    }
    ReadSnapshot(ReadSnapshot&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
    ReadSnapshot& operator=(ReadSnapshot&&) = delete;
    ~ReadSnapshot() {
        if (db_ != nullptr) {
            (void)db_->exec("COMMIT");
        }
    }

private:
    explicit ReadSnapshot(Database& db) : db_(&db) {}
    Database* db_;
};

// --- Row helpers, usable on a read connection or inside a write transaction. ---

Result<bool> bucket_exists(Database& db, const std::string& bucket) {
    auto q = db.query("SELECT 1 FROM buckets WHERE name = ?1");
    if (!q) {
        return q.error();
    }
    return q->bind_text(1, bucket).step();
}

// NotFound "no such bucket" unless the bucket exists: the check most operations start with.
Result<void> require_bucket(Database& db, const std::string& bucket) {
    auto exists = bucket_exists(db, bucket);
    if (!exists) {
        return exists.error();
    }
    if (!*exists) {
        return no_such_bucket(bucket);
    }
    return {};
}

struct SegmentRow {
    std::string blob;
    std::uint64_t size = 0;
};

struct ObjectRow {
    std::int64_t id = 0;
    ObjectInfo info;
    int part_count = 0;
};

Result<std::vector<SegmentRow>> load_segments(Database& db, std::int64_t object_id) {
    auto q = db.query("SELECT blob, size FROM segments WHERE object_id = ?1 ORDER BY seq");
    if (!q) {
        return q.error();
    }
    q->bind(1, object_id);
    std::vector<SegmentRow> segments;
    for (;;) {
        auto row = q->step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            return segments;
        }
        segments.push_back({q->text(0), static_cast<std::uint64_t>(q->int64(1))});
    }
}

// The object's row with decoded metadata (and part sizes for multipart objects).
Result<std::optional<ObjectRow>> load_object(Database& db, const std::string& bucket,
                                             const std::string& key, bool with_details) {
    auto q = db.query("SELECT id, size, etag, last_modified, part_count, metadata FROM objects "
                      "WHERE bucket = ?1 AND object_key = ?2");
    if (!q) {
        return q.error();
    }
    auto row = q->bind_text(1, bucket).bind_blob(2, key).step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return std::optional<ObjectRow>();
    }
    ObjectRow object;
    object.id = q->int64(0);
    object.info.bucket = bucket;
    object.info.key = key;
    object.info.size = static_cast<std::uint64_t>(q->int64(1));
    object.info.etag = q->text(2);
    object.info.last_modified = from_seconds(q->int64(3));
    object.part_count = static_cast<int>(q->int64(4));
    if (with_details) {
        auto metadata = decode_metadata(q->blob(5));
        if (!metadata) {
            return metadata.error();
        }
        object.info.metadata = std::move(*metadata);
    }
    if (with_details && object.part_count > 0) {
        auto segments = load_segments(db, object.id);
        if (!segments) {
            return segments.error();
        }
        for (const auto& s : *segments) {
            object.info.part_sizes.push_back(s.size);
        }
    }
    return std::optional<ObjectRow>(std::move(object));
}

// Deletes an object's rows and releases its blobs (inside a write).
Result<void> remove_object(WriteTxn& txn, std::int64_t object_id) {
    auto segments = load_segments(txn.db(), object_id);
    if (!segments) {
        return segments.error();
    }
    for (const auto& s : *segments) {
        if (auto r = txn.release_blob(s.blob); !r) {
            return r;
        }
    }
    for (const char* sql :
         {"DELETE FROM segments WHERE object_id = ?1", "DELETE FROM objects WHERE id = ?1"}) {
        auto q = txn.db().query(sql);
        if (!q) {
            return q.error();
        }
        if (auto r = q->bind(1, object_id).run(); !r) {
            return r;
        }
    }
    return {};
}

// If-None-Match / If-Match against the current version, evaluated inside the transaction.
Result<void> check_conditions(const PutConditions& conditions,
                              const std::optional<ObjectRow>& current, const std::string& bucket) {
    if (conditions.if_none_match_any && current) {
        return make_error(ErrorCode::PreconditionFailed, "If-None-Match: the object exists");
    }
    if (conditions.if_match) {
        if (!current) {
            // What S3 answers for If-Match on a missing key: 404 NoSuchKey.
            return no_such_key(bucket);
        }
        std::string wanted = normalize_etag(*conditions.if_match);
        if (wanted != "*" && wanted != normalize_etag(current->info.etag)) {
            return make_error(ErrorCode::PreconditionFailed,
                              "If-Match: the object's ETag is " + current->info.etag);
        }
    }
    return {};
}

Result<std::int64_t> insert_object(WriteTxn& txn, const ObjectInfo& info, int part_count) {
    auto q = txn.db().query(
        "INSERT INTO objects(bucket, object_key, size, etag, last_modified, part_count, "
        "checksum_algorithm, metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id");
    if (!q) {
        return q.error();
    }
    q->bind_text(1, info.bucket)
        .bind_blob(2, info.key)
        .bind(3, static_cast<std::int64_t>(info.size))
        .bind_text(4, info.etag)
        .bind(5, txn.now_seconds())
        .bind(6, part_count)
        .bind_text(7, info.metadata.checksum_algorithm)
        .bind_blob(8, encode_metadata(info.metadata));
    auto row = q->step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return make_error(ErrorCode::Internal, "insert into objects returned no id");
    }
    std::int64_t id = q->int64(0);
    if (auto done = q->step(); !done) {
        return done.error();
    }
    return id;
}

Result<void> insert_segment(WriteTxn& txn, std::int64_t object_id, int seq, const std::string& blob,
                            std::uint64_t size) {
    auto q =
        txn.db().query("INSERT INTO segments(object_id, seq, blob, size) VALUES (?1, ?2, ?3, ?4)");
    if (!q) {
        return q.error();
    }
    return q->bind(1, object_id)
        .bind(2, seq)
        .bind_text(3, blob)
        .bind(4, static_cast<std::int64_t>(size))
        .run();
}

// The upload if it exists and belongs to (bucket, key).
Result<std::optional<UploadInfo>> load_upload(Database& db, const std::string& bucket,
                                              const std::string& key,
                                              const std::string& upload_id) {
    auto q = db.query("SELECT initiated, metadata FROM uploads "
                      "WHERE upload_id = ?1 AND bucket = ?2 AND object_key = ?3");
    if (!q) {
        return q.error();
    }
    auto row = q->bind_text(1, upload_id).bind_text(2, bucket).bind_blob(3, key).step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return std::optional<UploadInfo>();
    }
    UploadInfo info;
    info.key = key;
    info.upload_id = upload_id;
    info.initiated = from_seconds(q->int64(0));
    auto metadata = decode_metadata(q->blob(1));
    if (!metadata) {
        return metadata.error();
    }
    info.metadata = std::move(*metadata);
    return std::optional<UploadInfo>(std::move(info));
}

// NotFound naming the bucket when it is the bucket that is missing, else the upload.
Result<UploadInfo> require_upload(Database& db, const std::string& bucket, const std::string& key,
                                  const std::string& upload_id) {
    auto upload = load_upload(db, bucket, key, upload_id);
    if (!upload) {
        return upload.error();
    }
    if (*upload) {
        return std::move(**upload);
    }
    auto exists = bucket_exists(db, bucket);
    if (!exists) {
        return exists.error();
    }
    return *exists ? no_such_upload(upload_id) : no_such_bucket(bucket);
}

struct PartRow {
    PartInfo info;
    std::string blob;
};

Result<std::map<int, PartRow>> load_parts(Database& db, const std::string& upload_id) {
    auto q = db.query("SELECT number, size, etag, last_modified, checksum_value, blob FROM parts "
                      "WHERE upload_id = ?1 ORDER BY number");
    if (!q) {
        return q.error();
    }
    q->bind_text(1, upload_id);
    std::map<int, PartRow> parts;
    for (;;) {
        auto row = q->step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            return parts;
        }
        PartRow part;
        part.info.number = static_cast<int>(q->int64(0));
        part.info.size = static_cast<std::uint64_t>(q->int64(1));
        part.info.etag = q->text(2);
        part.info.last_modified = from_seconds(q->int64(3));
        part.info.checksum_value = q->text(4);
        part.blob = q->text(5);
        parts.emplace(part.info.number, std::move(part));
    }
}

Result<void> delete_upload_rows(WriteTxn& txn, const std::string& upload_id) {
    for (const char* sql :
         {"DELETE FROM parts WHERE upload_id = ?1", "DELETE FROM uploads WHERE upload_id = ?1"}) {
        auto q = txn.db().query(sql);
        if (!q) {
            return q.error();
        }
        if (auto r = q->bind_text(1, upload_id).run(); !r) {
            return r;
        }
    }
    return {};
}

// Validates a CompleteMultipartUpload part list against the stored parts: every listed part must
// exist with the listed ETag. Returns the multipart ETag and the total size.
struct Assembly {
    std::string etag;
    std::uint64_t size = 0;
    std::vector<SegmentRow> segments;
};

Result<Assembly> assemble(const std::map<int, PartRow>& stored,
                          const std::vector<CompletedPart>& parts) {
    Assembly assembly;
    std::string concatenated;
    concatenated.reserve(parts.size() * 16);
    for (const auto& part : parts) {
        auto it = stored.find(part.number);
        if (it == stored.end()) {
            return make_error(ErrorCode::PreconditionFailed,
                              "part " + std::to_string(part.number) + " was not uploaded");
        }
        if (normalize_etag(part.etag) != normalize_etag(it->second.info.etag)) {
            return make_error(ErrorCode::PreconditionFailed,
                              "part " + std::to_string(part.number) + " has ETag " +
                                  it->second.info.etag + ", not " + part.etag);
        }
        auto md5 = crypto::hex_decode(it->second.info.etag);
        if (!md5 || md5->size() != 16) {
            return make_error(ErrorCode::Internal, "index damaged: part ETag is not an MD5");
        }
        concatenated += *md5;
        assembly.size += it->second.info.size;
        assembly.segments.push_back({it->second.blob, it->second.info.size});
    }
    assembly.etag =
        crypto::hex_encode(crypto::md5(concatenated)) + "-" + std::to_string(parts.size());
    return assembly;
}

Result<void> check_part_list(const std::vector<CompletedPart>& parts) {
    if (parts.empty()) {
        return make_error(ErrorCode::InvalidArgument, "a multipart upload needs at least one part");
    }
    int previous = 0;
    for (const auto& part : parts) {
        if (part.number < 1 || part.number > kMaxPartNumber) {
            return make_error(ErrorCode::InvalidArgument,
                              "part number " + std::to_string(part.number) + " out of range");
        }
        if (part.number <= previous) {
            return make_error(ErrorCode::InvalidArgument, "parts are not in ascending order");
        }
        previous = part.number;
    }
    return {};
}

// ---------------------------------------------------------------------------------------------
// Reader: streams an object's segments with pread. The ticket keeps the blobs from being unlinked
// while the reader is open, even after an overwrite or a delete commits.
class DiskReader final : public ObjectStore::Reader {
public:
    DiskReader(ObjectInfo info, std::vector<SegmentRow> segments, BlobLayout layout,
               BlobReclaimer::Ticket ticket, int first_fd)
        : info_(std::move(info)), segments_(std::move(segments)), layout_(std::move(layout)),
          ticket_(std::move(ticket)), fd_(first_fd), end_(info_.size) {
        std::uint64_t offset = 0;
        for (const auto& s : segments_) {
            starts_.push_back(offset);
            offset += s.size;
        }
    }
    ~DiskReader() override { close_fd(); }
    DiskReader(const DiskReader&) = delete;
    DiskReader& operator=(const DiskReader&) = delete;

    const ObjectInfo& info() const override { return info_; }

    Result<void> set_range(std::uint64_t offset, std::uint64_t length) override {
        if (started_) {
            return make_error(ErrorCode::InvalidArgument, "set_range after the first read");
        }
        if (offset > info_.size) {
            return make_error(ErrorCode::InvalidArgument,
                              "range starts at " + std::to_string(offset) + ", past the end (" +
                                  std::to_string(info_.size) + " bytes)");
        }
        position_ = offset;
        end_ = offset + std::min(length, info_.size - offset);
        return {};
    }

    Result<std::size_t> read(std::span<char> out) override {
        started_ = true;
        if (position_ >= end_ || out.empty()) {
            return std::size_t{0};
        }
        // The segment holding position_ (empty segments are skipped).
        while (segment_ < segments_.size() &&
               position_ >= starts_[segment_] + segments_[segment_].size) {
            close_fd();
            ++segment_;
        }
        if (segment_ >= segments_.size()) {
            return make_error(ErrorCode::Internal, "object segments shorter than its size");
        }
        const auto& segment = segments_[segment_];
        if (fd_ < 0) {
            auto path = layout_.blob_path(segment.blob);
            fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd_ < 0) {
                int err = errno;
                return make_error(ErrorCode::Internal,
                                  "cannot open blob " + path.string() + ": " + std::strerror(err));
            }
        }
        std::uint64_t within = position_ - starts_[segment_];
        read_ahead(within, segment.size);
        std::uint64_t wanted =
            std::min<std::uint64_t>({out.size(), segment.size - within, end_ - position_});
        for (;;) {
            ssize_t n = ::pread(fd_, out.data(), static_cast<std::size_t>(wanted),
                                static_cast<off_t>(within));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                int err = errno;
                return make_error(ErrorCode::Internal,
                                  "cannot read blob " + segment.blob + ": " + std::strerror(err));
            }
            if (n == 0) {
                return make_error(ErrorCode::Internal,
                                  "blob " + segment.blob + " is shorter than the index says");
            }
            position_ += static_cast<std::uint64_t>(n);
            return static_cast<std::size_t>(n);
        }
    }

private:
    // Keeps the disk reading kReadAhead bytes ahead of a large sequential read, in steps, so the
    // next bytes are on their way while these are sent. The kernel's own readahead (128 KiB on a
    // default block device) leaves the disk idle between its small requests. Advice only:
    // failures change nothing.
    void read_ahead(std::uint64_t within, std::uint64_t segment_size) {
        if (segment_size < kReadAheadMinimum) {
            return;
        }
        std::uint64_t want = std::min(segment_size, within + kReadAhead);
        advised_ = std::max(advised_, within);  // a range read starts mid-blob
        while (advised_ < want) {
            std::uint64_t step = std::min(kReadAheadStep, segment_size - advised_);
            (void)::posix_fadvise(fd_, static_cast<off_t>(advised_), static_cast<off_t>(step),
                                  POSIX_FADV_WILLNEED);
            advised_ += step;
        }
    }

    void close_fd() {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
        advised_ = 0;
    }

    static constexpr std::uint64_t kReadAheadMinimum = 4u << 20;
    static constexpr std::uint64_t kReadAhead = 16u << 20;
    static constexpr std::uint64_t kReadAheadStep = 4u << 20;

    ObjectInfo info_;
    std::vector<SegmentRow> segments_;
    std::vector<std::uint64_t> starts_;
    BlobLayout layout_;
    BlobReclaimer::Ticket ticket_;
    int fd_ = -1;
    std::size_t segment_ = 0;
    std::uint64_t position_ = 0;
    std::uint64_t end_ = 0;
    std::uint64_t advised_ = 0;  // the current segment's bytes before this were read ahead
    bool started_ = false;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Read connections: opened on demand, up to max_idle kept for reuse. WAL readers see the last
// committed state and never wait for the writer.
class ReadPool {
public:
    ReadPool(std::filesystem::path path, std::size_t max_idle)
        : path_(std::move(path)), max_idle_(max_idle) {}

    class Lease {
    public:
        Lease(ReadPool* pool, std::unique_ptr<Database> db) : pool_(pool), db_(std::move(db)) {}
        Lease(Lease&&) noexcept = default;
        Lease& operator=(Lease&&) = delete;
        ~Lease() {
            if (db_) {
                pool_->give_back(std::move(db_));
            }
        }
        Database& operator*() { return *db_; }
        Database* operator->() { return db_.get(); }

    private:
        ReadPool* pool_;
        std::unique_ptr<Database> db_;
    };

    Result<Lease> acquire() {
        {
            std::lock_guard lock(mutex_);
            if (!idle_.empty()) {
                auto db = std::move(idle_.back());
                idle_.pop_back();
                return Lease(this, std::move(db));
            }
        }
        auto db = Database::open(path_, /*read_only=*/true);
        if (!db) {
            return db.error();
        }
        return Lease(this, std::move(*db));
    }

private:
    void give_back(std::unique_ptr<Database> db) {
        std::lock_guard lock(mutex_);
        if (idle_.size() < max_idle_) {
            idle_.push_back(std::move(db));
        }
    }

    std::filesystem::path path_;
    std::size_t max_idle_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Database>> idle_;
};

struct DiskStore::StagedBody {
    StagedBlob blob;
};

// ---------------------------------------------------------------------------------------------
// Opening and recovery.

DiskStore::DiskStore(DiskStoreOptions options) : options_(std::move(options)) {}

DiskStore::~DiskStore() {
    commits_.reset();  // applies what is queued, closes the writer connection
    readers_.reset();
    if (lock_fd_ >= 0) {
        ::close(lock_fd_);  // releases the flock
    }
}

Result<std::unique_ptr<DiskStore>> DiskStore::open(DiskStoreOptions options) {
    if (options.root.empty()) {
        return make_error(ErrorCode::InvalidArgument, "DiskStore needs a root directory");
    }
    std::unique_ptr<DiskStore> store(new DiskStore(std::move(options)));
    if (auto r = store->start(); !r) {
        return r.error();
    }
    return store;
}

Result<void> DiskStore::start() {
    BlobLayout layout(options_.root);
    latch_ = std::make_unique<WriteLatch>();
    files_ = std::make_unique<BlobFiles>(layout, options_, *latch_);

    std::error_code ec;
    for (const auto& dir : {layout.root(), layout.blobs_dir(), layout.tmp_dir()}) {
        std::filesystem::create_directories(dir, ec);
        if (ec) {
            return make_error(ErrorCode::Internal,
                              "cannot create " + dir.string() + ": " + ec.message());
        }
    }
    lock_fd_ = ::open(layout.lock_path().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lock_fd_ < 0) {
        int err = errno;
        return make_error(ErrorCode::Internal,
                          "cannot open " + layout.lock_path().string() + ": " + std::strerror(err));
    }
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        return make_error(ErrorCode::Unavailable,
                          "the store at " + layout.root().string() +
                              " is already open (in this or another process)");
    }

    auto writer = Database::open(layout.index_path(), /*read_only=*/false);
    if (!writer) {
        return writer.error();
    }
    Database& db = **writer;
    {
        auto mode = db.query("PRAGMA journal_mode=WAL");
        if (!mode) {
            return mode.error();
        }
        auto row = mode->step();
        if (!row) {
            return row.error();
        }
        if (!*row || mode->text(0) != "wal") {
            return make_error(ErrorCode::Internal, "the index cannot use WAL mode");
        }
    }
    if (auto r = db.exec("PRAGMA synchronous=FULL"); !r) {
        return r.error();
    }
    int version = 0;
    {
        auto q = db.query("PRAGMA user_version");
        if (!q) {
            return q.error();
        }
        if (auto row = q->step(); !row) {
            return row.error();
        }
        version = static_cast<int>(q->int64(0));
    }
    if (version > kSchemaVersion) {
        return make_error(ErrorCode::Internal, "the index at " + layout.index_path().string() +
                                                   " was written by a newer version (schema " +
                                                   std::to_string(version) + ")");
    }
    if (version == 0) {
        // A new index next to existing blobs means the index was lost: recovery would take every
        // blob for an orphan and delete all the data. Refuse instead.
        if (auto any = any_blob_file(layout); !any) {
            return any.error();
        } else if (*any) {
            return make_error(ErrorCode::Internal,
                              "the index " + layout.index_path().string() +
                                  " is new but blobs/ holds blob files (" + any->value() +
                                  "); refusing to treat them as orphans: restore the index or "
                                  "move blobs/ away");
        }
    }
    if (version < kSchemaVersion) {
        // Every statement of the schema is IF NOT EXISTS, so running it on an older index is the
        // migration: version 1 gains the outbox table, existing tables are left as they are.
        if (version > 0) {
            log().info("event=schema_migration index={} from={} to={}",
                       layout.index_path().string(), version, kSchemaVersion);
        }
        std::string create = std::string("BEGIN IMMEDIATE;") + kSchema +
                             "PRAGMA user_version=" + std::to_string(kSchemaVersion) + ";COMMIT;";
        if (auto r = db.exec(create.c_str()); !r) {
            return r.error();
        }
    }
    // The layout directories and the index files are entries of the root.
    if (auto r = files_->create_shards(); !r) {
        return r.error();
    }
    if (auto r = files_->sync_dir(layout.root()); !r) {
        return r.error();
    }
    if (auto r = recover_with(db); !r) {
        return r.error();
    }
    reclaimer_ = std::make_shared<BlobReclaimer>(layout);
    readers_ = std::make_unique<ReadPool>(layout.index_path(), options_.max_idle_readers);
    commits_ =
        std::make_unique<CommitQueue>(std::move(*writer), *files_, reclaimer_, *latch_, options_);
    return {};
}

// Cleans up after an unclean shutdown. The invariant it restores: every file under blobs/ is
// referenced by a segment or a part, and nothing else is there.
Result<void> DiskStore::recover_with(Database& db) {
    const BlobLayout& layout = files_->layout();
    auto relative_blob_path = [](const std::string& id) {
        return "blobs/" + id.substr(0, 2) + "/" + id;
    };
    auto note = [&](const std::string& relative, const char* why) {
        if (recovery_.removed.size() < kMaxListedRemovals) {
            log().info("event=recovery_removed path={} reason={}", relative, why);
            recovery_.removed.push_back(relative);
        }
    };

    // 1. Bodies being written when the process stopped.
    auto temps = list_dir(layout.tmp_dir());
    if (!temps) {
        return temps.error();
    }
    for (const auto& entry : *temps) {
        std::error_code ec;
        std::filesystem::remove_all(entry.path(), ec);
        if (ec) {
            return make_error(ErrorCode::Internal,
                              "cannot remove " + entry.path().string() + ": " + ec.message());
        }
        ++recovery_.temp_files;
        note("tmp/" + entry.path().filename().string(), "temp_file");
    }

    // 2. Rows pointing at nothing (cannot happen with the write paths' transactions; cheap to be
    //    sure): their blobs go to the trash.
    if (auto r = db.exec("BEGIN IMMEDIATE"); !r) {
        return r.error();
    }
    auto orphans = [&]() -> Result<void> {
        for (const char* sql :
             {"INSERT OR IGNORE INTO trash(blob) SELECT blob FROM parts "
              "WHERE upload_id NOT IN (SELECT upload_id FROM uploads)",
              "DELETE FROM parts WHERE upload_id NOT IN (SELECT upload_id FROM uploads)",
              "INSERT OR IGNORE INTO trash(blob) SELECT blob FROM segments "
              "WHERE object_id NOT IN (SELECT id FROM objects)",
              "DELETE FROM segments WHERE object_id NOT IN (SELECT id FROM objects)"}) {
            auto q = db.query(sql);
            if (!q) {
                return q.error();
            }
            if (auto run = q->run(); !run) {
                return run;
            }
            if (std::string_view(sql).starts_with("DELETE")) {
                recovery_.orphan_rows += static_cast<std::size_t>(db.changes());
            }
        }
        return {};
    }();
    if (!orphans) {
        (void)db.exec("ROLLBACK");
        return orphans.error();
    }
    if (auto r = db.exec("COMMIT"); !r) {
        return r.error();
    }

    // 3. Blobs released by committed writes but not unlinked yet.
    std::vector<std::string> trash;
    {
        auto q = db.query("SELECT blob FROM trash");
        if (!q) {
            return q.error();
        }
        for (;;) {
            auto row = q->step();
            if (!row) {
                return row.error();
            }
            if (!*row) {
                break;
            }
            trash.push_back(q->text(0));
        }
    }
    std::vector<std::string> cleared;
    for (const auto& blob : trash) {
        if (!BlobLayout::is_blob_id(blob)) {
            cleared.push_back(blob);  // not ours to unlink; drop the row
            continue;
        }
        auto path = layout.blob_path(blob);
        if (::unlink(path.c_str()) == 0) {
            ++recovery_.trash_blobs;
            note(relative_blob_path(blob), "trash");
            cleared.push_back(blob);
        } else if (errno == ENOENT) {
            cleared.push_back(blob);
        } else {
            log().warn("event=recovery_unlink_failed path={} error=\"{}\"", path.string(),
                       std::strerror(errno));
        }
    }
    if (!cleared.empty()) {
        if (auto r = db.exec("BEGIN IMMEDIATE"); !r) {
            return r.error();
        }
        for (const auto& blob : cleared) {
            auto q = db.query("DELETE FROM trash WHERE blob = ?1");
            if (!q) {
                (void)db.exec("ROLLBACK");
                return q.error();
            }
            if (auto r = q->bind_text(1, blob).run(); !r) {
                (void)db.exec("ROLLBACK");
                return r.error();
            }
        }
        if (auto r = db.exec("COMMIT"); !r) {
            return r.error();
        }
    }

    // 4. Blobs renamed into place by writes that never committed.
    auto referenced = [&](const std::string& blob) -> Result<bool> {
        auto q = db.query("SELECT EXISTS(SELECT 1 FROM segments WHERE blob = ?1) "
                          "OR EXISTS(SELECT 1 FROM parts WHERE blob = ?1)");
        if (!q) {
            return q.error();
        }
        auto row = q->bind_text(1, blob).step();
        if (!row) {
            return row.error();
        }
        return *row && q->int64(0) != 0;
    };
    auto shards = list_dir(layout.blobs_dir());
    if (!shards) {
        return shards.error();
    }
    for (const auto& shard : *shards) {
        std::error_code ec;
        if (!shard.is_directory(ec)) {
            log().warn("event=recovery_unknown_file path={}", shard.path().string());
            continue;
        }
        auto files = list_dir(shard.path());
        if (!files) {
            return files.error();
        }
        for (const auto& file : *files) {
            std::string name = file.path().filename().string();
            if (!BlobLayout::is_blob_id(name) || layout.shard_dir(name) != shard.path()) {
                log().warn("event=recovery_unknown_file path={}", file.path().string());
                continue;
            }
            auto used = referenced(name);
            if (!used) {
                return used.error();
            }
            if (!*used) {
                if (::unlink(file.path().c_str()) != 0 && errno != ENOENT) {
                    int err = errno;
                    return make_error(ErrorCode::Internal, "cannot remove " + file.path().string() +
                                                               ": " + std::strerror(err));
                }
                ++recovery_.orphan_blobs;
                note(relative_blob_path(name), "orphan_blob");
            }
        }
    }
    // One line per open that had something to clean up (a clean shutdown leaves nothing).
    auto level = recovery_.removed.empty() && recovery_.orphan_rows == 0 ? spdlog::level::debug
                                                                         : spdlog::level::warn;
    log().log(level,
              "event=recovered root={} temp_files={} orphan_blobs={} trash_blobs={} "
              "orphan_rows={}",
              layout.root().string(), recovery_.temp_files, recovery_.orphan_blobs,
              recovery_.trash_blobs, recovery_.orphan_rows);
    return {};
}

Result<void> DiskStore::writable() const {
    return latch_->check();
}

DiskStoreStats DiskStore::stats() const {
    return commits_->stats();
}

Result<void> DiskStore::commit(WriteOp& op) {
    return commits_->submit(op);
}

Result<DiskStore::StagedBody> DiskStore::write_body(ByteSource& body, ObjectMetadata& metadata,
                                                    const BeforeCommit& before_commit) {
    if (auto r = files_->check_free_space(); !r) {
        return r.error();
    }
    auto staged = files_->stage(body);
    if (!staged) {
        return staged.error();
    }
    if (before_commit) {
        if (auto r = before_commit(staged->digest, metadata); !r) {
            files_->discard(*staged);
            return r.error();
        }
    }
    if (auto r = files_->publish(*staged); !r) {
        return r.error();
    }
    return StagedBody{std::move(*staged)};
}

// ---------------------------------------------------------------------------------------------
// Buckets

Result<BucketInfo> DiskStore::create_bucket(const std::string& name, const std::string& region) {
    if (auto r = check_bucket_name(name); !r) {
        return r.error();
    }
    BucketInfo info;
    WriteOp op;
    op.apply = [&](WriteTxn& txn) -> Result<void> {
        auto exists = bucket_exists(txn.db(), name);
        if (!exists) {
            return exists.error();
        }
        if (*exists) {
            return make_error(ErrorCode::AlreadyExists, "bucket exists: " + name);
        }
        auto q = txn.db().query("INSERT INTO buckets(name, created, region) VALUES (?1, ?2, ?3)");
        if (!q) {
            return q.error();
        }
        info = BucketInfo{name, from_seconds(txn.now_seconds()), region};
        return q->bind_text(1, name).bind(2, txn.now_seconds()).bind_text(3, region).run();
    };
    if (auto r = commit(op); !r) {
        return r.error();
    }
    return info;
}

Result<BucketInfo> DiskStore::head_bucket(const std::string& name) {
    auto db = readers_->acquire();
    if (!db) {
        return db.error();
    }
    auto q = (*db)->query("SELECT created, region FROM buckets WHERE name = ?1");
    if (!q) {
        return q.error();
    }
    auto row = q->bind_text(1, name).step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return no_such_bucket(name);
    }
    return BucketInfo{name, from_seconds(q->int64(0)), q->text(1)};
}

Result<std::vector<BucketInfo>> DiskStore::list_buckets() {
    auto db = readers_->acquire();
    if (!db) {
        return db.error();
    }
    auto q = (*db)->query("SELECT name, created, region FROM buckets ORDER BY name");
    if (!q) {
        return q.error();
    }
    std::vector<BucketInfo> buckets;
    for (;;) {
        auto row = q->step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            return buckets;
        }
        buckets.push_back(BucketInfo{q->text(0), from_seconds(q->int64(1)), q->text(2)});
    }
}

Result<void> DiskStore::delete_bucket(const std::string& name) {
    WriteOp op;
    op.apply = [&](WriteTxn& txn) -> Result<void> {
        auto exists = bucket_exists(txn.db(), name);
        if (!exists) {
            return exists.error();
        }
        if (!*exists) {
            return no_such_bucket(name);
        }
        for (const char* sql : {"SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1",
                                "SELECT 1 FROM uploads WHERE bucket = ?1 LIMIT 1"}) {
            auto q = txn.db().query(sql);
            if (!q) {
                return q.error();
            }
            auto row = q->bind_text(1, name).step();
            if (!row) {
                return row.error();
            }
            if (*row) {
                return make_error(ErrorCode::PreconditionFailed, "bucket not empty: " + name);
            }
        }
        for (const char* sql : {"DELETE FROM bucket_configs WHERE bucket = ?1",
                                "DELETE FROM buckets WHERE name = ?1"}) {
            auto q = txn.db().query(sql);
            if (!q) {
                return q.error();
            }
            if (auto r = q->bind_text(1, name).run(); !r) {
                return r;
            }
        }
        return {};
    };
    return commit(op);
}

Result<void> DiskStore::put_bucket_config(const std::string& bucket, const std::string& name,
                                          const std::string& document) {
    WriteOp op;
    op.apply = [&](WriteTxn& txn) -> Result<void> {
        if (auto present = require_bucket(txn.db(), bucket); !present) {
            return present.error();
        }
        auto q = txn.db().query(
            "INSERT OR REPLACE INTO bucket_configs(bucket, name, document) VALUES (?1, ?2, ?3)");
        if (!q) {
            return q.error();
        }
        return q->bind_text(1, bucket).bind_text(2, name).bind_blob(3, document).run();
    };
    return commit(op);
}

Result<std::optional<std::string>> DiskStore::get_bucket_config(const std::string& bucket,
                                                                const std::string& name) {
    auto db = readers_->acquire();
    if (!db) {
        return db.error();
    }
    auto snapshot = ReadSnapshot::begin(**db);
    if (!snapshot) {
        return snapshot.error();
    }
    if (auto present = require_bucket(**db, bucket); !present) {
        return present.error();
    }
    auto q = (*db)->query("SELECT document FROM bucket_configs WHERE bucket = ?1 AND name = ?2");
    if (!q) {
        return q.error();
    }
    auto row = q->bind_text(1, bucket).bind_text(2, name).step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return std::optional<std::string>();
    }
    return std::optional<std::string>(q->blob(0));
}

Result<bool> DiskStore::delete_bucket_config(const std::string& bucket, const std::string& name) {
    bool deleted = false;
    WriteOp op;
    op.apply = [&](WriteTxn& txn) -> Result<void> {
        if (auto present = require_bucket(txn.db(), bucket); !present) {
            return present.error();
        }
        auto q = txn.db().query("DELETE FROM bucket_configs WHERE bucket = ?1 AND name = ?2");
        if (!q) {
            return q.error();
        }
        if (auto r = q->bind_text(1, bucket).bind_text(2, name).run(); !r) {
            return r;
        }
        deleted = txn.db().changes() > 0;
        return {};
    };
    if (auto r = commit(op); !r) {
        return r.error();
    }
    return deleted;
}

// ---------------------------------------------------------------------------------------------
// Objects

Result<ObjectInfo> DiskStore::put_object(const std::string& bucket, const std::string& key,
                                         ByteSource& body, ObjectMetadata metadata,
                                         const PutConditions& conditions,
                                         const BeforeCommit& before_commit,
                                         const ChangeCause& cause) {
    if (auto r = check_key(key); !r) {
        return r.error();
    }
    if (auto r = writable(); !r) {
        return r.error();
    }
    // Refuse early rather than after streaming a body nobody can store (re-checked at commit).
    {
        auto db = readers_->acquire();
        if (!db) {
            return db.error();
        }
        if (auto present = require_bucket(**db, bucket); !present) {
            return present.error();
        }
    }
    auto body_written = write_body(body, metadata, before_commit);
    if (!body_written) {
        return body_written.error();
    }
    const StagedBlob& blob = body_written->blob;

    ObjectInfo info;
    info.bucket = bucket;
    info.key = key;
    info.size = blob.digest.size;
    info.etag = blob.digest.md5_hex;
    info.metadata = std::move(metadata);

    WriteOp op;
    op.new_blobs.push_back(blob.id);
    op.apply = [&](WriteTxn& txn) -> Result<void> {
        if (auto present = require_bucket(txn.db(), bucket); !present) {
            return present.error();
        }
        auto current = load_object(txn.db(), bucket, key, /*with_details=*/false);
        if (!current) {
            return current.error();
        }
        if (auto r = check_conditions(conditions, *current, bucket); !r) {
            return r;
        }
        if (*current) {
            if (auto r = remove_object(txn, (*current)->id); !r) {
                return r;
            }
        }
        auto id = insert_object(txn, info, /*part_count=*/0);
        if (!id) {
            return id.error();
        }
        if (auto r = insert_segment(txn, *id, 0, blob.id, info.size); !r) {
            return r;
        }
        info.last_modified = from_seconds(txn.now_seconds());
        txn.object_changed(
            {ObjectChange::Kind::Created, bucket, key, info.size, info.etag, cause, 0, {}, {}});
        return {};
    };
    if (auto r = commit(op); !r) {
        return r.error();
    }
    return info;
}

Result<ObjectInfo> DiskStore::head_object(const std::string& bucket, const std::string& key) {
    auto db = readers_->acquire();
    if (!db) {
        return db.error();
    }
    auto snapshot = ReadSnapshot::begin(**db);
    if (!snapshot) {
        return snapshot.error();
    }
    auto object = load_object(**db, bucket, key, /*with_details=*/true);
    if (!object) {
        return object.error();
    }
    if (*object) {
        return std::move((*object)->info);
    }
    auto exists = bucket_exists(**db, bucket);
    if (!exists) {
        return exists.error();
    }
    return *exists ? no_such_key(bucket) : no_such_bucket(bucket);
}

Result<std::unique_ptr<ObjectStore::Reader>> DiskStore::open_object(const std::string& bucket,
                                                                    const std::string& key) {
    // Taken before the snapshot: blobs released after this point stay until the reader closes.
    BlobReclaimer::Ticket ticket = reclaimer_->enter();
    std::optional<ObjectRow> object;
    std::vector<SegmentRow> segments;
    {
        auto db = readers_->acquire();
        if (!db) {
            return db.error();
        }
        auto snapshot = ReadSnapshot::begin(**db);
        if (!snapshot) {
            return snapshot.error();
        }
        auto loaded = load_object(**db, bucket, key, /*with_details=*/true);
        if (!loaded) {
            return loaded.error();
        }
        if (!*loaded) {
            auto exists = bucket_exists(**db, bucket);
            if (!exists) {
                return exists.error();
            }
            return *exists ? no_such_key(bucket) : no_such_bucket(bucket);
        }
        object = std::move(*loaded);
        auto rows = load_segments(**db, object->id);
        if (!rows) {
            return rows.error();
        }
        segments = std::move(*rows);
    }
    if (segments.empty()) {
        return make_error(ErrorCode::Internal, "index damaged: object without segments");
    }
    // The first blob is opened now so that a missing file is an error here, not mid-response.
    auto first = files_->layout().blob_path(segments.front().blob);
    int fd = ::open(first.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        return make_error(ErrorCode::Internal,
                          "cannot open blob " + first.string() + ": " + std::strerror(err));
    }
    return std::unique_ptr<Reader>(std::make_unique<DiskReader>(
        std::move(object->info), std::move(segments), files_->layout(), std::move(ticket), fd));
}

Result<bool> DiskStore::delete_object(const std::string& bucket, const std::string& key,
                                      const ChangeCause& cause) {
    if (auto r = check_key(key); !r) {
        return r.error();
    }
    bool deleted = false;
    WriteOp op;
    op.apply = [&](WriteTxn& txn) -> Result<void> {
        if (auto present = require_bucket(txn.db(), bucket); !present) {
            return present.error();
        }
        auto current = load_object(txn.db(), bucket, key, /*with_details=*/false);
        if (!current) {
            return current.error();
        }
        if (!*current) {
            return {};
        }
        if (auto r = remove_object(txn, (*current)->id); !r) {
            return r;
        }
        deleted = true;
        txn.object_changed({ObjectChange::Kind::Removed, bucket, key, (*current)->info.size,
                            (*current)->info.etag, cause, 0, {}, {}});
        return {};
    };
    if (auto r = commit(op); !r) {
        return r.error();
    }
    return deleted;
}

Result<ListPage> DiskStore::list_objects(const std::string& bucket, const ListQuery& query) {
    auto db = readers_->acquire();
    if (!db) {
        return db.error();
    }
    auto snapshot = ReadSnapshot::begin(**db);
    if (!snapshot) {
        return snapshot.error();
    }
    if (auto present = require_bucket(**db, bucket); !present) {
        return present.error();
    }
    ListPage page;
    if (query.max_keys == 0) {
        return page;
    }
    const std::string& prefix = query.prefix;
    const std::string& delimiter = query.delimiter;
    // The common prefix a key rolls up into, if any.
    auto rollup = [&](const std::string& key) -> std::optional<std::string> {
        if (delimiter.empty()) {
            return std::nullopt;
        }
        auto at = key.find(delimiter, prefix.size());
        if (at == std::string::npos) {
            return std::nullopt;
        }
        return key.substr(0, at + delimiter.size());
    };

    // Inclusive lower bound. The byte string right after s is s + '\0' (keys hold no NUL).
    std::string lower = prefix;
    if (!query.start_after.empty()) {
        std::string after = query.start_after + '\0';
        // A common prefix returned earlier: everything under it was already reported.
        if (query.start_after.starts_with(prefix) &&
            rollup(query.start_after) == query.start_after) {
            auto end = prefix_end(query.start_after);
            if (!end) {
                return page;
            }
            after = *end;
        }
        lower = std::max(lower, after);
    }

    auto q = (*db)->query("SELECT object_key, size, etag, last_modified, checksum_algorithm "
                          "FROM objects WHERE bucket = ?1 AND object_key >= ?2 "
                          "ORDER BY object_key");
    if (!q) {
        return q.error();
    }
    q->bind_text(1, bucket).bind_blob(2, lower);
    std::size_t count = 0;
    for (;;) {
        auto row = q->step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            break;
        }
        std::string key = q->blob(0);
        if (!key.starts_with(prefix)) {
            break;  // sorted: past the last key with the prefix
        }
        if (count == query.max_keys) {
            page.truncated = true;
            break;
        }
        ++count;
        if (auto common = rollup(key)) {
            page.common_prefixes.push_back(*common);
            page.resume_after = *common;
            // Seek past every key under this common prefix instead of reading them.
            auto next = prefix_end(*common);
            if (!next) {
                break;
            }
            q->rewind();
            q->bind_blob(2, *next);
            continue;
        }
        ObjectSummary summary;
        summary.key = std::move(key);
        summary.size = static_cast<std::uint64_t>(q->int64(1));
        summary.etag = q->text(2);
        summary.last_modified = from_seconds(q->int64(3));
        summary.checksum_algorithm = q->text(4);
        page.resume_after = summary.key;
        page.objects.push_back(std::move(summary));
    }
    if (!page.truncated) {
        page.resume_after.clear();
    }
    return page;
}

// ---------------------------------------------------------------------------------------------
// Multipart uploads

Result<UploadInfo> DiskStore::create_multipart(const std::string& bucket, const std::string& key,
                                               ObjectMetadata metadata) {
    if (auto r = check_key(key); !r) {
        return r.error();
    }
    UploadInfo info;
    info.key = key;
    info.upload_id = crypto::random_hex(16);
    info.metadata = std::move(metadata);
    WriteOp op;
    op.apply = [&](WriteTxn& txn) -> Result<void> {
        if (auto present = require_bucket(txn.db(), bucket); !present) {
            return present.error();
        }
        auto q = txn.db().query("INSERT INTO uploads(upload_id, bucket, object_key, initiated, "
                                "metadata) VALUES (?1, ?2, ?3, ?4, ?5)");
        if (!q) {
            return q.error();
        }
        info.initiated = from_seconds(txn.now_seconds());
        return q->bind_text(1, info.upload_id)
            .bind_text(2, bucket)
            .bind_blob(3, key)
            .bind(4, txn.now_seconds())
            .bind_blob(5, encode_metadata(info.metadata))
            .run();
    };
    if (auto r = commit(op); !r) {
        return r.error();
    }
    return info;
}

Result<UploadInfo> DiskStore::get_multipart(const std::string& bucket, const std::string& key,
                                            const std::string& upload_id) {
    auto db = readers_->acquire();
    if (!db) {
        return db.error();
    }
    auto snapshot = ReadSnapshot::begin(**db);
    if (!snapshot) {
        return snapshot.error();
    }
    return require_upload(**db, bucket, key, upload_id);
}

Result<PartInfo> DiskStore::upload_part(const std::string& bucket, const std::string& key,
                                        const std::string& upload_id, int part_number,
                                        ByteSource& body, const BeforeCommit& before_commit) {
    if (part_number < 1 || part_number > kMaxPartNumber) {
        return make_error(ErrorCode::InvalidArgument,
                          "part number " + std::to_string(part_number) + " out of range");
    }
    if (auto r = writable(); !r) {
        return r.error();
    }
    {
        auto db = readers_->acquire();
        if (!db) {
            return db.error();
        }
        if (auto upload = require_upload(**db, bucket, key, upload_id); !upload) {
            return upload.error();
        }
    }
    ObjectMetadata scratch;
    auto body_written = write_body(body, scratch, before_commit);
    if (!body_written) {
        return body_written.error();
    }
    const StagedBlob& blob = body_written->blob;

    PartInfo part;
    part.number = part_number;
    part.size = blob.digest.size;
    part.etag = blob.digest.md5_hex;
    part.checksum_value = scratch.checksum_value;

    WriteOp op;
    op.new_blobs.push_back(blob.id);
    op.apply = [&](WriteTxn& txn) -> Result<void> {
        if (auto upload = require_upload(txn.db(), bucket, key, upload_id); !upload) {
            return upload.error();
        }
        {
            auto q = txn.db().query("SELECT blob FROM parts WHERE upload_id = ?1 AND number = ?2");
            if (!q) {
                return q.error();
            }
            auto row = q->bind_text(1, upload_id).bind(2, part_number).step();
            if (!row) {
                return row.error();
            }
            if (*row) {
                // Re-uploading a part number replaces it.
                if (auto r = txn.release_blob(q->text(0)); !r) {
                    return r;
                }
            }
        }
        auto q = txn.db().query(
            "INSERT OR REPLACE INTO parts(upload_id, number, size, etag, last_modified, "
            "checksum_value, blob) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        if (!q) {
            return q.error();
        }
        part.last_modified = from_seconds(txn.now_seconds());
        return q->bind_text(1, upload_id)
            .bind(2, part_number)
            .bind(3, static_cast<std::int64_t>(part.size))
            .bind_text(4, part.etag)
            .bind(5, txn.now_seconds())
            .bind_text(6, part.checksum_value)
            .bind_text(7, blob.id)
            .run();
    };
    if (auto r = commit(op); !r) {
        return r.error();
    }
    return part;
}

Result<std::vector<PartInfo>> DiskStore::list_parts(const std::string& bucket,
                                                    const std::string& key,
                                                    const std::string& upload_id, int after_part,
                                                    std::size_t max_parts) {
    auto db = readers_->acquire();
    if (!db) {
        return db.error();
    }
    auto snapshot = ReadSnapshot::begin(**db);
    if (!snapshot) {
        return snapshot.error();
    }
    if (auto upload = require_upload(**db, bucket, key, upload_id); !upload) {
        return upload.error();
    }
    auto q = (*db)->query("SELECT number, size, etag, last_modified, checksum_value FROM parts "
                          "WHERE upload_id = ?1 AND number > ?2 ORDER BY number LIMIT ?3");
    if (!q) {
        return q.error();
    }
    q->bind_text(1, upload_id)
        .bind(2, after_part)
        .bind(3, static_cast<std::int64_t>(std::min<std::size_t>(max_parts, kMaxPartNumber)));
    std::vector<PartInfo> parts;
    for (;;) {
        auto row = q->step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            return parts;
        }
        PartInfo part;
        part.number = static_cast<int>(q->int64(0));
        part.size = static_cast<std::uint64_t>(q->int64(1));
        part.etag = q->text(2);
        part.last_modified = from_seconds(q->int64(3));
        part.checksum_value = q->text(4);
        parts.push_back(std::move(part));
    }
}

Result<std::vector<UploadInfo>>
DiskStore::list_multipart_uploads(const std::string& bucket, const std::string& prefix,
                                  const std::string& key_marker,
                                  const std::string& upload_id_marker, std::size_t max_uploads) {
    auto db = readers_->acquire();
    if (!db) {
        return db.error();
    }
    auto snapshot = ReadSnapshot::begin(**db);
    if (!snapshot) {
        return snapshot.error();
    }
    if (auto present = require_bucket(**db, bucket); !present) {
        return present.error();
    }
    std::vector<UploadInfo> uploads;
    if (max_uploads == 0) {
        return uploads;
    }
    // S3's markers: keys after key_marker, plus uploads of key_marker itself after
    // upload_id_marker when one is given.
    auto q =
        (*db)->query("SELECT object_key, upload_id, initiated, metadata FROM uploads "
                     "WHERE bucket = ?1 AND object_key >= ?2 "
                     "AND (object_key > ?3 OR (object_key = ?3 AND ?4 <> '' AND upload_id > ?4)) "
                     "ORDER BY object_key, upload_id");
    if (!q) {
        return q.error();
    }
    q->bind_text(1, bucket)
        .bind_blob(2, prefix)
        .bind_blob(3, key_marker)
        .bind_text(4, upload_id_marker);
    for (;;) {
        auto row = q->step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            return uploads;
        }
        UploadInfo info;
        info.key = q->blob(0);
        if (!info.key.starts_with(prefix)) {
            return uploads;  // sorted: past the prefix
        }
        info.upload_id = q->text(1);
        info.initiated = from_seconds(q->int64(2));
        auto metadata = decode_metadata(q->blob(3));
        if (!metadata) {
            return metadata.error();
        }
        info.metadata = std::move(*metadata);
        uploads.push_back(std::move(info));
        if (uploads.size() == max_uploads) {
            return uploads;
        }
    }
}

Result<void> DiskStore::abort_multipart(const std::string& bucket, const std::string& key,
                                        const std::string& upload_id) {
    WriteOp op;
    op.apply = [&](WriteTxn& txn) -> Result<void> {
        if (auto upload = require_upload(txn.db(), bucket, key, upload_id); !upload) {
            return upload.error();
        }
        auto parts = load_parts(txn.db(), upload_id);
        if (!parts) {
            return parts.error();
        }
        for (const auto& [number, part] : *parts) {
            if (auto r = txn.release_blob(part.blob); !r) {
                return r;
            }
        }
        return delete_upload_rows(txn, upload_id);
    };
    return commit(op);
}

Result<ObjectInfo> DiskStore::complete_multipart(const std::string& bucket, const std::string& key,
                                                 const std::string& upload_id,
                                                 const std::vector<CompletedPart>& parts,
                                                 const PutConditions& conditions,
                                                 const BeforeCommit& before_commit,
                                                 const ChangeCause& cause) {
    if (auto r = check_key(key); !r) {
        return r.error();
    }
    if (auto r = check_part_list(parts); !r) {
        return r.error();
    }
    if (auto r = writable(); !r) {
        return r.error();
    }
    // First pass on a snapshot: the digest the BeforeCommit hook sees. The commit re-checks it.
    ObjectInfo info;
    info.bucket = bucket;
    info.key = key;
    {
        auto db = readers_->acquire();
        if (!db) {
            return db.error();
        }
        auto snapshot = ReadSnapshot::begin(**db);
        if (!snapshot) {
            return snapshot.error();
        }
        auto upload = require_upload(**db, bucket, key, upload_id);
        if (!upload) {
            return upload.error();
        }
        auto stored = load_parts(**db, upload_id);
        if (!stored) {
            return stored.error();
        }
        auto assembly = assemble(*stored, parts);
        if (!assembly) {
            return assembly.error();
        }
        info.size = assembly->size;
        info.etag = assembly->etag;
        info.metadata = std::move(upload->metadata);
    }
    if (before_commit) {
        BodyDigest digest{info.size, info.etag};
        if (auto r = before_commit(digest, info.metadata); !r) {
            return r.error();
        }
    }

    WriteOp op;
    op.apply = [&](WriteTxn& txn) -> Result<void> {
        if (auto upload = require_upload(txn.db(), bucket, key, upload_id); !upload) {
            return upload.error();
        }
        auto stored = load_parts(txn.db(), upload_id);
        if (!stored) {
            return stored.error();
        }
        // A part re-uploaded since the first pass has a different ETag (or, with the same bytes,
        // the same ETag and size: then it is the same object either way).
        auto assembly = assemble(*stored, parts);
        if (!assembly) {
            return assembly.error();
        }
        if (assembly->etag != info.etag || assembly->size != info.size) {
            return make_error(ErrorCode::PreconditionFailed,
                              "the upload's parts changed while completing it");
        }
        auto current = load_object(txn.db(), bucket, key, /*with_details=*/false);
        if (!current) {
            return current.error();
        }
        if (auto r = check_conditions(conditions, *current, bucket); !r) {
            return r;
        }
        if (*current) {
            if (auto r = remove_object(txn, (*current)->id); !r) {
                return r;
            }
        }
        auto id = insert_object(txn, info, static_cast<int>(parts.size()));
        if (!id) {
            return id.error();
        }
        // The parts' blobs become the object's segments: no bytes are copied.
        info.part_sizes.clear();
        for (std::size_t i = 0; i < assembly->segments.size(); ++i) {
            const auto& segment = assembly->segments[i];
            if (auto r = insert_segment(txn, *id, static_cast<int>(i), segment.blob, segment.size);
                !r) {
                return r;
            }
            info.part_sizes.push_back(segment.size);
        }
        // Parts uploaded but left out of the list are discarded.
        for (const auto& [number, part] : *stored) {
            // `parts` is in ascending order (check_part_list).
            bool listed = std::binary_search(
                parts.begin(), parts.end(), CompletedPart{number, {}},
                [](const CompletedPart& a, const CompletedPart& b) { return a.number < b.number; });
            if (!listed) {
                if (auto r = txn.release_blob(part.blob); !r) {
                    return r;
                }
            }
        }
        if (auto r = delete_upload_rows(txn, upload_id); !r) {
            return r;
        }
        info.last_modified = from_seconds(txn.now_seconds());
        txn.object_changed(
            {ObjectChange::Kind::Created, bucket, key, info.size, info.etag, cause, 0, {}, {}});
        return {};
    };
    if (auto r = commit(op); !r) {
        return r.error();
    }
    return info;
}

// ---------------------------------------------------------------------------------------------
// The transactional outbox

void DiskStore::set_outbox_router(OutboxRouter router) {
    commits_->set_outbox_router(std::move(router));
}

void DiskStore::set_outbox_listener(OutboxListener listener) {
    commits_->set_outbox_listener(std::move(listener));
}

Result<std::vector<OutboxEntry>> DiskStore::outbox_peek(std::int64_t after_id, std::size_t max) {
    std::vector<OutboxEntry> entries;
    max = std::min(max, kMaxOutboxPeek);
    if (max == 0) {
        return entries;
    }
    auto db = readers_->acquire();
    if (!db) {
        return db.error();
    }
    auto q = (*db)->query("SELECT id, target, payload, trace_id, created_ms FROM outbox "
                          "WHERE id > ?1 ORDER BY id LIMIT ?2");
    if (!q) {
        return q.error();
    }
    q->bind(1, after_id).bind(2, static_cast<std::int64_t>(max));
    for (;;) {
        auto row = q->step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            return entries;
        }
        entries.push_back(
            OutboxEntry{q->int64(0), q->text(1), q->blob(2), q->text(3), q->int64(4)});
    }
}

Result<std::size_t> DiskStore::outbox_remove(const std::vector<std::int64_t>& ids) {
    if (ids.size() > kMaxOutboxRemove) {
        return make_error(ErrorCode::InvalidArgument,
                          "outbox_remove of " + std::to_string(ids.size()) + " ids (limit " +
                              std::to_string(kMaxOutboxRemove) + ")");
    }
    std::size_t removed = 0;
    if (ids.empty()) {
        return removed;
    }
    WriteOp op;
    op.apply = [&](WriteTxn& txn) -> Result<void> {
        removed = 0;
        for (std::int64_t id : ids) {
            auto q = txn.db().query("DELETE FROM outbox WHERE id = ?1");
            if (!q) {
                return q.error();
            }
            if (auto r = q->bind(1, id).run(); !r) {
                return r;
            }
            removed += static_cast<std::size_t>(txn.db().changes());
        }
        return {};
    };
    if (auto r = commit(op); !r) {
        return r.error();
    }
    return removed;
}

}  // namespace pf::storage
