// InvocationStore: the durable queue and dead letters, and that they survive reopening.
#include "lambda/invocation_store.h"
#include "support/temp_dir.h"

#include <gtest/gtest.h>

namespace pf::lambda {
namespace {

class InvocationStoreTest : public ::testing::Test {
protected:
    void SetUp() override { reopen(); }
    void reopen() {
        store_.reset();
        auto opened = InvocationStore::open(dir_.path() / "lambda" / "lambda.sqlite");
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(*opened);
    }
    static QueuedInvocation invocation(const std::string& id, const std::string& function,
                                       std::int64_t next_attempt_ms) {
        QueuedInvocation inv;
        inv.request_id = id;
        inv.function = function;
        inv.payload = std::string("{\"k\":\"\0\xff\"}", 10);
        inv.trace_id = "Root=1-a-b;Lineage=abcdef01:1";
        inv.enqueued_ms = 1000;
        inv.next_attempt_ms = next_attempt_ms;
        return inv;
    }

    test::TempDir dir_{"pf-lambda-store"};
    std::unique_ptr<InvocationStore> store_;
};

TEST_F(InvocationStoreTest, QueuedInvocationsSurviveReopenWithEveryByte) {
    ASSERT_TRUE(store_->enqueue(invocation("a", "photo", 5)));
    reopen();
    auto got = store_->get("a");
    ASSERT_TRUE(got);
    ASSERT_TRUE(got->has_value());
    const QueuedInvocation& inv = **got;
    EXPECT_EQ(inv.function, "photo");
    EXPECT_EQ(inv.payload, std::string("{\"k\":\"\0\xff\"}", 10));
    EXPECT_EQ(inv.trace_id, "Root=1-a-b;Lineage=abcdef01:1");
    EXPECT_EQ(inv.enqueued_ms, 1000);
    EXPECT_EQ(inv.attempts, 0);
    EXPECT_EQ(inv.next_attempt_ms, 5);
    EXPECT_FALSE(store_->get("nope")->has_value());
}

TEST_F(InvocationStoreTest, DuplicateRequestIdIsRefused) {
    ASSERT_TRUE(store_->enqueue(invocation("a", "photo", 5)));
    auto again = store_->enqueue(invocation("a", "photo", 5));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::AlreadyExists);
}

TEST_F(InvocationStoreTest, HeadsAreOrderedByDueTimeThenQueueOrderPerFunction) {
    ASSERT_TRUE(store_->enqueue(invocation("late", "photo", 300)));
    ASSERT_TRUE(store_->enqueue(invocation("early", "photo", 100)));
    ASSERT_TRUE(store_->enqueue(invocation("early2", "photo", 100)));
    ASSERT_TRUE(store_->enqueue(invocation("other", "video", 1)));
    auto heads = store_->heads("photo", 10);
    ASSERT_TRUE(heads);
    ASSERT_EQ(heads->size(), 3u);
    EXPECT_EQ((*heads)[0].request_id, "early");
    EXPECT_EQ((*heads)[1].request_id, "early2");
    EXPECT_EQ((*heads)[2].request_id, "late");
    EXPECT_EQ((*heads)[2].next_attempt_ms, 300);
    EXPECT_EQ(store_->heads("photo", 1)->size(), 1u);
    auto counts = store_->queued_counts();
    ASSERT_TRUE(counts);
    EXPECT_EQ((*counts)["photo"], 3u);
    EXPECT_EQ((*counts)["video"], 1u);
}

TEST_F(InvocationStoreTest, RescheduleAndComplete) {
    ASSERT_TRUE(store_->enqueue(invocation("a", "photo", 5)));
    ASSERT_TRUE(store_->reschedule("a", 1, 900, "Fake.Failure", "boom"));
    reopen();
    auto got = store_->get("a");
    ASSERT_TRUE(got && got->has_value());
    EXPECT_EQ((*got)->attempts, 1);
    EXPECT_EQ((*got)->next_attempt_ms, 900);
    EXPECT_EQ((*got)->last_error_type, "Fake.Failure");
    EXPECT_EQ((*got)->last_error_message, "boom");
    EXPECT_EQ(store_->reschedule("zz", 1, 1, "", "").error().code, ErrorCode::NotFound);
    EXPECT_TRUE(*store_->complete("a"));
    EXPECT_FALSE(*store_->complete("a"));
    EXPECT_TRUE(store_->heads("photo", 10)->empty());
}

TEST_F(InvocationStoreTest, DeadLetterLeavesTheQueueAndReplayBringsItBackFresh) {
    QueuedInvocation inv = invocation("a", "photo", 5);
    ASSERT_TRUE(store_->enqueue(inv));
    inv.attempts = 3;
    inv.last_error_type = "Fake.Failure";
    StoredDeadLetter letter{inv, "RetriesExhausted", 7000, "{\"version\":\"1.0\"}"};
    ASSERT_TRUE(store_->dead_letter(letter));
    ASSERT_TRUE(
        store_->dead_letter(StoredDeadLetter{invocation("b", "video", 1), "Rejected", 8000, "{}"}));
    EXPECT_TRUE(store_->heads("photo", 10)->empty());
    reopen();
    auto all = store_->dead_letters(std::nullopt, 10);
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0].invocation.request_id, "b");  // newest first
    EXPECT_EQ((*all)[1].condition, "RetriesExhausted");
    EXPECT_EQ((*all)[1].invocation.attempts, 3);
    EXPECT_EQ((*all)[1].record, "{\"version\":\"1.0\"}");
    EXPECT_EQ(store_->dead_letters(std::string("photo"), 10)->size(), 1u);

    auto replayed = store_->replay({"a", "missing"}, std::nullopt, 50'000);
    ASSERT_TRUE(replayed);
    EXPECT_EQ(*replayed, std::vector<std::string>{"photo"});
    auto back = store_->get("a");
    ASSERT_TRUE(back && back->has_value());
    EXPECT_EQ((*back)->attempts, 0);
    EXPECT_EQ((*back)->enqueued_ms, 50'000);
    EXPECT_EQ((*back)->next_attempt_ms, 50'000);
    EXPECT_EQ(store_->dead_letters(std::nullopt, 10)->size(), 1u);
    // Replaying everything of one function leaves the others alone.
    EXPECT_TRUE(store_->replay({}, std::string("photo"), 1)->empty());
    EXPECT_EQ(store_->replay({}, std::nullopt, 1)->size(), 1u);
    EXPECT_TRUE(store_->dead_letters(std::nullopt, 10)->empty());
}

}  // namespace
}  // namespace pf::lambda
