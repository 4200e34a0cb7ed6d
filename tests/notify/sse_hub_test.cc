#include "crypto/random.h"
#include "notify/fanout.h"
#include "notify/message_signer.h"
#include "notify/notify_store.h"
#include "notify/sse_hub.h"
#include "support/temp_dir.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pf::notify {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kTopic = "arn:aws:sns:us-east-1:000000000000:photos";
constexpr const char* kOtherTopic = "arn:aws:sns:us-east-1:000000000000:other";

SseLimits limits(std::size_t events = 256, std::size_t bytes = 1024 * 1024,
                 std::chrono::milliseconds heartbeat = 30s, std::size_t streams = 64) {
    SseLimits l;
    l.max_events = events;
    l.max_bytes = bytes;
    l.heartbeat = heartbeat;
    l.max_streams = streams;
    return l;
}

std::shared_ptr<SseStream> open_ok(SseHub& hub, SseScope scope, const std::string& arn) {
    auto stream = hub.open(scope, arn);
    EXPECT_TRUE(stream) << (stream ? "" : stream.error().message);
    return stream ? *stream : nullptr;
}

// Reads chunks until the stream is closed (heartbeats skipped), at most `limit` chunks.
std::string read_to_close(SseStream& stream, int limit = 1000) {
    std::string all;
    for (int i = 0; i < limit; ++i) {
        auto chunk = stream.next();
        if (!chunk.heartbeat)
            all += chunk.bytes;
        if (chunk.closed)
            return all;
    }
    ADD_FAILURE() << "stream did not close";
    return all;
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1))
        ++n;
    return n;
}

// ---- wire format --------------------------------------------------------------------------------

TEST(SseFormat, SingleLineEvent) {
    EXPECT_EQ(sse_event("m-1", "Notification", R"({"Type":"Notification"})"),
              "id: m-1\nevent: Notification\ndata: {\"Type\":\"Notification\"}\n\n");
}

TEST(SseFormat, MultiLineDataBecomesSeveralDataLines) {
    EXPECT_EQ(sse_event("1", "Notification", "first\nsecond\r\nthird\rfourth"),
              "id: 1\nevent: Notification\ndata: first\ndata: second\ndata: third\ndata: "
              "fourth\n\n");
    // A trailing line break is kept as an empty last data line (the reader's "\n"-join gives it
    // back); blank lines inside stay as empty data lines, never as an event terminator.
    EXPECT_EQ(sse_event("1", "e", "a\n\nb\n"),
              "id: 1\nevent: e\ndata: a\ndata: \ndata: b\ndata: \n\n");
    EXPECT_EQ(sse_event("1", "e", ""), "id: 1\nevent: e\ndata: \n\n");
    // Leading spaces survive: the reader strips exactly the one after "data:".
    EXPECT_EQ(sse_event("1", "e", " indented"), "id: 1\nevent: e\ndata:  indented\n\n");
}

TEST(SseFormat, IdAndEventCannotBreakTheFraming) {
    std::string id("a\nb\rc", 5);
    id += '\0';
    id += "d";
    EXPECT_EQ(sse_event(id, "x\ny", "z"), "id: abcd\nevent: xy\ndata: z\n\n");
}

TEST(SseFormat, Comments) {
    EXPECT_EQ(sse_comment("heartbeat"), ": heartbeat\n\n");
    EXPECT_EQ(sse_comment("one\ntwo"), ": one\n: two\n\n");
}

// ---- hub ---------------------------------------------------------------------------------------

TEST(SseHub, PublishReachesEveryStreamOfItsTopicOnly) {
    SseHub hub(limits(256, 1 << 20, 50ms));
    auto a = open_ok(hub, SseScope::Topic, kTopic);
    auto b = open_ok(hub, SseScope::Topic, kTopic);
    auto c = open_ok(hub, SseScope::Topic, kTopic);
    auto other = open_ok(hub, SseScope::Topic, kOtherTopic);
    // A subscription stream keyed by the same string is a different scope.
    auto same_string = open_ok(hub, SseScope::Subscription, kTopic);
    ASSERT_EQ(hub.stream_count(), 5u);
    EXPECT_TRUE(hub.has_streams(SseScope::Topic, kTopic));
    EXPECT_FALSE(hub.has_streams(SseScope::Topic, "arn:aws:sns:us-east-1:000000000000:none"));

    EXPECT_EQ(hub.publish(SseScope::Topic, kTopic, "m1", "Notification", "hello"), 3u);
    EXPECT_EQ(hub.publish(SseScope::Topic, kTopic, "m2", "Notification", "world"), 3u);
    std::string expected = "id: m1\nevent: Notification\ndata: hello\n\n"
                           "id: m2\nevent: Notification\ndata: world\n\n";
    for (const auto& stream : {a, b, c}) {
        auto chunk = stream->next();
        EXPECT_FALSE(chunk.heartbeat);
        EXPECT_FALSE(chunk.closed);
        EXPECT_EQ(chunk.bytes, expected);
    }
    for (const auto& stream : {other, same_string}) {
        auto chunk = stream->next();  // nothing for them: the heartbeat interval passes
        EXPECT_TRUE(chunk.heartbeat);
        EXPECT_EQ(chunk.bytes, ": heartbeat\n\n");
        EXPECT_FALSE(chunk.closed);
    }
}

TEST(SseHub, ReaderWakesAsSoonAsAnEventArrives) {
    SseHub hub(limits(256, 1 << 20, 60s));
    auto stream = open_ok(hub, SseScope::Topic, kTopic);
    std::string got;
    auto started = Clock::now();
    std::thread reader([&] { got = stream->next().bytes; });
    std::this_thread::sleep_for(50ms);
    hub.publish(SseScope::Topic, kTopic, "m1", "Notification", "x");
    reader.join();
    EXPECT_EQ(got, "id: m1\nevent: Notification\ndata: x\n\n");
    EXPECT_LT(Clock::now() - started, 10s);  // not the 60 s heartbeat
}

TEST(SseHub, FullBufferDropsTheStreamWithoutBlockingThePublisher) {
    SseHub hub(limits(4));
    auto slow = open_ok(hub, SseScope::Topic, kTopic);
    auto reading = open_ok(hub, SseScope::Topic, kTopic);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(
            hub.publish(SseScope::Topic, kTopic, "m" + std::to_string(i), "Notification", "x"), 2u);
        EXPECT_FALSE(reading->next().bytes.empty());  // this one keeps up
    }
    // The slow stream holds 4 events: the fifth drops it, the reading one still gets it.
    EXPECT_EQ(hub.publish(SseScope::Topic, kTopic, "m4", "Notification", "x"), 1u);
    EXPECT_EQ(hub.stream_count(), 1u);
    EXPECT_TRUE(slow->closed());
    EXPECT_EQ(slow->close_reason(), "slow reader");
    EXPECT_NE(reading->next().bytes.find("id: m4\n"), std::string::npos);

    // What the slow stream had stays readable, then the reason, then the end.
    auto chunk = slow->next();
    EXPECT_TRUE(chunk.closed);
    EXPECT_EQ(count_of(chunk.bytes, "event: Notification\n"), 4u);
    EXPECT_EQ(chunk.bytes.find("id: m4"), std::string::npos);
    EXPECT_NE(chunk.bytes.find("\n: closed: this client reads too slowly"), std::string::npos)
        << chunk.bytes;
    EXPECT_TRUE(chunk.bytes.ends_with("\n\n"));
    auto after = slow->next();
    EXPECT_TRUE(after.closed);
    EXPECT_TRUE(after.bytes.empty());

    // Later publishes do not touch it.
    EXPECT_EQ(hub.publish(SseScope::Topic, kTopic, "m5", "Notification", "x"), 1u);
    EXPECT_TRUE(slow->next().bytes.empty());
}

TEST(SseHub, ByteLimitDropsToo) {
    SseHub hub(limits(256, 1000));
    auto stream = open_ok(hub, SseScope::Topic, kTopic);
    std::string body(400, 'b');
    EXPECT_EQ(hub.publish(SseScope::Topic, kTopic, "1", "Notification", body), 1u);
    EXPECT_EQ(hub.publish(SseScope::Topic, kTopic, "2", "Notification", body), 1u);
    EXPECT_EQ(hub.publish(SseScope::Topic, kTopic, "3", "Notification", body), 0u);  // > 1000
    auto chunk = stream->next();
    EXPECT_TRUE(chunk.closed);
    EXPECT_EQ(count_of(chunk.bytes, "data: "), 2u);

    // One event larger than the limit still fits an empty buffer (else it could never be sent).
    auto fresh = open_ok(hub, SseScope::Topic, kTopic);
    EXPECT_EQ(hub.publish(SseScope::Topic, kTopic, "4", "Notification", std::string(5000, 'x')),
              1u);
    auto big = fresh->next();
    EXPECT_FALSE(big.closed);
    EXPECT_EQ(big.bytes.size(), sse_event("4", "Notification", std::string(5000, 'x')).size());
}

TEST(SseHub, NobodyReadingNeverSlowsPublishing) {
    // 2000 publishes to a topic with a stream nobody reads and one that is read in batches: the
    // unread one is dropped at its limit, the read one gets every event, and the publisher never
    // waits for either (it would deadlock here if it did: the unread stream is never read).
    SseHub hub(limits(256));
    auto unread = open_ok(hub, SseScope::Topic, kTopic);
    auto read = open_ok(hub, SseScope::Topic, kTopic);

    std::mutex mutex;
    std::condition_variable cv;
    std::size_t received = 0;
    std::thread reader([&] {
        for (;;) {
            auto chunk = read->next();
            std::size_t n = count_of(chunk.bytes, "event: Notification\n");
            {
                std::lock_guard lock(mutex);
                received += n;
            }
            cv.notify_all();
            if (chunk.closed)
                return;
        }
    });

    auto started = Clock::now();
    std::size_t published = 0;
    for (int batch = 0; batch < 20; ++batch) {
        for (int i = 0; i < 100; ++i) {
            hub.publish(SseScope::Topic, kTopic, std::to_string(published), "Notification",
                        std::string(100, 'x'));
            ++published;
        }
        // The test (not the hub) waits for the reading stream to catch up between batches, so the
        // read stream stays under its 256 events.
        std::unique_lock lock(mutex);
        if (!cv.wait_for(lock, 20s, [&] { return received == published; })) {
            ADD_FAILURE() << "the reader got " << received << " of " << published;
            break;
        }
    }
    auto elapsed = Clock::now() - started;
    EXPECT_TRUE(unread->closed());
    EXPECT_FALSE(read->closed());
    EXPECT_EQ(hub.stream_count(), 1u);
    EXPECT_LT(elapsed, 20s);

    auto dropped = read_to_close(*unread);
    EXPECT_EQ(count_of(dropped, "event: Notification\n"), 256u);

    hub.shutdown("test over");
    reader.join();
    EXPECT_EQ(received, 2000u);
}

TEST(SseHub, CloseEndsOnlyThatSubscriptionsStreams) {
    SseHub hub(limits(256, 1 << 20, 50ms));
    std::string sub = std::string(kTopic) + ":1111";
    std::string other_sub = std::string(kTopic) + ":2222";
    auto s1 = open_ok(hub, SseScope::Subscription, sub);
    auto s2 = open_ok(hub, SseScope::Subscription, sub);
    auto s3 = open_ok(hub, SseScope::Subscription, other_sub);
    hub.publish(SseScope::Subscription, sub, "m1", "Notification", "before");
    hub.close(SseScope::Subscription, sub, "unsubscribed");
    EXPECT_EQ(hub.stream_count(), 1u);
    EXPECT_FALSE(hub.has_streams(SseScope::Subscription, sub));
    for (const auto& stream : {s1, s2}) {
        auto chunk = stream->next();
        EXPECT_TRUE(chunk.closed);
        EXPECT_EQ(chunk.bytes,
                  "id: m1\nevent: Notification\ndata: before\n\n: closed: unsubscribed\n\n");
    }
    EXPECT_EQ(s1->close_reason(), "unsubscribed");
    EXPECT_EQ(s3->close_reason(), "");
    EXPECT_EQ(hub.publish(SseScope::Subscription, sub, "m2", "Notification", "after"), 0u);
    auto chunk = s3->next();
    EXPECT_TRUE(chunk.heartbeat);
    EXPECT_FALSE(chunk.closed);
}

TEST(SseHub, ShutdownWakesBlockedReadersAndRefusesNewStreams) {
    SseHub hub(limits(256, 1 << 20, 600s));
    std::vector<std::shared_ptr<SseStream>> streams;
    for (int i = 0; i < 3; ++i)
        streams.push_back(open_ok(hub, SseScope::Topic, kTopic));
    std::atomic<int> closed{0};
    std::vector<std::thread> readers;
    std::vector<std::string> got(streams.size());
    for (std::size_t i = 0; i < streams.size(); ++i) {
        readers.emplace_back([&, i] {
            got[i] = read_to_close(*streams[i]);
            ++closed;
        });
    }
    std::this_thread::sleep_for(50ms);  // the readers are blocked in next()
    EXPECT_EQ(closed.load(), 0);
    auto started = Clock::now();
    hub.shutdown("server stopping");
    for (auto& t : readers)
        t.join();
    EXPECT_LT(Clock::now() - started, 5s);  // not the 600 s heartbeat
    EXPECT_EQ(closed.load(), 3);
    for (const auto& text : got)
        EXPECT_EQ(text, ": closed: server stopping\n\n");
    EXPECT_EQ(hub.stream_count(), 0u);

    auto refused = hub.open(SseScope::Topic, kTopic);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::Unavailable);
    EXPECT_EQ(hub.publish(SseScope::Topic, kTopic, "m", "Notification", "x"), 0u);
}

TEST(SseHub, ReleaseUnregistersAndStreamLimitHolds) {
    SseHub hub(limits(256, 1 << 20, 30s, 2));
    auto a = open_ok(hub, SseScope::Topic, kTopic);
    auto b = open_ok(hub, SseScope::Topic, kTopic);
    auto third = hub.open(SseScope::Topic, kTopic);
    ASSERT_FALSE(third);
    EXPECT_EQ(third.error().code, ErrorCode::Unavailable);
    hub.release(a);
    hub.release(a);  // idempotent
    EXPECT_TRUE(a->closed());
    EXPECT_EQ(hub.stream_count(), 1u);
    EXPECT_TRUE(hub.open(SseScope::Topic, kTopic));
    hub.release(b);
    EXPECT_EQ(hub.publish(SseScope::Topic, kTopic, "m", "Notification", "x"), 1u);
}

// ---- the fan-out feeding the hub --------------------------------------------------------------

class SseFanoutTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto store = SqliteNotifyStore::open(dir_.path() / "notify.sqlite");
        ASSERT_TRUE(store) << store.error().message;
        store_ = std::move(*store);
        auto signer = MessageSigner::load_or_create(dir_.path(), "photoflux-sns-test");
        ASSERT_TRUE(signer) << signer.error().message;
        signer_ = std::make_unique<MessageSigner>(std::move(*signer));
        Fanout::Links links;
        links.signing_cert_url = [] { return std::string("http://127.0.0.1:9/_/sns/cert.pem"); };
        links.unsubscribe_url = [](const Subscription& s) {
            return "http://127.0.0.1:9/_/sns/unsubscribe?SubscriptionArn=" + s.arn;
        };
        fanout_ = std::make_unique<Fanout>(
            *store_, *signer_, links, [] {}, &hub_);

        topic_.name = "photos";
        topic_.arn = kTopic;
        ASSERT_TRUE(store_->create_topic(topic_));
    }

    Subscription add_sse(std::map<std::string, std::string> attributes) {
        Subscription s;
        s.arn = std::string(kTopic) + ":" + crypto::random_hex(8);
        s.topic_arn = kTopic;
        s.protocol = kProtocolSse;
        s.endpoint = "browser-" + crypto::random_hex(4);  // (topic, protocol, endpoint) is unique
        s.owner = "000000000000";
        s.attributes = std::move(attributes);
        s.pending = false;
        s.unsubscribe_token = crypto::random_hex(16);
        auto stored = store_->subscribe(s, std::nullopt);
        EXPECT_TRUE(stored && stored->created) << (stored ? "" : stored.error().message);
        return s;
    }

    PublishedMessage message(std::string id, std::string text, std::string kind) {
        PublishedMessage m;
        m.message_id = std::move(id);
        m.topic_arn = kTopic;
        m.message = std::move(text);
        m.timestamp = "2026-01-02T03:04:05.678Z";
        m.attributes.push_back(MessageAttribute{"kind", "String", std::move(kind), ""});
        return m;
    }

    test::TempDir dir_{"pf-sse-fanout"};
    SseHub hub_{limits(256, 1 << 20, 50ms)};
    std::unique_ptr<SqliteNotifyStore> store_;
    std::unique_ptr<MessageSigner> signer_;
    std::unique_ptr<Fanout> fanout_;
    Topic topic_;
};

// The data lines of the events in `bytes`, one string per event.
std::vector<std::string> event_data(const std::string& bytes) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while ((pos = bytes.find("data: ", pos)) != std::string::npos) {
        auto end = bytes.find('\n', pos);
        out.push_back(bytes.substr(pos + 6, end - pos - 6));
        pos = end;
    }
    return out;
}

TEST_F(SseFanoutTest, TopicStreamsGetTheNotificationJson) {
    auto stream = open_ok(hub_, SseScope::Topic, kTopic);
    ASSERT_TRUE(fanout_->publish(topic_, message("m-1", "line one\nline two", "processed")));
    auto chunk = stream->next();
    ASSERT_FALSE(chunk.heartbeat);
    EXPECT_TRUE(chunk.bytes.starts_with("id: m-1\nevent: Notification\ndata: {"));
    auto data = event_data(chunk.bytes);
    ASSERT_EQ(data.size(), 1u);  // the JSON is one line; its newline is escaped
    auto doc = nlohmann::json::parse(data[0]);
    EXPECT_EQ(doc["Type"], "Notification");
    EXPECT_EQ(doc["MessageId"], "m-1");
    EXPECT_EQ(doc["TopicArn"], kTopic);
    EXPECT_EQ(doc["Message"], "line one\nline two");
    EXPECT_EQ(doc["MessageAttributes"]["kind"]["Value"], "processed");
    EXPECT_FALSE(doc["Signature"].get<std::string>().empty());
}

TEST_F(SseFanoutTest, SubscriptionStreamsApplyFilterPolicyAndRawDelivery) {
    auto filtered = add_sse({{"FilterPolicy", R"({"kind":["processed"]})"}});
    auto raw = add_sse({{"RawMessageDelivery", "true"}});
    auto filtered_stream = open_ok(hub_, SseScope::Subscription, filtered.arn);
    auto raw_stream = open_ok(hub_, SseScope::Subscription, raw.arn);

    ASSERT_TRUE(fanout_->publish(topic_, message("m-1", "skip me", "failed")));
    ASSERT_TRUE(fanout_->publish(topic_, message("m-2", "take\nme", "processed")));

    auto chunk = filtered_stream->next();
    ASSERT_FALSE(chunk.heartbeat);
    EXPECT_EQ(chunk.bytes.find("id: m-1"), std::string::npos) << chunk.bytes;
    ASSERT_TRUE(chunk.bytes.starts_with("id: m-2\n")) << chunk.bytes;
    auto doc = nlohmann::json::parse(event_data(chunk.bytes).at(0));
    EXPECT_EQ(doc["Message"], "take\nme");
    EXPECT_EQ(doc["UnsubscribeURL"],
              "http://127.0.0.1:9/_/sns/unsubscribe?SubscriptionArn=" + filtered.arn);

    auto raw_chunk = raw_stream->next();
    EXPECT_EQ(raw_chunk.bytes, "id: m-1\nevent: Notification\ndata: skip me\n\n"
                               "id: m-2\nevent: Notification\ndata: take\ndata: me\n\n");
}

TEST_F(SseFanoutTest, UnsubscribeAndTopicDeletionCloseStreams) {
    auto a = add_sse({});
    auto b = add_sse({});
    auto sa = open_ok(hub_, SseScope::Subscription, a.arn);
    auto sb = open_ok(hub_, SseScope::Subscription, b.arn);
    auto topic_stream = open_ok(hub_, SseScope::Topic, kTopic);

    fanout_->on_unsubscribed(a, /*topic_deleted=*/false);
    EXPECT_EQ(read_to_close(*sa), ": closed: unsubscribed\n\n");
    EXPECT_FALSE(sb->closed());
    EXPECT_FALSE(topic_stream->closed());

    fanout_->on_unsubscribed(b, /*topic_deleted=*/true);
    EXPECT_EQ(read_to_close(*sb), ": closed: topic deleted\n\n");
    EXPECT_EQ(read_to_close(*topic_stream), ": closed: topic deleted\n\n");
    EXPECT_EQ(hub_.stream_count(), 0u);
}

}  // namespace
}  // namespace pf::notify
