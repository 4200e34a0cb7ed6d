// DiskStore beyond the ObjectStore contract: the on-disk layout, recovery after crashes, the
// read-only latch after a failed fsync, full disks, group commit and deferred unlinking.
#include "object_store_contract.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "storage/disk_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

namespace pf::storage::test {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMiB = 1024 * 1024;

int real_fsync(int fd) {
    return ::fsync(fd) == 0 ? 0 : errno;
}

class DiskStoreTest : public ::testing::Test {
protected:
    void SetUp() override { dir_ = std::make_unique<pf::test::TempDir>("pf-disk-store"); }

    fs::path root() const { return dir_->path() / "store"; }

    DiskStoreOptions options() const {
        DiskStoreOptions o;
        o.root = root();
        o.min_free_bytes = 0;
        return o;
    }

    std::unique_ptr<DiskStore> open(DiskStoreOptions o) {
        auto store = DiskStore::open(std::move(o));
        EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().message);
        return store ? std::move(*store) : nullptr;
    }
    std::unique_ptr<DiskStore> open() { return open(options()); }

    static ObjectInfo put(ObjectStore& store, const std::string& bucket, const std::string& key,
                          const std::string& body) {
        StringSource source(body);
        auto info = store.put_object(bucket, key, source, {}, {}, {}, {});
        EXPECT_TRUE(info.has_value()) << (info ? "" : info.error().message);
        return info ? *info : ObjectInfo{};
    }
    static Result<ObjectInfo> try_put(ObjectStore& store, const std::string& key,
                                      const std::string& body, PutConditions conditions = {}) {
        StringSource source(body);
        return store.put_object("b", key, source, {}, conditions, {}, {});
    }
    static std::string get(ObjectStore& store, const std::string& bucket, const std::string& key) {
        auto reader = store.open_object(bucket, key);
        EXPECT_TRUE(reader.has_value()) << (reader ? "" : reader.error().message);
        return reader ? read_all(**reader) : std::string();
    }

    // Every regular file under `dir`, relative to it.
    static std::set<std::string> files_under(const fs::path& dir) {
        std::set<std::string> files;
        if (!fs::exists(dir)) {
            return files;
        }
        for (const auto& entry : fs::recursive_directory_iterator(dir)) {
            if (!entry.is_directory()) {
                files.insert(fs::relative(entry.path(), dir).string());
            }
        }
        return files;
    }
    std::set<std::string> blob_files() const { return files_under(root() / "blobs"); }
    std::set<std::string> temp_files() const { return files_under(root() / "tmp"); }

    // Runs a statement against the index directly (the store must be closed).
    void sql(const std::string& statement) {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open((root() / "index.sqlite").c_str(), &db), SQLITE_OK);
        char* error = nullptr;
        int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &error);
        EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
        sqlite3_free(error);
        sqlite3_close(db);
    }

    static void write_file(const fs::path& path, const std::string& bytes) {
        fs::create_directories(path.parent_path());
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0640);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
        ::close(fd);
    }

    // Runs `body` in a child process that ends with _exit(code): a simulated crash (no
    // destructors, no flushing). Returns the exit code.
    static int crash_in_child(const std::function<void()>& body) {
        pid_t pid = ::fork();
        if (pid == 0) {
            body();
            ::_exit(99);  // the body was expected to crash before this
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

    std::unique_ptr<pf::test::TempDir> dir_;
};

// ------------------------------------------------------------------------------------------
// Layout

TEST_F(DiskStoreTest, KeysNeverBecomePaths) {
    auto store = open();
    ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
    const std::vector<std::string> keys = {"../../etc/passwd",
                                           "/etc/passwd",
                                           "..",
                                           ".",
                                           "a/../../../b",
                                           "..\\..\\windows",
                                           "%2e%2e/%2e%2e/x",
                                           "~/.ssh/id_rsa",
                                           "lock",
                                           "index.sqlite",
                                           "tmp/x",
                                           "blobs/00/00/x"};
    for (const auto& key : keys) {
        put(*store, "b", key, "content of " + key);
    }
    for (const auto& key : keys) {
        EXPECT_EQ(get(*store, "b", key), "content of " + key);
    }
    const std::regex allowed(
        R"((index\.sqlite(-wal|-shm)?|lock|blobs/([0-9a-f]{2})/\3[0-9a-f]{30}))");
    auto files = files_under(root());
    EXPECT_EQ(blob_files().size(), keys.size());
    for (const auto& file : files) {
        EXPECT_TRUE(std::regex_match(file, allowed)) << "unexpected file " << file;
    }
    // Nothing appeared next to the store either.
    for (const auto& file : files_under(dir_->path())) {
        EXPECT_TRUE(file.starts_with("store/")) << "file outside the root: " << file;
        EXPECT_EQ(file.find("passwd"), std::string::npos);
    }
}

TEST_F(DiskStoreTest, ReopenKeepsEverythingAndACleanCloseLeavesNothingToRecover) {
    std::string big = pattern_bytes(2 * kMiB + 5);
    std::string upload_id;
    {
        auto store = open();
        ASSERT_TRUE(store->create_bucket("b", "eu-west-1").has_value());
        ASSERT_TRUE(store->create_bucket("c", "us-east-1").has_value());
        ASSERT_TRUE(store->put_bucket_config("b", "notification", "<N/>").has_value());
        put(*store, "b", "plain", "hello world");
        put(*store, "b", "big", big);
        put(*store, "b", "gone", "x");
        put(*store, "b", "overwritten", "v1");
        put(*store, "b", "overwritten", "v2");
        ASSERT_TRUE(store->delete_object("b", "gone", {}).has_value());
        auto done_upload = store->create_multipart("b", "multi", {});
        ASSERT_TRUE(done_upload.has_value());
        StringSource p1("part one "), p2("part two");
        auto e1 = store->upload_part("b", "multi", done_upload->upload_id, 1, p1, {});
        auto e2 = store->upload_part("b", "multi", done_upload->upload_id, 2, p2, {});
        ASSERT_TRUE(e1 && e2);
        ASSERT_TRUE(store
                        ->complete_multipart("b", "multi", done_upload->upload_id,
                                             {{1, e1->etag}, {2, e2->etag}}, {}, {}, {})
                        .has_value());
        ObjectMetadata metadata;
        metadata.content_type = "image/png";
        auto open_upload = store->create_multipart("b", "pending", metadata);
        ASSERT_TRUE(open_upload.has_value());
        upload_id = open_upload->upload_id;
        StringSource p3("in progress");
        ASSERT_TRUE(store->upload_part("b", "pending", upload_id, 3, p3, {}).has_value());
    }
    auto store = open();
    const auto& report = store->recovery_report();
    EXPECT_EQ(report.temp_files + report.orphan_blobs + report.trash_blobs + report.orphan_rows,
              0u);
    EXPECT_TRUE(report.removed.empty());
    auto buckets = store->list_buckets();
    ASSERT_TRUE(buckets.has_value());
    ASSERT_EQ(buckets->size(), 2u);
    EXPECT_EQ((*buckets)[0].region, "eu-west-1");
    EXPECT_EQ(**store->get_bucket_config("b", "notification"), "<N/>");
    EXPECT_EQ(get(*store, "b", "plain"), "hello world");
    EXPECT_EQ(get(*store, "b", "big"), big);
    EXPECT_EQ(get(*store, "b", "overwritten"), "v2");
    EXPECT_EQ(store->head_object("b", "gone").error().code, ErrorCode::NotFound);
    EXPECT_EQ(get(*store, "b", "multi"), "part one part two");
    EXPECT_EQ(store->head_object("b", "multi")->part_sizes, (std::vector<std::uint64_t>{9, 8}));
    auto pending = store->get_multipart("b", "pending", upload_id);
    ASSERT_TRUE(pending.has_value());
    EXPECT_EQ(pending->metadata.content_type, "image/png");
    auto parts = store->list_parts("b", "pending", upload_id, 0, 10);
    ASSERT_TRUE(parts.has_value());
    ASSERT_EQ(parts->size(), 1u);
    EXPECT_EQ((*parts)[0].number, 3);
    // plain, big, overwritten (v2), multi's two parts, pending's part.
    EXPECT_EQ(blob_files().size(), 6u);
}

TEST_F(DiskStoreTest, ASecondOpenOfTheSameRootIsRefused) {
    auto first = open();
    auto second = DiskStore::open(options());
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error().code, ErrorCode::Unavailable);
    EXPECT_NE(second.error().message.find("already open"), std::string::npos);
    first.reset();
    EXPECT_NE(open(), nullptr);
}

// ------------------------------------------------------------------------------------------
// Deferred unlinking and zero-copy Complete

TEST_F(DiskStoreTest, OverwritesDeletesAndAbortsRemoveTheOldBlobs) {
    auto store = open();
    ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
    put(*store, "b", "k", "v1");
    auto first = blob_files();
    ASSERT_EQ(first.size(), 1u);
    put(*store, "b", "k", "v2");
    auto second = blob_files();
    ASSERT_EQ(second.size(), 1u);
    EXPECT_NE(first, second);
    ASSERT_TRUE(store->delete_object("b", "k", {}).has_value());
    EXPECT_TRUE(blob_files().empty());

    auto upload = store->create_multipart("b", "m", {});
    ASSERT_TRUE(upload.has_value());
    for (int n : {1, 2, 2, 3}) {
        StringSource body("part " + std::to_string(n));
        ASSERT_TRUE(store->upload_part("b", "m", upload->upload_id, n, body, {}).has_value());
    }
    EXPECT_EQ(blob_files().size(), 3u) << "a replaced part's blob is removed";
    ASSERT_TRUE(store->abort_multipart("b", "m", upload->upload_id).has_value());
    EXPECT_TRUE(blob_files().empty());
    EXPECT_EQ(store->stats().pending_unlinks, 0u);
}

TEST_F(DiskStoreTest, CompleteTurnsPartsIntoSegmentsWithoutCopying) {
    auto store = open();
    ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
    auto upload = store->create_multipart("b", "m", {});
    ASSERT_TRUE(upload.has_value());
    std::vector<CompletedPart> listed;
    for (int n = 1; n <= 3; ++n) {
        StringSource body(pattern_bytes(kMiB, static_cast<std::size_t>(n)));
        auto part = store->upload_part("b", "m", upload->upload_id, n, body, {});
        ASSERT_TRUE(part.has_value());
        if (n != 2) {
            listed.push_back({n, part->etag});
        }
    }
    auto before = blob_files();
    std::map<std::string, ino_t> inodes;
    for (const auto& file : before) {
        struct stat st {};
        ASSERT_EQ(::stat((root() / "blobs" / file).c_str(), &st), 0);
        inodes[file] = st.st_ino;
    }
    ASSERT_TRUE(store->complete_multipart("b", "m", upload->upload_id, listed, {}, {}, {}).has_value());
    auto after = blob_files();
    EXPECT_EQ(after.size(), 2u) << "the unlisted part's blob is removed, nothing is added";
    for (const auto& file : after) {
        ASSERT_TRUE(before.contains(file)) << file << " is new: bytes were copied";
        struct stat st {};
        ASSERT_EQ(::stat((root() / "blobs" / file).c_str(), &st), 0);
        EXPECT_EQ(st.st_ino, inodes[file]);
    }
    EXPECT_EQ(get(*store, "b", "m"), pattern_bytes(kMiB, 1) + pattern_bytes(kMiB, 3));
}

TEST_F(DiskStoreTest, AnOpenReaderDefersTheUnlinkUntilItCloses) {
    auto store = open();
    ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
    put(*store, "b", "k", "old bytes");
    auto reader = store->open_object("b", "k");
    ASSERT_TRUE(reader.has_value());
    put(*store, "b", "k", "new bytes");
    EXPECT_EQ(store->stats().pending_unlinks, 1u);
    EXPECT_EQ(blob_files().size(), 2u);
    // A reader opened after the overwrite does not hold the old blob.
    auto later = store->open_object("b", "k");
    ASSERT_TRUE(later.has_value());
    EXPECT_EQ(read_all(**reader), "old bytes");
    reader->reset();
    EXPECT_EQ(store->stats().pending_unlinks, 0u);
    EXPECT_EQ(blob_files().size(), 1u);
    EXPECT_EQ(read_all(**later), "new bytes");
    later->reset();
    // The trash rows are gone with the files: nothing for recovery to do.
    store.reset();
    store = open();
    EXPECT_TRUE(store->recovery_report().removed.empty());
}

// ------------------------------------------------------------------------------------------
// Recovery

TEST_F(DiskStoreTest, RecoveryRemovesTempFilesOrphanBlobsTrashAndOrphanRows) {
    std::string multipart_body;
    {
        auto store = open();
        ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
        put(*store, "b", "keep", "committed");
        auto upload = store->create_multipart("b", "m", {});
        ASSERT_TRUE(upload.has_value());
        StringSource p1("one"), p2("two");
        auto e1 = store->upload_part("b", "m", upload->upload_id, 1, p1, {});
        auto e2 = store->upload_part("b", "m", upload->upload_id, 2, p2, {});
        ASSERT_TRUE(e1 && e2);
        ASSERT_TRUE(store
                        ->complete_multipart("b", "m", upload->upload_id,
                                             {{1, e1->etag}, {2, e2->etag}}, {}, {}, {})
                        .has_value());
    }
    auto committed = blob_files();
    ASSERT_EQ(committed.size(), 3u);
    // What crashes leave behind:
    write_file(root() / "tmp" / "0123456789abcdef0123456789abcdef.tmp", "half a body");
    const std::string orphan = "abcd" + std::string(28, '0');
    write_file(root() / "blobs/ab" / orphan, "renamed, never committed");
    const std::string trashed = "1234" + std::string(28, 'e');
    write_file(root() / "blobs/12" / trashed, "released, not yet unlinked");
    sql("INSERT INTO trash(blob) VALUES ('" + trashed + "')");
    const std::string stray_part = "5678" + std::string(28, 'f');
    write_file(root() / "blobs/56" / stray_part, "part of no upload");
    sql("INSERT INTO parts(upload_id, number, size, etag, last_modified, checksum_value, blob) "
        "VALUES ('no-such-upload', 1, 17, 'x', 0, '', '" +
        stray_part + "')");
    write_file(root() / "blobs/ab/notes.txt", "not ours: left alone");

    auto store = open();
    const auto& report = store->recovery_report();
    EXPECT_EQ(report.temp_files, 1u);
    EXPECT_EQ(report.orphan_blobs, 1u);
    EXPECT_EQ(report.trash_blobs, 2u);  // the trash row and the stray part's blob
    EXPECT_EQ(report.orphan_rows, 1u);
    EXPECT_EQ(
        std::set<std::string>(report.removed.begin(), report.removed.end()),
        (std::set<std::string>{"tmp/0123456789abcdef0123456789abcdef.tmp", "blobs/ab/" + orphan,
                               "blobs/12/" + trashed, "blobs/56/" + stray_part}));
    auto left = blob_files();
    left.erase("ab/notes.txt");
    EXPECT_EQ(left, committed);
    EXPECT_TRUE(temp_files().empty());
    EXPECT_EQ(get(*store, "b", "keep"), "committed");
    EXPECT_EQ(get(*store, "b", "m"), "onetwo");
    store.reset();
    EXPECT_TRUE(open()->recovery_report().removed.empty()) << "recovery is done once";
}

TEST_F(DiskStoreTest, ALostIndexIsNotTakenAsLicenceToDeleteEveryBlob) {
    {
        auto store = open();
        ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
        put(*store, "b", "k", "precious");
    }
    for (const char* name : {"index.sqlite", "index.sqlite-wal", "index.sqlite-shm"}) {
        fs::remove(root() / name);
    }
    auto reopened = DiskStore::open(options());
    ASSERT_FALSE(reopened.has_value());
    EXPECT_NE(reopened.error().message.find("refusing"), std::string::npos)
        << reopened.error().message;
    EXPECT_EQ(blob_files().size(), 1u) << "the data is still there";
}

TEST_F(DiskStoreTest, ACrashAfterTheRenameBeforeTheCommitLeavesNothingBehind) {
    int code = crash_in_child([&] {
        std::atomic<bool> armed{false};
        DiskStoreOptions o = options();
        const fs::path blobs = root() / "blobs";
        o.fsync_override = [&](const fs::path& path, int fd) {
            // The blob's shard directory is synced right after the rename.
            if (armed && path.parent_path() == blobs) {
                ::_exit(42);
            }
            return real_fsync(fd);
        };
        auto store = DiskStore::open(o);
        if (!store || !(*store)->create_bucket("b", "us-east-1")) {
            ::_exit(1);
        }
        StringSource first("committed");
        if (!(*store)->put_object("b", "a", first, {}, {}, {}, {})) {
            ::_exit(2);
        }
        armed = true;
        StringSource second("never acknowledged");
        (void)(*store)->put_object("b", "b", second, {}, {}, {}, {});
        ::_exit(3);
    });
    ASSERT_EQ(code, 42);
    EXPECT_EQ(blob_files().size(), 2u);
    auto store = open();
    EXPECT_EQ(store->recovery_report().orphan_blobs, 1u);
    EXPECT_EQ(blob_files().size(), 1u);
    EXPECT_EQ(get(*store, "b", "a"), "committed");
    EXPECT_EQ(store->head_object("b", "b").error().code, ErrorCode::NotFound);
}

// A body larger than the write buffer is hashed on a second thread and pushed to the disk as it
// goes: its ETag is still the MD5 of its bytes in order, and ranges anywhere read back right.
TEST_F(DiskStoreTest, ALargeBodyInUnevenReadsKeepsItsMd5AndReadsBackInRanges) {
    class UnevenSource : public ByteSource {
    public:
        explicit UnevenSource(const std::string& bytes) : bytes_(bytes) {}
        Result<std::size_t> read(std::span<char> out) override {
            std::size_t n = std::min({out.size(), bytes_.size() - at_, 100'003 + at_ % 977});
            std::copy_n(bytes_.data() + at_, n, out.data());
            at_ += n;
            return n;
        }

    private:
        const std::string& bytes_;
        std::size_t at_ = 0;
    };
    auto store = open();
    ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
    std::string body = pattern_bytes(19 * kMiB + 12'345);
    UnevenSource source(body);
    auto info = store->put_object("b", "large", source, {}, {}, {}, {});
    ASSERT_TRUE(info.has_value()) << info.error().message;
    EXPECT_EQ(info->etag, crypto::hex_encode(crypto::md5(body)));
    EXPECT_EQ(get(*store, "b", "large"), body);
    for (std::uint64_t offset : {std::uint64_t{0}, std::uint64_t{5 * kMiB + 7},
                                 std::uint64_t{body.size() - 10}}) {
        auto reader = store->open_object("b", "large");
        ASSERT_TRUE(reader.has_value());
        ASSERT_TRUE((*reader)->set_range(offset, 3 * kMiB).has_value());
        EXPECT_EQ(read_all(**reader), body.substr(offset, 3 * kMiB)) << "offset " << offset;
    }
}

TEST_F(DiskStoreTest, ACrashWhileStreamingABodyLeavesNothingBehind) {
    class CrashingSource : public ByteSource {
    public:
        Result<std::size_t> read(std::span<char> out) override {
            if (sent_ >= 3 * kMiB) {
                ::_exit(43);
            }
            std::size_t n = std::min<std::size_t>(out.size(), 64 * 1024);
            std::fill_n(out.data(), n, 'z');
            sent_ += n;
            return n;
        }

    private:
        std::size_t sent_ = 0;
    };
    int code = crash_in_child([&] {
        auto store = DiskStore::open(options());
        if (!store || !(*store)->create_bucket("b", "us-east-1")) {
            ::_exit(1);
        }
        CrashingSource body;
        (void)(*store)->put_object("b", "k", body, {}, {}, {}, {});
        ::_exit(3);
    });
    ASSERT_EQ(code, 43);
    EXPECT_EQ(temp_files().size(), 1u);
    auto store = open();
    EXPECT_EQ(store->recovery_report().temp_files, 1u);
    EXPECT_TRUE(temp_files().empty());
    EXPECT_TRUE(blob_files().empty());
    EXPECT_EQ(store->head_object("b", "k").error().code, ErrorCode::NotFound);
}

TEST_F(DiskStoreTest, ACrashBeforeADeferredUnlinkLeaksNothing) {
    int code = crash_in_child([&] {
        auto store = DiskStore::open(options());
        if (!store || !(*store)->create_bucket("b", "us-east-1")) {
            ::_exit(1);
        }
        StringSource v1("version 1"), v2("version 2");
        if (!(*store)->put_object("b", "k", v1, {}, {}, {}, {})) {
            ::_exit(2);
        }
        auto reader = (*store)->open_object("b", "k");  // holds version 1's blob
        if (!reader || !(*store)->put_object("b", "k", v2, {}, {}, {}, {})) {
            ::_exit(3);
        }
        ::_exit(44);
    });
    ASSERT_EQ(code, 44);
    EXPECT_EQ(blob_files().size(), 2u);
    auto store = open();
    EXPECT_EQ(store->recovery_report().trash_blobs, 1u);
    EXPECT_EQ(blob_files().size(), 1u);
    EXPECT_EQ(get(*store, "b", "k"), "version 2");
}

// ------------------------------------------------------------------------------------------
// Durability failures

TEST_F(DiskStoreTest, AFailedFsyncLatchesTheStoreReadOnly) {
    std::atomic<bool> failing{false};
    DiskStoreOptions o = options();
    o.fsync_override = [&](const fs::path&, int fd) { return failing ? EIO : real_fsync(fd); };
    {
        auto store = open(o);
        ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
        put(*store, "b", "before", "safe");
        failing = true;
        auto failed = try_put(*store, "after", "lost?");
        ASSERT_FALSE(failed.has_value());
        EXPECT_EQ(failed.error().code, ErrorCode::Unavailable);
        const std::string reason = failed.error().message;
        EXPECT_NE(reason.find("fsync of " + (root() / "tmp").string()), std::string::npos)
            << reason;
        EXPECT_NE(reason.find(std::strerror(EIO)), std::string::npos) << reason;
        EXPECT_TRUE(std::regex_search(reason, std::regex("since 20\\d\\d-\\d\\d-\\d\\dT")))
            << reason;
        EXPECT_TRUE(temp_files().empty());

        // Not retried, even once the device "works" again.
        failing = false;
        auto writable = store->writable();
        ASSERT_FALSE(writable.has_value());
        EXPECT_EQ(writable.error().message, reason);
        EXPECT_EQ(try_put(*store, "again", "x").error().message, reason);
        EXPECT_EQ(store->create_bucket("c", "us-east-1").error().code, ErrorCode::Unavailable);
        EXPECT_EQ(store->delete_object("b", "before", {}).error().code, ErrorCode::Unavailable);
        EXPECT_EQ(store->create_multipart("b", "m", {}).error().code, ErrorCode::Unavailable);
        EXPECT_EQ(store->put_bucket_config("b", "cors", "x").error().code, ErrorCode::Unavailable);
        // Reads keep working.
        EXPECT_EQ(get(*store, "b", "before"), "safe");
        EXPECT_TRUE(store->list_objects("b", {}).has_value());
        EXPECT_TRUE(store->head_bucket("b").has_value());
    }
    auto store = open(o);
    EXPECT_TRUE(store->writable().has_value()) << "reopening clears the latch";
    EXPECT_EQ(store->head_object("b", "after").error().code, ErrorCode::NotFound);
    put(*store, "b", "after", "stored");
    EXPECT_EQ(get(*store, "b", "after"), "stored");
}

TEST_F(DiskStoreTest, AFailedDirectoryFsyncAfterTheRenameLatchesAndRecoveryCleansUp) {
    std::atomic<bool> failing{false};
    DiskStoreOptions o = options();
    const fs::path blobs = root() / "blobs";
    o.fsync_override = [&](const fs::path& path, int fd) {
        return failing && path.parent_path() == blobs ? EIO : real_fsync(fd);
    };
    {
        auto store = open(o);
        ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
        failing = true;
        auto failed = try_put(*store, "k", "bytes");
        ASSERT_FALSE(failed.has_value());
        EXPECT_EQ(failed.error().code, ErrorCode::Unavailable);
        EXPECT_NE(failed.error().message.find("fsync of " + blobs.string()), std::string::npos);
        EXPECT_FALSE(store->writable().has_value());
        EXPECT_EQ(store->head_object("b", "k").error().code, ErrorCode::NotFound);
    }
    failing = false;
    auto store = open(o);
    EXPECT_EQ(store->recovery_report().orphan_blobs, 1u);
    EXPECT_TRUE(blob_files().empty());
}

TEST_F(DiskStoreTest, TooLittleFreeSpaceRefusesWritesWithoutLatching) {
    DiskStoreOptions o = options();
    o.min_free_bytes = std::uint64_t{1} << 62;  // more than any disk has
    {
        auto store = open(o);
        // Index-only writes are small and allowed.
        ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
        auto refused = try_put(*store, "k", "bytes");
        ASSERT_FALSE(refused.has_value());
        EXPECT_EQ(refused.error().code, ErrorCode::Unavailable);
        EXPECT_TRUE(refused.error().message.starts_with("disk full")) << refused.error().message;
        EXPECT_EQ(refused.error().client_message(), "disk full");
        EXPECT_TRUE(store->writable().has_value()) << "a full disk is not latched";
        auto upload = store->create_multipart("b", "m", {});
        ASSERT_TRUE(upload.has_value());
        StringSource part("x");
        EXPECT_EQ(store->upload_part("b", "m", upload->upload_id, 1, part, {}).error().code,
                  ErrorCode::Unavailable);
        EXPECT_TRUE(temp_files().empty());
        EXPECT_TRUE(blob_files().empty());
    }
    auto store = open();
    put(*store, "b", "k", "fits now");
}

// A real full disk: a 2 MiB tmpfs (needs root to mount).
class FullDiskTest : public DiskStoreTest {
protected:
    void SetUp() override {
        DiskStoreTest::SetUp();
        mount_point_ = dir_->path() / "mnt";
        fs::create_directories(mount_point_);
        if (::mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, "size=2m") != 0) {
            GTEST_SKIP() << "cannot mount a 2 MiB tmpfs (" << std::strerror(errno)
                         << "); needs root";
        }
        mounted_ = true;
    }
    void TearDown() override {
        if (mounted_) {
            ::umount2(mount_point_.c_str(), MNT_DETACH);
        }
    }
    fs::path mount_point_;
    bool mounted_ = false;
};

TEST_F(FullDiskTest, AFullDiskIsUnavailableAndLeavesNothingHalfWritten) {
    DiskStoreOptions o;
    o.root = mount_point_ / "store";
    o.min_free_bytes = 0;  // let the write run into ENOSPC
    auto store = open(o);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
    std::string small = pattern_bytes(256 * 1024);
    put(*store, "b", "small", small);
    auto blobs_before = files_under(o.root / "blobs");

    auto refused = try_put(*store, "huge", pattern_bytes(4 * kMiB));
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, ErrorCode::Unavailable);
    EXPECT_TRUE(refused.error().message.starts_with("disk full")) << refused.error().message;
    EXPECT_TRUE(store->writable().has_value()) << "a full disk is not latched";
    EXPECT_TRUE(files_under(o.root / "tmp").empty()) << "the temp file is removed";
    EXPECT_EQ(files_under(o.root / "blobs"), blobs_before);
    EXPECT_EQ(store->head_object("b", "huge").error().code, ErrorCode::NotFound);
    EXPECT_EQ(get(*store, "b", "small"), small);

    auto upload = store->create_multipart("b", "m", {});
    ASSERT_TRUE(upload.has_value());
    StringSource part(pattern_bytes(4 * kMiB));
    EXPECT_EQ(store->upload_part("b", "m", upload->upload_id, 1, part, {}).error().code,
              ErrorCode::Unavailable);
    EXPECT_TRUE(files_under(o.root / "tmp").empty());

    // Space comes back: writes work again without reopening.
    ASSERT_TRUE(store->delete_object("b", "small", {}).has_value());
    std::string medium = pattern_bytes(kMiB);
    put(*store, "b", "medium", medium);
    EXPECT_EQ(get(*store, "b", "medium"), medium);
}

// ------------------------------------------------------------------------------------------
// Group commit

TEST_F(DiskStoreTest, GroupCommitAppliesABatchInOneTransactionAndIsolatesFailures) {
    std::mutex mutex;
    std::condition_variable changed;
    bool hold = false, holding = false, release = false;
    std::vector<std::size_t> batches;
    DiskStoreOptions o = options();
    o.batch_observer = [&](std::size_t size) {
        std::unique_lock lock(mutex);
        batches.push_back(size);
        if (hold) {
            // Hold this one batch on the commit thread until the next has queued up.
            hold = false;
            holding = true;
            changed.notify_all();
            changed.wait(lock, [&] { return release; });
        }
    };
    auto store = open(o);
    ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
    put(*store, "b", "exists", "original");
    {
        std::lock_guard lock(mutex);
        hold = true;
        batches.clear();
    }
    auto commits_before = store->stats().commits;
    std::thread first([&] { put(*store, "b", "first", "x"); });
    {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return holding; });
    }
    constexpr int kWriters = 16;
    std::vector<std::thread> writers;
    std::vector<Result<ObjectInfo>> results(kWriters, make_error(ErrorCode::Internal, "unset"));
    for (int i = 0; i < kWriters; ++i) {
        writers.emplace_back([&, i] {
            PutConditions conditions;
            // Every other writer tries to create a key that exists: it must fail alone.
            conditions.if_none_match_any = true;
            std::string key = i % 2 == 0 ? "exists" : "new" + std::to_string(i);
            results[i] = try_put(*store, key, "writer " + std::to_string(i), conditions);
        });
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (store->stats().queued < kWriters && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(store->stats().queued, static_cast<std::uint64_t>(kWriters));
    {
        std::lock_guard lock(mutex);
        release = true;
    }
    changed.notify_all();
    first.join();
    for (auto& writer : writers) {
        writer.join();
    }
    EXPECT_EQ(batches, (std::vector<std::size_t>{1, kWriters}));
    EXPECT_EQ(store->stats().commits, commits_before + 2) << "one transaction for 16 writes";
    for (int i = 0; i < kWriters; ++i) {
        if (i % 2 == 0) {
            ASSERT_FALSE(results[i].has_value());
            EXPECT_EQ(results[i].error().code, ErrorCode::PreconditionFailed);
        } else {
            ASSERT_TRUE(results[i].has_value()) << results[i].error().message;
            EXPECT_EQ(get(*store, "b", "new" + std::to_string(i)), "writer " + std::to_string(i));
        }
    }
    EXPECT_EQ(get(*store, "b", "exists"), "original");
    // The refused writers' blobs are gone: exists, first, and the 8 new objects remain.
    EXPECT_EQ(blob_files().size(), 10u);
}

TEST_F(DiskStoreTest, WithoutGroupCommitEveryWriteIsItsOwnTransaction) {
    DiskStoreOptions o = options();
    o.group_commit = false;
    auto store = open(o);
    ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 10; ++i) {
                put(*store, "b", std::to_string(t) + "/" + std::to_string(i), "x");
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    auto stats = store->stats();
    EXPECT_EQ(stats.largest_batch, 1u);
    EXPECT_EQ(stats.commits, 81u);
}

// ------------------------------------------------------------------------------------------
// Measurement (run with --gtest_also_run_disabled_tests --gtest_filter='*PutRate*').

TEST_F(DiskStoreTest, DISABLED_PutRate) {
    const std::string body(4096, 'p');
    for (bool group_commit : {false, true}) {
        for (int threads : {1, 16}) {
            pf::test::TempDir dir("pf-put-rate");
            DiskStoreOptions o;
            o.root = dir.path() / "store";
            o.min_free_bytes = 0;
            o.group_commit = group_commit;
            auto store = open(o);
            ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
            const int per_thread = threads == 1 ? 1000 : 250;
            auto start = std::chrono::steady_clock::now();
            std::vector<std::thread> workers;
            for (int t = 0; t < threads; ++t) {
                workers.emplace_back([&, t] {
                    for (int i = 0; i < per_thread; ++i) {
                        put(*store, "b", std::to_string(t) + "/" + std::to_string(i), body);
                    }
                });
            }
            for (auto& worker : workers) {
                worker.join();
            }
            double seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            auto stats = store->stats();
            int puts = threads * per_thread;
            std::cout << "put_rate group_commit=" << (group_commit ? "on" : "off")
                      << " threads=" << threads << " puts=" << puts << " seconds=" << seconds
                      << " puts_per_second=" << static_cast<int>(puts / seconds)
                      << " commits=" << stats.commits << " largest_batch=" << stats.largest_batch
                      << "\n";
        }
    }
}

}  // namespace
}  // namespace pf::storage::test
