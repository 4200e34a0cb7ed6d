// SqliteNotifyStore: topics, subscriptions and confirmation tokens, persistence across reopen, and
// the DeliveryQueue contract (enqueue / due / next_due / delivered / reschedule / dead letters /
// replay / drop_subscription).
#include "crypto/digest.h"
#include "crypto/random.h"
#include "notify/notify_store.h"
#include "storage/sqlite.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <thread>

namespace pf::notify {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTopicArn = "arn:aws:sns:us-east-1:000000000000:photos";

class NotifyStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("pf-notify-store-" + crypto::random_hex(8));
        path_ = dir_ / "notify" / "notify.sqlite";
        reopen();
    }
    void TearDown() override {
        store_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    void reopen() {
        store_.reset();
        auto opened = SqliteNotifyStore::open(path_);
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(*opened);
    }

    Topic topic(const std::string& name = "photos") {
        Topic t;
        t.name = name;
        t.arn = "arn:aws:sns:us-east-1:000000000000:" + name;
        t.attributes = {{"DisplayName", "Photos"}};
        t.tags = {{"team", "imaging"}, {"env", "test"}};
        t.created_ms = 1000;
        return t;
    }
    Subscription subscription(const std::string& endpoint, bool pending = true,
                              const std::string& topic_arn = kTopicArn) {
        Subscription s;
        s.arn = topic_arn + ":" + crypto::random_hex(8);
        s.topic_arn = topic_arn;
        s.protocol = "https";
        s.endpoint = endpoint;
        s.owner = "000000000000";
        s.pending = pending;
        s.unsubscribe_token = "unsub-" + endpoint;
        s.created_ms = 2000;
        s.confirmed_ms = pending ? 0 : 2000;
        return s;
    }
    static TokenGrant grant(const std::string& token, std::int64_t expires_ms) {
        return TokenGrant{crypto::sha256_hex(token), expires_ms};
    }
    static Delivery delivery(const std::string& id, const std::string& subscription_arn,
                             std::int64_t next_attempt_ms) {
        Delivery d;
        d.id = id;
        d.message_id = "msg-" + id;
        d.topic_arn = kTopicArn;
        d.subscription_arn = subscription_arn;
        d.protocol = "https";
        d.endpoint = "https://example.com/hook";
        d.message_type = "Notification";
        d.headers = {{"x-amz-sns-message-type", "Notification"},
                     {"Content-Type", "text/plain; charset=UTF-8"}};
        d.subject = "subject " + id;
        d.body = std::string("{\"Message\":\"\0\xff bytes\"}", 22);
        d.created_ms = 500;
        d.next_attempt_ms = next_attempt_ms;
        return d;
    }
    std::vector<std::string> ids(const std::vector<Delivery>& deliveries) {
        std::vector<std::string> out;
        for (const auto& d : deliveries) {
            out.push_back(d.id);
        }
        return out;
    }

    fs::path dir_;
    fs::path path_;
    std::unique_ptr<SqliteNotifyStore> store_;
};

TEST_F(NotifyStoreTest, CreatesDirectoryAndFile) {
    EXPECT_TRUE(fs::exists(path_));
}

TEST_F(NotifyStoreTest, CreateTopicIsIdempotentAndReturnsStoredTopic) {
    auto first = store_->create_topic(topic());
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->created);
    EXPECT_GT(first->topic.seq, 0);

    Topic other = topic();
    other.attributes = {{"DisplayName", "Different"}};
    auto second = store_->create_topic(other);
    ASSERT_TRUE(second);
    EXPECT_FALSE(second->created);
    EXPECT_EQ(second->topic.attributes.at("DisplayName"), "Photos");
    EXPECT_EQ(second->topic.seq, first->topic.seq);
}

TEST_F(NotifyStoreTest, TopicsAndSubscriptionsSurviveReopen) {
    ASSERT_TRUE(store_->create_topic(topic()));
    Subscription s = subscription("https://example.com/a");
    s.attributes = {{"RawMessageDelivery", "true"}, {"FilterPolicy", "{\"k\":[\"v\"]}"}};
    ASSERT_TRUE(store_->subscribe(s, grant("token-1", 10'000)));
    reopen();

    auto t = store_->get_topic(kTopicArn);
    ASSERT_TRUE(t);
    ASSERT_TRUE(t->has_value());
    EXPECT_EQ((*t)->name, "photos");
    EXPECT_EQ((*t)->attributes.at("DisplayName"), "Photos");
    ASSERT_EQ((*t)->tags.size(), 2u);
    EXPECT_EQ((*t)->tags[0], (std::pair<std::string, std::string>{"team", "imaging"}));
    EXPECT_EQ((*t)->created_ms, 1000);

    auto got = store_->get_subscription(s.arn);
    ASSERT_TRUE(got);
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ((*got)->endpoint, "https://example.com/a");
    EXPECT_TRUE((*got)->pending);
    EXPECT_TRUE((*got)->raw_message_delivery());
    EXPECT_EQ((*got)->attributes.at("FilterPolicy"), "{\"k\":[\"v\"]}");
    EXPECT_EQ((*got)->unsubscribe_token, "unsub-https://example.com/a");

    // The token survived too.
    auto confirmed =
        store_->confirm({kTopicArn, crypto::sha256_hex("token-1"), 5'000, false, false});
    ASSERT_TRUE(confirmed) << confirmed.error().message;
    EXPECT_TRUE(confirmed->newly_confirmed);
}

TEST_F(NotifyStoreTest, RefusesNewerSchema) {
    store_.reset();
    {
        auto db = storage::Database::open(path_, false);
        ASSERT_TRUE(db);
        ASSERT_TRUE((*db)->exec("PRAGMA user_version=99"));
    }
    auto opened = SqliteNotifyStore::open(path_);
    ASSERT_FALSE(opened);
    EXPECT_NE(opened.error().message.find("newer"), std::string::npos);
}

TEST_F(NotifyStoreTest, ListTopicsPagesInCreationOrder) {
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(store_->create_topic(topic("t" + std::to_string(i))));
    }
    auto first = store_->list_topics(0, 2);
    ASSERT_TRUE(first);
    ASSERT_EQ(first->items.size(), 2u);
    EXPECT_EQ(first->items[0].name, "t0");
    ASSERT_TRUE(first->next_after);
    auto second = store_->list_topics(*first->next_after, 2);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->items[0].name, "t2");
    auto third = store_->list_topics(*second->next_after, 2);
    ASSERT_TRUE(third);
    ASSERT_EQ(third->items.size(), 1u);
    EXPECT_EQ(third->items[0].name, "t4");
    EXPECT_FALSE(third->next_after);
    // Exactly a page: no next page.
    auto all = store_->list_topics(0, 5);
    ASSERT_TRUE(all);
    EXPECT_EQ(all->items.size(), 5u);
    EXPECT_FALSE(all->next_after);
}

TEST_F(NotifyStoreTest, SetTopicAttributeSetsRemovesAndRequiresTopic) {
    ASSERT_TRUE(store_->create_topic(topic()));
    ASSERT_TRUE(store_->set_topic_attribute(kTopicArn, "DeliveryPolicy", std::string("{}")));
    ASSERT_TRUE(store_->set_topic_attribute(kTopicArn, "DisplayName", std::nullopt));
    auto t = store_->get_topic(kTopicArn);
    ASSERT_TRUE(t && *t);
    EXPECT_EQ((*t)->attributes.count("DisplayName"), 0u);
    EXPECT_EQ((*t)->attributes.at("DeliveryPolicy"), "{}");
    auto missing =
        store_->set_topic_attribute(kTopicArn + std::string("x"), "DisplayName", std::string("a"));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
}

TEST_F(NotifyStoreTest, SubscribeRequiresTopicAndIsIdempotentPerEndpoint) {
    auto orphan = store_->subscribe(subscription("https://x"), std::nullopt);
    ASSERT_FALSE(orphan);
    EXPECT_EQ(orphan.error().code, ErrorCode::NotFound);

    ASSERT_TRUE(store_->create_topic(topic()));
    auto first = store_->subscribe(subscription("https://x"), grant("a", 10'000));
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->created);
    auto again = store_->subscribe(subscription("https://x"), grant("b", 10'000));
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->created);
    EXPECT_EQ(again->subscription.arn, first->subscription.arn);
    // Both tokens confirm the one subscription.
    auto by_b = store_->confirm({kTopicArn, crypto::sha256_hex("b"), 1, false, false});
    ASSERT_TRUE(by_b);
    EXPECT_EQ(by_b->subscription.arn, first->subscription.arn);
    auto by_a = store_->confirm({kTopicArn, crypto::sha256_hex("a"), 1, false, false});
    ASSERT_TRUE(by_a);
    EXPECT_FALSE(by_a->newly_confirmed);
}

TEST_F(NotifyStoreTest, ConfirmChecksTokenExpiryAndTopic) {
    ASSERT_TRUE(store_->create_topic(topic()));
    ASSERT_TRUE(store_->create_topic(topic("other")));
    auto sub = store_->subscribe(subscription("https://x"), grant("tok", 1'000));
    ASSERT_TRUE(sub);

    auto wrong = store_->confirm({kTopicArn, crypto::sha256_hex("nope"), 10, false, false});
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code, ErrorCode::InvalidArgument);

    auto other_topic = store_->confirm(
        {"arn:aws:sns:us-east-1:000000000000:other", crypto::sha256_hex("tok"), 10, false, false});
    ASSERT_FALSE(other_topic);
    EXPECT_EQ(other_topic.error().code, ErrorCode::InvalidArgument);

    auto no_topic = store_->confirm(
        {"arn:aws:sns:us-east-1:000000000000:gone", crypto::sha256_hex("tok"), 10, false, false});
    ASSERT_FALSE(no_topic);
    EXPECT_EQ(no_topic.error().code, ErrorCode::NotFound);

    auto expired = store_->confirm({kTopicArn, crypto::sha256_hex("tok"), 1'000, false, false});
    ASSERT_FALSE(expired);
    EXPECT_EQ(expired.error().code, ErrorCode::InvalidArgument);

    auto ok = store_->confirm({kTopicArn, crypto::sha256_hex("tok"), 999, true, true});
    ASSERT_TRUE(ok);
    EXPECT_TRUE(ok->newly_confirmed);
    EXPECT_FALSE(ok->subscription.pending);
    EXPECT_TRUE(ok->subscription.confirmation_authenticated);
    EXPECT_TRUE(ok->subscription.authenticate_on_unsubscribe);
    EXPECT_EQ(ok->subscription.confirmed_ms, 999);

    auto counts = store_->subscription_counts(kTopicArn);
    ASSERT_TRUE(counts);
    EXPECT_EQ(counts->confirmed, 1);
    EXPECT_EQ(counts->pending, 0);
    auto confirmed = store_->confirmed_subscriptions(kTopicArn);
    ASSERT_TRUE(confirmed);
    ASSERT_EQ(confirmed->size(), 1u);
}

TEST_F(NotifyStoreTest, ConfirmedByConfigSubscriptionIsStoredConfirmed) {
    ASSERT_TRUE(store_->create_topic(topic()));
    Subscription s = subscription("https://config", /*pending=*/false);
    s.confirmed_by_config = true;
    auto out = store_->subscribe(s, grant("unused", 10));
    ASSERT_TRUE(out);
    EXPECT_TRUE(out->subscription.confirmed_by_config);
    EXPECT_FALSE(out->subscription.pending);
    // No token was attached to a confirmed subscription.
    auto confirm = store_->confirm({kTopicArn, crypto::sha256_hex("unused"), 1, false, false});
    EXPECT_FALSE(confirm);
}

TEST_F(NotifyStoreTest, ListSubscriptionsAllAndByTopicPage) {
    ASSERT_TRUE(store_->create_topic(topic()));
    ASSERT_TRUE(store_->create_topic(topic("other")));
    const std::string other = "arn:aws:sns:us-east-1:000000000000:other";
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(
            store_->subscribe(subscription("https://a/" + std::to_string(i)), std::nullopt));
        ASSERT_TRUE(store_->subscribe(subscription("https://b/" + std::to_string(i), true, other),
                                      std::nullopt));
    }
    auto all = store_->list_subscriptions(std::nullopt, 0, 4);
    ASSERT_TRUE(all);
    EXPECT_EQ(all->items.size(), 4u);
    ASSERT_TRUE(all->next_after);
    auto rest = store_->list_subscriptions(std::nullopt, *all->next_after, 4);
    ASSERT_TRUE(rest);
    EXPECT_EQ(rest->items.size(), 2u);
    EXPECT_FALSE(rest->next_after);

    auto by_topic = store_->list_subscriptions(std::string(kTopicArn), 0, 2);
    ASSERT_TRUE(by_topic);
    ASSERT_EQ(by_topic->items.size(), 2u);
    EXPECT_EQ(by_topic->items[0].endpoint, "https://a/0");
    auto by_topic2 = store_->list_subscriptions(std::string(kTopicArn), *by_topic->next_after, 2);
    ASSERT_TRUE(by_topic2);
    ASSERT_EQ(by_topic2->items.size(), 1u);
    EXPECT_EQ(by_topic2->items[0].endpoint, "https://a/2");
    EXPECT_FALSE(by_topic2->next_after);
}

TEST_F(NotifyStoreTest, SetSubscriptionAttribute) {
    ASSERT_TRUE(store_->create_topic(topic()));
    Subscription s = subscription("https://x");
    ASSERT_TRUE(store_->subscribe(s, std::nullopt));
    ASSERT_TRUE(
        store_->set_subscription_attribute(s.arn, "RawMessageDelivery", std::string("true")));
    auto got = store_->get_subscription(s.arn);
    ASSERT_TRUE(got && *got);
    EXPECT_TRUE((*got)->raw_message_delivery());
    ASSERT_TRUE(store_->set_subscription_attribute(s.arn, "RawMessageDelivery", std::nullopt));
    got = store_->get_subscription(s.arn);
    EXPECT_FALSE((*got)->raw_message_delivery());
    auto missing =
        store_->set_subscription_attribute(s.arn + "x", "RawMessageDelivery", std::string("true"));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
}

TEST_F(NotifyStoreTest, DeleteSubscriptionCountsAndDropsQueuedDeliveries) {
    ASSERT_TRUE(store_->create_topic(topic()));
    Subscription s = subscription("https://x", false);
    ASSERT_TRUE(store_->subscribe(s, std::nullopt));
    ASSERT_TRUE(store_->enqueue({delivery("d1", s.arn, 0), delivery("d2", "other-sub", 0)}));
    ASSERT_TRUE(store_->dead_letter("d1", 4, 10, "HTTP 500"));
    ASSERT_TRUE(store_->enqueue({delivery("d3", s.arn, 0)}));

    auto removed = store_->delete_subscription(s.arn);
    ASSERT_TRUE(removed);
    ASSERT_TRUE(removed->has_value());
    EXPECT_EQ((*removed)->arn, s.arn);
    auto again = store_->delete_subscription(s.arn);
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->has_value());

    auto counts = store_->subscription_counts(kTopicArn);
    ASSERT_TRUE(counts);
    EXPECT_EQ(counts->deleted, 1);
    EXPECT_EQ(counts->confirmed, 0);
    auto due = store_->due(100, 10, {});
    ASSERT_TRUE(due);
    EXPECT_EQ(ids(*due), (std::vector<std::string>{"d2"}));
    // Dead letters are kept.
    auto dead = store_->dead_letters(s.arn, 10);
    ASSERT_TRUE(dead);
    EXPECT_EQ(dead->size(), 1u);
}

TEST_F(NotifyStoreTest, DeleteTopicRemovesItsSubscriptions) {
    ASSERT_TRUE(store_->create_topic(topic()));
    ASSERT_TRUE(store_->create_topic(topic("keep")));
    Subscription a = subscription("https://a");
    Subscription b = subscription("https://b", true, "arn:aws:sns:us-east-1:000000000000:keep");
    ASSERT_TRUE(store_->subscribe(a, grant("ta", 100)));
    ASSERT_TRUE(store_->subscribe(b, std::nullopt));
    ASSERT_TRUE(store_->enqueue({delivery("d1", a.arn, 0)}));

    auto removed = store_->delete_topic(kTopicArn);
    ASSERT_TRUE(removed);
    ASSERT_TRUE(removed->has_value());
    ASSERT_EQ((*removed)->size(), 1u);
    EXPECT_EQ((**removed)[0].arn, a.arn);
    auto t = store_->get_topic(kTopicArn);
    ASSERT_TRUE(t);
    EXPECT_FALSE(t->has_value());
    auto sub = store_->get_subscription(a.arn);
    ASSERT_TRUE(sub);
    EXPECT_FALSE(sub->has_value());
    auto kept = store_->get_subscription(b.arn);
    ASSERT_TRUE(kept && *kept);
    auto q = store_->queued_count();
    ASSERT_TRUE(q);
    EXPECT_EQ(*q, 0u);
    auto none = store_->delete_topic(kTopicArn);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
}

TEST_F(NotifyStoreTest, PurgeExpiredDropsUnconfirmableSubscriptions) {
    ASSERT_TRUE(store_->create_topic(topic()));
    Subscription stale = subscription("https://stale");
    Subscription fresh = subscription("https://fresh");
    Subscription confirmed = subscription("https://confirmed", false);
    ASSERT_TRUE(store_->subscribe(stale, grant("old", 100)));
    ASSERT_TRUE(store_->subscribe(fresh, grant("new", 10'000)));
    ASSERT_TRUE(store_->subscribe(confirmed, std::nullopt));
    auto purged = store_->purge_expired(5'000);
    ASSERT_TRUE(purged);
    ASSERT_EQ(purged->size(), 1u);
    EXPECT_EQ((*purged)[0].arn, stale.arn);
    auto left = store_->list_subscriptions(std::nullopt, 0, 10);
    ASSERT_TRUE(left);
    EXPECT_EQ(left->items.size(), 2u);
}

// --- DeliveryQueue contract ---

TEST_F(NotifyStoreTest, EnqueueThenDueInNextAttemptOrderRespectingLimitAndExcluding) {
    ASSERT_TRUE(store_->enqueue({delivery("late", "s", 300), delivery("early", "s", 100),
                                 delivery("mid", "s", 200), delivery("future", "s", 900)}));
    auto due = store_->due(500, 10, {});
    ASSERT_TRUE(due);
    EXPECT_EQ(ids(*due), (std::vector<std::string>{"early", "mid", "late"}));

    auto limited = store_->due(500, 2, {});
    ASSERT_TRUE(limited);
    EXPECT_EQ(ids(*limited), (std::vector<std::string>{"early", "mid"}));

    auto excluding = store_->due(500, 2, {"early", "mid"});
    ASSERT_TRUE(excluding);
    EXPECT_EQ(ids(*excluding), (std::vector<std::string>{"late"}));

    auto none = store_->due(50, 10, {});
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());

    auto zero = store_->due(500, 0, {});
    ASSERT_TRUE(zero);
    EXPECT_TRUE(zero->empty());
}

TEST_F(NotifyStoreTest, DeliveryRoundTripsEveryField) {
    Delivery d = delivery("d1", "sub-1", 42);
    d.attempts = 2;
    d.last_error = "HTTP 503";
    ASSERT_TRUE(store_->enqueue({d}));
    reopen();
    auto due = store_->due(42, 1, {});
    ASSERT_TRUE(due);
    ASSERT_EQ(due->size(), 1u);
    const Delivery& got = (*due)[0];
    EXPECT_EQ(got.id, d.id);
    EXPECT_EQ(got.message_id, d.message_id);
    EXPECT_EQ(got.topic_arn, d.topic_arn);
    EXPECT_EQ(got.subscription_arn, d.subscription_arn);
    EXPECT_EQ(got.protocol, d.protocol);
    EXPECT_EQ(got.endpoint, d.endpoint);
    EXPECT_EQ(got.message_type, d.message_type);
    EXPECT_EQ(got.headers, d.headers);
    EXPECT_EQ(got.subject, d.subject);
    EXPECT_EQ(got.body, d.body);  // binary bytes intact
    EXPECT_EQ(got.created_ms, d.created_ms);
    EXPECT_EQ(got.next_attempt_ms, 42);
    EXPECT_EQ(got.attempts, 2);
    EXPECT_EQ(got.last_error, "HTTP 503");
}

TEST_F(NotifyStoreTest, EnqueueIsAllOrNothing) {
    ASSERT_TRUE(store_->enqueue({delivery("dup", "s", 0)}));
    auto r = store_->enqueue({delivery("new", "s", 0), delivery("dup", "s", 0)});
    EXPECT_FALSE(r);
    auto q = store_->queued_count();
    ASSERT_TRUE(q);
    EXPECT_EQ(*q, 1u);
}

TEST_F(NotifyStoreTest, NextDueIsTheEarliest) {
    auto empty = store_->next_due_ms();
    ASSERT_TRUE(empty);
    EXPECT_FALSE(empty->has_value());
    ASSERT_TRUE(store_->enqueue({delivery("a", "s", 700), delivery("b", "s", 300)}));
    auto next = store_->next_due_ms();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->value_or(-1), 300);
}

TEST_F(NotifyStoreTest, DeliveredRemovesAndRescheduleUpdates) {
    ASSERT_TRUE(store_->enqueue({delivery("a", "s", 100), delivery("b", "s", 100)}));
    ASSERT_TRUE(store_->delivered("a"));
    ASSERT_TRUE(store_->delivered("a"));  // gone already: not an error
    ASSERT_TRUE(store_->reschedule("b", 1, 5'000, "HTTP 502"));
    auto due_now = store_->due(100, 10, {});
    ASSERT_TRUE(due_now);
    EXPECT_TRUE(due_now->empty());
    auto next = store_->next_due_ms();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->value_or(-1), 5'000);
    auto later = store_->due(5'000, 10, {});
    ASSERT_TRUE(later);
    ASSERT_EQ(later->size(), 1u);
    EXPECT_EQ((*later)[0].attempts, 1);
    EXPECT_EQ((*later)[0].last_error, "HTTP 502");
}

TEST_F(NotifyStoreTest, DeadLetterMovesAndListsNewestFirst) {
    ASSERT_TRUE(
        store_->enqueue({delivery("a", "s1", 0), delivery("b", "s2", 0), delivery("c", "s1", 0)}));
    ASSERT_TRUE(store_->dead_letter("a", 4, 100, "policy exhausted"));
    ASSERT_TRUE(store_->dead_letter("b", 1, 200, "permanent: 403 destination refused"));
    ASSERT_TRUE(store_->dead_letter("c", 4, 300, "policy exhausted"));
    auto queued = store_->queued_count();
    ASSERT_TRUE(queued);
    EXPECT_EQ(*queued, 0u);

    auto all = store_->dead_letters(std::nullopt, 10);
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 3u);
    EXPECT_EQ((*all)[0].delivery.id, "c");
    EXPECT_EQ((*all)[2].delivery.id, "a");
    EXPECT_EQ((*all)[0].dead_at_ms, 300);
    EXPECT_EQ((*all)[0].reason, "policy exhausted");
    EXPECT_EQ((*all)[0].delivery.attempts, 4);
    EXPECT_EQ((*all)[0].delivery.body, delivery("c", "s1", 0).body);

    auto s1 = store_->dead_letters(std::string("s1"), 10);
    ASSERT_TRUE(s1);
    ASSERT_EQ(s1->size(), 2u);
    EXPECT_EQ((*s1)[0].delivery.id, "c");
    auto limited = store_->dead_letters(std::nullopt, 1);
    ASSERT_TRUE(limited);
    EXPECT_EQ(limited->size(), 1u);

    reopen();
    auto persisted = store_->dead_letters(std::nullopt, 10);
    ASSERT_TRUE(persisted);
    EXPECT_EQ(persisted->size(), 3u);
}

TEST_F(NotifyStoreTest, ReplayByIdsBySubscriptionAndAll) {
    ASSERT_TRUE(store_->enqueue({delivery("a", "s1", 0), delivery("b", "s2", 0),
                                 delivery("c", "s1", 0), delivery("d", "s3", 0)}));
    for (const char* id : {"a", "b", "c", "d"}) {
        ASSERT_TRUE(store_->reschedule(id, 3, 10, "HTTP 500"));
        ASSERT_TRUE(store_->dead_letter(id, 4, 100, "exhausted"));
    }
    auto by_id = store_->replay({"b", "missing"}, std::nullopt, 1'000);
    ASSERT_TRUE(by_id);
    EXPECT_EQ(*by_id, 1u);
    auto due = store_->due(1'000, 10, {});
    ASSERT_TRUE(due);
    ASSERT_EQ(ids(*due), (std::vector<std::string>{"b"}));
    EXPECT_EQ((*due)[0].attempts, 0);
    EXPECT_EQ((*due)[0].next_attempt_ms, 1'000);

    auto by_sub = store_->replay({}, std::string("s1"), 2'000);
    ASSERT_TRUE(by_sub);
    EXPECT_EQ(*by_sub, 2u);
    auto rest = store_->dead_letters(std::nullopt, 10);
    ASSERT_TRUE(rest);
    ASSERT_EQ(rest->size(), 1u);
    EXPECT_EQ((*rest)[0].delivery.id, "d");

    auto all = store_->replay({}, std::nullopt, 3'000);
    ASSERT_TRUE(all);
    EXPECT_EQ(*all, 1u);
    auto q = store_->queued_count();
    ASSERT_TRUE(q);
    EXPECT_EQ(*q, 4u);
    auto again = store_->replay({"a"}, std::nullopt, 3'000);
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, 0u);
}

TEST_F(NotifyStoreTest, DropSubscriptionRemovesOnlyItsQueuedDeliveries) {
    ASSERT_TRUE(
        store_->enqueue({delivery("a", "s1", 0), delivery("b", "s2", 0), delivery("c", "s1", 0)}));
    ASSERT_TRUE(store_->dead_letter("c", 1, 10, "x"));
    ASSERT_TRUE(store_->drop_subscription("s1"));
    auto due = store_->due(100, 10, {});
    ASSERT_TRUE(due);
    EXPECT_EQ(ids(*due), (std::vector<std::string>{"b"}));
    auto dead = store_->dead_letters(std::string("s1"), 10);
    ASSERT_TRUE(dead);
    EXPECT_EQ(dead->size(), 1u);
}

TEST_F(NotifyStoreTest, QueueSurvivesReopen) {
    ASSERT_TRUE(store_->enqueue({delivery("a", "s", 10), delivery("b", "s", 20)}));
    ASSERT_TRUE(store_->delivered("a"));
    reopen();
    auto due = store_->due(100, 10, {});
    ASSERT_TRUE(due);
    EXPECT_EQ(ids(*due), (std::vector<std::string>{"b"}));
}

TEST_F(NotifyStoreTest, ConcurrentWritersAndReaders) {
    ASSERT_TRUE(store_->create_topic(topic()));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 25; ++i) {
                std::string id = std::to_string(t) + "-" + std::to_string(i);
                EXPECT_TRUE(store_->enqueue({delivery(id, "s", i)}));
                EXPECT_TRUE(store_->due(1'000, 5, {}));
                EXPECT_TRUE(store_->get_topic(kTopicArn));
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    auto q = store_->queued_count();
    ASSERT_TRUE(q);
    EXPECT_EQ(*q, 100u);
}

}  // namespace
}  // namespace pf::notify
