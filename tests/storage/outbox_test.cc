// DiskStore's transactional outbox: event rows are written in the transaction of the object change
// itself, so they exist exactly when the change committed, survive a crash right after the
// acknowledgement and a reopen, and are consumed with peek / remove.
#include "object_store_contract.h"
#include "storage/disk_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

namespace pf::storage::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDocument = "<NotificationConfiguration>test</NotificationConfiguration>";

ChangeCause cause(std::string event_name, std::string request_id = "REQ1") {
    ChangeCause c;
    c.event_name = std::move(event_name);
    c.request_id = std::move(request_id);
    c.host_id = "HOST1";
    c.source_ip = "192.0.2.1";
    c.principal_id = "AWS:AKIDEXAMPLE";
    c.trace_id = "Root=1-00000001-000000000000000000000001";
    return c;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

class OutboxTest : public ::testing::Test {
protected:
    void SetUp() override { dir_ = std::make_unique<pf::test::TempDir>("pf-outbox"); }

    DiskStoreOptions options() const {
        DiskStoreOptions o;
        o.root = dir_->path() / "store";
        o.min_free_bytes = 0;
        return o;
    }

    // Opens the store with a router that records every change it is given and answers one row
    // per change ("<event> <bucket>/<key>"), or fails for keys starting with "fail".
    std::unique_ptr<DiskStore> open_with_router() {
        auto store = DiskStore::open(options());
        EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().message);
        if (!store) {
            return nullptr;
        }
        (*store)->set_outbox_router(
            [this](const ObjectChange& change,
                   std::string_view document) -> Result<std::vector<OutboxRow>> {
                std::lock_guard lock(mutex_);
                seen_.push_back(change);
                documents_.emplace_back(document);
                if (change.key.starts_with("fail")) {
                    return make_error(ErrorCode::Internal, "router refused " + change.key);
                }
                return std::vector<OutboxRow>{
                    {"arn:aws:lambda:us-east-1:1:function:f",
                     change.cause.event_name + " " + change.bucket + "/" + change.key,
                     change.cause.trace_id}};
            });
        return std::move(*store);
    }

    static Result<ObjectInfo> put(DiskStore& store, const std::string& key, const std::string& body,
                                  const ChangeCause& c, PutConditions conditions = {}) {
        StringSource source(body);
        return store.put_object("b", key, source, {}, conditions, {}, c);
    }

    static std::vector<std::string> payloads(DiskStore& store) {
        auto rows = store.outbox_peek(0, DiskStore::kMaxOutboxPeek);
        EXPECT_TRUE(rows.has_value());
        std::vector<std::string> out;
        for (const auto& row : *rows) {
            out.push_back(row.payload);
        }
        return out;
    }

    void sql(const std::string& statement) {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open((options().root / "index.sqlite").c_str(), &db), SQLITE_OK);
        char* error = nullptr;
        int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &error);
        EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
        sqlite3_free(error);
        sqlite3_close(db);
    }

    std::unique_ptr<pf::test::TempDir> dir_;
    std::mutex mutex_;
    std::vector<ObjectChange> seen_;
    std::vector<std::string> documents_;
};

TEST_F(OutboxTest, RowsAreWrittenOnlyWhenTheObjectCommits) {
    auto store = open_with_router();
    ASSERT_TRUE(store->create_bucket("b", "eu-west-1").has_value());
    // No notification configuration yet: the router is not even asked.
    ASSERT_TRUE(put(*store, "a.jpg", "1", cause("ObjectCreated:Put")));
    EXPECT_TRUE(seen_.empty());
    EXPECT_TRUE(payloads(*store).empty());

    ASSERT_TRUE(store->put_bucket_config("b", "notification", kDocument).has_value());
    ASSERT_TRUE(put(*store, "a.jpg", "2", cause("ObjectCreated:Put")));
    EXPECT_EQ(payloads(*store), std::vector<std::string>{"ObjectCreated:Put b/a.jpg"});
    ASSERT_EQ(documents_.size(), 1u);
    EXPECT_EQ(documents_[0], kDocument);

    // A failed precondition commits nothing, so no event either.
    PutConditions create_only;
    create_only.if_none_match_any = true;
    auto refused = put(*store, "a.jpg", "3", cause("ObjectCreated:Put"), create_only);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::PreconditionFailed);
    // An internal write (no event name) records nothing.
    ASSERT_TRUE(put(*store, "internal.jpg", "4", {}));
    // A missing bucket: nothing.
    StringSource body("x");
    EXPECT_FALSE(store->put_object("nope", "k", body, {}, {}, {}, cause("ObjectCreated:Put")));
    EXPECT_EQ(payloads(*store).size(), 1u);
}

TEST_F(OutboxTest, TheRouterSeesTheWholeChange) {
    auto store = open_with_router();
    ASSERT_TRUE(store->create_bucket("b", "eu-west-1").has_value());
    ASSERT_TRUE(store->put_bucket_config("b", "notification", kDocument).has_value());
    std::int64_t before = now_ms();
    auto info = put(*store, "photos/cat.jpg", "hello", cause("ObjectCreated:Copy", "REQ9"));
    std::int64_t after = now_ms();
    ASSERT_TRUE(info);
    ASSERT_TRUE(put(*store, "photos/cat.jpg", "hello again", cause("ObjectCreated:Put")));
    ASSERT_EQ(seen_.size(), 2u);
    const ObjectChange& c = seen_[0];
    EXPECT_EQ(c.kind, ObjectChange::Kind::Created);
    EXPECT_EQ(c.bucket, "b");
    EXPECT_EQ(c.key, "photos/cat.jpg");
    EXPECT_EQ(c.size, 5u);
    EXPECT_EQ(c.etag, info->etag);
    EXPECT_EQ(c.region, "eu-west-1");
    EXPECT_EQ(c.cause.event_name, "ObjectCreated:Copy");
    EXPECT_EQ(c.cause.request_id, "REQ9");
    EXPECT_EQ(c.cause.host_id, "HOST1");
    EXPECT_EQ(c.cause.source_ip, "192.0.2.1");
    EXPECT_EQ(c.cause.principal_id, "AWS:AKIDEXAMPLE");
    EXPECT_EQ(c.cause.trace_id, "Root=1-00000001-000000000000000000000001");
    EXPECT_GE(c.event_time_ms, before);
    EXPECT_LE(c.event_time_ms, after);
    // The object's Last-Modified is the same instant in whole seconds.
    EXPECT_EQ(
        std::chrono::duration_cast<std::chrono::seconds>(info->last_modified.time_since_epoch())
            .count(),
        c.event_time_ms / 1000);
    // Fixed-width hex, larger for the later change of the key.
    EXPECT_EQ(c.sequencer.size(), 16u);
    EXPECT_EQ(seen_[1].sequencer.size(), c.sequencer.size());
    EXPECT_GT(seen_[1].sequencer, c.sequencer);

    auto rows = store->outbox_peek(0, 10);
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ((*rows)[0].target, "arn:aws:lambda:us-east-1:1:function:f");
    EXPECT_EQ((*rows)[0].trace_id, "Root=1-00000001-000000000000000000000001");
    EXPECT_EQ((*rows)[0].created_ms, c.event_time_ms);
    EXPECT_LT((*rows)[0].id, (*rows)[1].id);
}

TEST_F(OutboxTest, ARouterErrorFailsTheWriteAndCommitsNothing) {
    auto store = open_with_router();
    ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
    ASSERT_TRUE(put(*store, "fail.jpg", "old", {}));  // internal: the router is not asked
    ASSERT_TRUE(store->put_bucket_config("b", "notification", kDocument).has_value());
    auto failed = put(*store, "fail.jpg", "new", cause("ObjectCreated:Put"));
    ASSERT_FALSE(failed);
    EXPECT_NE(failed.error().message.find("router refused"), std::string::npos);
    // The old version is still there, untouched.
    auto reader = store->open_object("b", "fail.jpg");
    ASSERT_TRUE(reader);
    EXPECT_EQ(read_all(**reader), "old");
    EXPECT_FALSE(store->delete_object("b", "fail.jpg", cause("ObjectRemoved:Delete")));
    EXPECT_TRUE(store->head_object("b", "fail.jpg").has_value());
    EXPECT_TRUE(payloads(*store).empty());
    // The store is still healthy, and the refused body left no blob behind.
    ASSERT_TRUE(put(*store, "ok.jpg", "fine", cause("ObjectCreated:Put")));
    EXPECT_EQ(payloads(*store).size(), 1u);
    reader->reset();
    store.reset();
    auto reopened = DiskStore::open(options());
    ASSERT_TRUE(reopened);
    EXPECT_EQ((*reopened)->recovery_report().orphan_blobs, 0u);
}

TEST_F(OutboxTest, MultipartCompleteAndDeletesProduceRows) {
    auto store = open_with_router();
    ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
    ASSERT_TRUE(store->put_bucket_config("b", "notification", kDocument).has_value());
    auto upload = store->create_multipart("b", "big.bin", {});
    ASSERT_TRUE(upload);
    StringSource p1("part one "), p2("part two");
    auto e1 = store->upload_part("b", "big.bin", upload->upload_id, 1, p1, {});
    auto e2 = store->upload_part("b", "big.bin", upload->upload_id, 2, p2, {});
    ASSERT_TRUE(e1 && e2);
    EXPECT_TRUE(seen_.empty()) << "parts are not objects: no change, no event";
    auto done =
        store->complete_multipart("b", "big.bin", upload->upload_id, {{1, e1->etag}, {2, e2->etag}},
                                  {}, {}, cause("ObjectCreated:CompleteMultipartUpload"));
    ASSERT_TRUE(done);
    ASSERT_EQ(seen_.size(), 1u);
    EXPECT_EQ(seen_[0].size, 17u);
    EXPECT_EQ(seen_[0].etag, done->etag);
    EXPECT_TRUE(seen_[0].etag.ends_with("-2"));

    // DeleteObjects deletes key by key: one row per key removed, none for a key that was absent.
    ASSERT_TRUE(put(*store, "a", "1", {}));
    ASSERT_TRUE(put(*store, "c", "1", {}));
    for (const char* key : {"a", "absent", "c", "big.bin"}) {
        ASSERT_TRUE(store->delete_object("b", key, cause("ObjectRemoved:Delete")));
    }
    EXPECT_EQ(payloads(*store),
              (std::vector<std::string>{"ObjectCreated:CompleteMultipartUpload b/big.bin",
                                        "ObjectRemoved:Delete b/a", "ObjectRemoved:Delete b/c",
                                        "ObjectRemoved:Delete b/big.bin"}));
    const ObjectChange& removed = seen_.back();
    EXPECT_EQ(removed.kind, ObjectChange::Kind::Removed);
    EXPECT_EQ(removed.size, 17u) << "the size and ETag of what was removed";
    EXPECT_EQ(removed.etag, done->etag);
}

TEST_F(OutboxTest, RowsSurviveReopenAndIdsAreNeverReused) {
    std::int64_t last_id = 0;
    {
        auto store = open_with_router();
        ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
        ASSERT_TRUE(store->put_bucket_config("b", "notification", kDocument).has_value());
        ASSERT_TRUE(put(*store, "one", "1", cause("ObjectCreated:Put")));
        ASSERT_TRUE(put(*store, "two", "2", cause("ObjectCreated:Put")));
        auto rows = store->outbox_peek(0, 10);
        ASSERT_TRUE(rows);
        ASSERT_EQ(rows->size(), 2u);
        last_id = rows->back().id;
        // Remove the newest: a later row must not get its id again.
        ASSERT_EQ(*store->outbox_remove({last_id}), 1u);
    }
    auto store = open_with_router();
    EXPECT_EQ(payloads(*store), std::vector<std::string>{"ObjectCreated:Put b/one"});
    ASSERT_TRUE(put(*store, "three", "3", cause("ObjectCreated:Put")));
    auto rows = store->outbox_peek(0, 10);
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_GT(rows->back().id, last_id);
}

TEST_F(OutboxTest, PeekPagesAndRemoveDeletesOnlyWhatIsListed) {
    auto store = open_with_router();
    ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
    ASSERT_TRUE(store->put_bucket_config("b", "notification", kDocument).has_value());
    for (int i = 0; i < 7; ++i) {
        ASSERT_TRUE(put(*store, "k" + std::to_string(i), "x", cause("ObjectCreated:Put")));
    }
    auto first = store->outbox_peek(0, 3);
    ASSERT_TRUE(first);
    ASSERT_EQ(first->size(), 3u);
    auto second = store->outbox_peek(first->back().id, 3);
    ASSERT_TRUE(second);
    ASSERT_EQ(second->size(), 3u);
    EXPECT_EQ((*second)[0].payload, "ObjectCreated:Put b/k3");
    auto rest = store->outbox_peek(second->back().id, 3);
    ASSERT_TRUE(rest);
    EXPECT_EQ(rest->size(), 1u);
    EXPECT_TRUE(store->outbox_peek(0, 0)->empty());

    std::vector<std::int64_t> ids{(*first)[0].id, (*second)[1].id, 999999};
    auto removed = store->outbox_remove(ids);
    ASSERT_TRUE(removed);
    EXPECT_EQ(*removed, 2u) << "unknown ids are ignored";
    EXPECT_EQ(payloads(*store),
              (std::vector<std::string>{"ObjectCreated:Put b/k1", "ObjectCreated:Put b/k2",
                                        "ObjectCreated:Put b/k3", "ObjectCreated:Put b/k5",
                                        "ObjectCreated:Put b/k6"}));
    EXPECT_EQ(*store->outbox_remove({}), 0u);
    std::vector<std::int64_t> too_many(DiskStore::kMaxOutboxRemove + 1, 1);
    EXPECT_EQ(store->outbox_remove(too_many).error().code, ErrorCode::InvalidArgument);
}

TEST_F(OutboxTest, ListenerFiresAfterCommitsThatAddedRows) {
    auto store = open_with_router();
    std::atomic<int> calls{0};
    std::atomic<std::size_t> visible_when_called{0};
    DiskStore* raw = store.get();
    store->set_outbox_listener([&] {
        ++calls;
        // The rows are committed by the time the listener runs: a consumer woken now sees them.
        auto rows = raw->outbox_peek(0, 100);
        visible_when_called = rows ? rows->size() : 0;
    });
    ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
    ASSERT_TRUE(put(*store, "before-config", "x", cause("ObjectCreated:Put")));
    EXPECT_EQ(calls.load(), 0);
    ASSERT_TRUE(store->put_bucket_config("b", "notification", kDocument).has_value());
    EXPECT_EQ(calls.load(), 0);
    ASSERT_TRUE(put(*store, "one", "x", cause("ObjectCreated:Put")));
    EXPECT_EQ(calls.load(), 1);
    EXPECT_EQ(visible_when_called.load(), 1u);
    ASSERT_TRUE(put(*store, "internal", "x", {}));
    EXPECT_FALSE(put(*store, "fail", "x", cause("ObjectCreated:Put")));
    ASSERT_TRUE(store->delete_object("b", "absent", cause("ObjectRemoved:Delete")));
    EXPECT_EQ(calls.load(), 1) << "no rows added, no call";
    ASSERT_TRUE(store->delete_object("b", "one", cause("ObjectRemoved:Delete")));
    EXPECT_EQ(calls.load(), 2);
    EXPECT_EQ(visible_when_called.load(), 2u);
}

TEST_F(OutboxTest, ConcurrentWritesInOneBatchKeepTheirOwnRows) {
    // The commit thread lingers before each batch, so writes arriving meanwhile share one
    // transaction; the failing ones are rolled back to their savepoints alone.
    DiskStoreOptions o = options();
    std::atomic<int> batches{0};
    o.batch_observer = [&](std::size_t) {
        ++batches;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    };
    auto opened = DiskStore::open(o);
    ASSERT_TRUE(opened);
    auto& store = **opened;
    store.set_outbox_router(
        [](const ObjectChange& change, std::string_view) -> Result<std::vector<OutboxRow>> {
            if (change.key.starts_with("fail")) {
                return make_error(ErrorCode::Internal, "refused");
            }
            return std::vector<OutboxRow>{{"t", change.key, ""}};
        });
    ASSERT_TRUE(store.create_bucket("b", "us-east-1").has_value());
    ASSERT_TRUE(store.put_bucket_config("b", "notification", kDocument).has_value());
    std::vector<std::thread> threads;
    std::mutex m;
    std::set<std::string> committed;
    for (int i = 0; i < 16; ++i) {
        threads.emplace_back([&, i] {
            std::string key = (i % 4 == 0 ? "fail" : "ok") + std::to_string(i);
            if (put(store, key, "body", cause("ObjectCreated:Put"))) {
                std::lock_guard lock(m);
                committed.insert(key);
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(committed.size(), 12u);
    EXPECT_LT(batches.load(), 16 + 2) << "some writes shared a transaction";
    auto rows = payloads(store);
    EXPECT_EQ(std::set<std::string>(rows.begin(), rows.end()), committed);
    EXPECT_EQ(rows.size(), committed.size());
    for (const auto& key : committed) {
        EXPECT_TRUE(store.head_object("b", key).has_value()) << key;
    }
    for (int i = 0; i < 16; i += 4) {
        EXPECT_FALSE(store.head_object("b", "fail" + std::to_string(i)).has_value());
    }
}

TEST_F(OutboxTest, AnAcknowledgedWriteKeepsItsEventThroughACrash) {
    {
        auto store = open_with_router();
        ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
        ASSERT_TRUE(store->put_bucket_config("b", "notification", kDocument).has_value());
    }
    pid_t pid = ::fork();
    if (pid == 0) {
        auto store = DiskStore::open(options());
        if (!store) {
            ::_exit(2);
        }
        (*store)->set_outbox_router([](const ObjectChange& change, std::string_view) {
            return Result<std::vector<OutboxRow>>(
                std::vector<OutboxRow>{{"t", change.cause.event_name + " " + change.key, ""}});
        });
        StringSource body("acknowledged");
        auto put_result =
            (*store)->put_object("b", "crash.jpg", body, {}, {}, {}, cause("ObjectCreated:Put"));
        // kill -9 right after the acknowledgement: no destructor, no clean close.
        ::_exit(put_result ? 0 : 3);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
    auto store = open_with_router();
    EXPECT_TRUE(store->head_object("b", "crash.jpg").has_value());
    EXPECT_EQ(payloads(*store), std::vector<std::string>{"ObjectCreated:Put crash.jpg"});
}

TEST_F(OutboxTest, AnIndexFromSchemaOneGainsTheOutbox) {
    {
        auto store = open_with_router();
        ASSERT_TRUE(store->create_bucket("b", "us-east-1").has_value());
        ASSERT_TRUE(put(*store, "kept", "data", {}));
    }
    // What an index written before the outbox existed looks like.
    sql("DROP TABLE outbox; PRAGMA user_version=1;");
    {
        auto store = open_with_router();
        auto reader = store->open_object("b", "kept");
        ASSERT_TRUE(reader);
        EXPECT_EQ(read_all(**reader), "data");
        ASSERT_TRUE(store->put_bucket_config("b", "notification", kDocument).has_value());
        ASSERT_TRUE(put(*store, "new", "x", cause("ObjectCreated:Put")));
        EXPECT_EQ(payloads(*store), std::vector<std::string>{"ObjectCreated:Put b/new"});
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((options().root / "index.sqlite").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(stmt, 0), 2);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

}  // namespace
}  // namespace pf::storage::test
