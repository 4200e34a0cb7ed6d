#include "notify/dispatcher.h"
#include "notify/memory_delivery_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pf::notify {
namespace {

using std::chrono::milliseconds;
using test::ManualClock;
using test::MemoryDeliveryQueue;

constexpr auto kWait = std::chrono::seconds(10);

// Blocks callers until opened (or until a generous timeout, so a broken test fails instead of
// hanging).
class Gate {
public:
    void wait() {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, kWait, [&] { return open_; });
    }
    void open() {
        {
            std::lock_guard lock(mutex_);
            open_ = true;
        }
        cv_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool open_ = false;
};

// A Transport that records every attempt and answers with a handler (Delivered by default).
class FakeTransport final : public Transport {
public:
    struct Call {
        std::string id;
        std::string message_id;
        std::string endpoint;
        int attempts = 0;        // the delivery's attempts before this one
        std::int64_t at_ms = 0;  // the test clock when attempted
    };
    using Handler = std::function<AttemptResult(const Delivery&)>;

    explicit FakeTransport(const Clock& clock) : clock_(clock) {}

    void set_handler(Handler handler) {
        std::lock_guard lock(mutex_);
        handler_ = std::move(handler);
    }

    AttemptResult attempt(const Delivery& delivery, milliseconds timeout) override {
        Handler handler;
        const std::string key = endpoint_key(delivery);
        {
            std::lock_guard lock(mutex_);
            EXPECT_EQ(timeout, milliseconds(15'000));
            calls_.push_back(Call{delivery.id, delivery.message_id, delivery.endpoint,
                                  delivery.attempts, clock_.now_ms()});
            max_per_endpoint_[key] = std::max(max_per_endpoint_[key], ++running_per_endpoint_[key]);
            max_per_delivery_[delivery.id] =
                std::max(max_per_delivery_[delivery.id], ++running_per_delivery_[delivery.id]);
            handler = handler_;
            changed();
        }
        AttemptResult result =
            handler ? handler(delivery) : AttemptResult{Outcome::Delivered, "HTTP 200"};
        {
            std::lock_guard lock(mutex_);
            --running_per_endpoint_[key];
            --running_per_delivery_[delivery.id];
            ++finished_;
            changed();
        }
        return result;
    }

    std::vector<Call> calls() const {
        std::lock_guard lock(mutex_);
        return calls_;
    }
    std::vector<Call> calls_to(const std::string& endpoint) const {
        std::vector<Call> out;
        for (const Call& c : calls()) {
            if (c.endpoint == endpoint) {
                out.push_back(c);
            }
        }
        return out;
    }
    int running(const std::string& key) const {
        std::lock_guard lock(mutex_);
        auto it = running_per_endpoint_.find(key);
        return it == running_per_endpoint_.end() ? 0 : it->second;
    }
    int max_running(const std::string& key) const {
        std::lock_guard lock(mutex_);
        auto it = max_per_endpoint_.find(key);
        return it == max_per_endpoint_.end() ? 0 : it->second;
    }
    int max_running_of_any_delivery() const {
        std::lock_guard lock(mutex_);
        int most = 0;
        for (const auto& [id, n] : max_per_delivery_) {
            most = std::max(most, n);
        }
        return most;
    }

    bool wait_until(const std::function<bool()>& predicate) const {
        const auto deadline = std::chrono::steady_clock::now() + kWait;
        while (true) {
            std::uint64_t seen = 0;
            {
                std::lock_guard lock(mutex_);
                seen = version_;
            }
            if (predicate()) {
                return true;
            }
            std::unique_lock lock(mutex_);
            if (!cv_.wait_until(lock, deadline, [&] { return version_ != seen; })) {
                lock.unlock();
                return predicate();
            }
        }
    }

private:
    void changed() {
        ++version_;
        cv_.notify_all();
    }

    const Clock& clock_;
    mutable std::mutex mutex_;
    mutable std::condition_variable cv_;
    std::uint64_t version_ = 0;
    Handler handler_;
    std::vector<Call> calls_;
    std::map<std::string, int> running_per_endpoint_;
    std::map<std::string, int> max_per_endpoint_;
    std::map<std::string, int> running_per_delivery_;
    std::map<std::string, int> max_per_delivery_;
    int finished_ = 0;
};

RetryPolicy short_policy(int retries) {
    RetryPolicy p;
    p.min_delay_target_s = 1;
    p.max_delay_target_s = 1;
    p.num_retries = retries;
    return p;
}

class DispatcherTest : public ::testing::Test {
protected:
    DispatcherTest() : transport_(clock_) {}
    ~DispatcherTest() override {
        if (dispatcher_) {
            dispatcher_->stop();
        }
    }

    Delivery delivery(const std::string& id, const std::string& endpoint,
                      const std::string& subscription = "arn:aws:sns:us-east-1:1:photos:sub-1",
                      std::int64_t due_in_ms = 0) {
        Delivery d;
        d.id = id;
        d.message_id = "msg-" + id;
        d.topic_arn = "arn:aws:sns:us-east-1:1:photos";
        d.subscription_arn = subscription;
        d.protocol = endpoint.starts_with("https") ? "https" : "http";
        d.endpoint = endpoint;
        d.message_type = "Notification";
        d.body = "{\"Type\":\"Notification\"}";
        d.created_ms = clock_.now_ms();
        d.next_attempt_ms = clock_.now_ms() + due_in_ms;
        return d;
    }

    void enqueue(const std::vector<Delivery>& deliveries) {
        ASSERT_TRUE(queue_.enqueue(deliveries));
        if (dispatcher_) {
            dispatcher_->wake();
        }
    }

    void start(DispatcherOptions options = {}) {
        options.jitter_unit = [] { return 0.0; };
        // Far longer than any wait here: every test proves the scheduler is woken by events, not
        // by polling.
        options.idle_poll = std::chrono::minutes(5);
        dispatcher_ = std::make_unique<Dispatcher>(
            queue_,
            [this](std::string_view protocol) -> Transport* {
                return protocol == "http" || protocol == "https" ? &transport_ : nullptr;
            },
            [this](const Delivery& d) {
                std::lock_guard lock(policy_mutex_);
                EffectiveDeliveryPolicy policy;
                policy.retry = retry_;
                if (auto it = throttles_.find(d.subscription_arn); it != throttles_.end()) {
                    policy.max_receives_per_second = it->second;
                }
                return policy;
            },
            std::move(options), clock_);
        dispatcher_->start();
    }

    void set_retry(RetryPolicy retry) {
        std::lock_guard lock(policy_mutex_);
        retry_ = retry;
    }
    void set_throttle(const std::string& subscription, int per_second) {
        std::lock_guard lock(policy_mutex_);
        throttles_[subscription] = per_second;
    }

    // Waits until the dispatcher has finished a whole pass that began after this call: a pass
    // ends with next_due_ms(), and a wake() always brings one more pass, so the pass ending
    // after the second wake began after the first one ended.
    void wait_for_pass() {
        for (int round = 0; round < 2; ++round) {
            const auto before = queue_.next_due_calls();
            dispatcher_->wake();
            ASSERT_TRUE(queue_.wait_until([&] { return queue_.next_due_calls() > before; }));
        }
    }

    // Moves the clock on and tells the dispatcher.
    void advance(milliseconds by) {
        clock_.advance(by);
        dispatcher_->wake();
    }

    // The attempt is over, its bookkeeping done, and `errors` queue operations have failed.
    bool finished_with_queue_errors(std::uint64_t errors) {
        const DispatcherStats stats = dispatcher_->stats();
        return stats.queue_errors == errors && stats.in_flight == 0;
    }

    bool queue_empty() {
        return queue_.wait_until([&] { return queue_.size() == 0; });
    }

    ManualClock clock_;
    MemoryDeliveryQueue queue_;
    FakeTransport transport_;
    std::mutex policy_mutex_;
    RetryPolicy retry_ = RetryPolicy::http_default();
    std::map<std::string, int> throttles_;
    std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, DeliversWhatIsQueuedAtStartAndAfterWake) {
    enqueue({delivery("d1", "http://hooks.example.com/a")});
    start();
    ASSERT_TRUE(queue_empty());
    enqueue({delivery("d2", "http://hooks.example.com/b")});
    ASSERT_TRUE(queue_empty());
    EXPECT_EQ(queue_.delivered_ids(), (std::vector<std::string>{"d1", "d2"}));
    ASSERT_EQ(transport_.calls().size(), 2u);
    const DispatcherStats stats = dispatcher_->stats();
    EXPECT_EQ(stats.attempts, 2u);
    EXPECT_EQ(stats.delivered, 2u);
    EXPECT_EQ(stats.retried, 0u);
    EXPECT_EQ(stats.dead_lettered, 0u);
}

TEST_F(DispatcherTest, FourxxReportedAsDeliveredIsNotRetried) {
    // SNS counts a 4xx answer as delivered; that judgement is the transport's.
    transport_.set_handler([](const Delivery&) {
        return AttemptResult{Outcome::Delivered, "HTTP 404"};
    });
    enqueue({delivery("d1", "http://hooks.example.com/missing")});
    start();
    ASSERT_TRUE(queue_empty());
    EXPECT_EQ(transport_.calls().size(), 1u);
    EXPECT_TRUE(queue_.all_dead_letters().empty());
}

TEST_F(DispatcherTest, PermanentFailureIsDeadLetteredAtOnce) {
    transport_.set_handler([](const Delivery&) {
        return AttemptResult{Outcome::Permanent, "destination refused: loopback address"};
    });
    enqueue({delivery("d1", "http://127.0.0.1/hook")});
    start();
    ASSERT_TRUE(queue_.wait_until([&] { return queue_.all_dead_letters().size() == 1; }));
    const DeadLetter letter = queue_.all_dead_letters().front();
    EXPECT_EQ(letter.delivery.id, "d1");
    EXPECT_EQ(letter.delivery.attempts, 1);
    EXPECT_EQ(letter.dead_at_ms, clock_.now_ms());
    EXPECT_EQ(letter.reason, "permanent failure: destination refused: loopback address");
    EXPECT_EQ(queue_.size(), 0u);
    EXPECT_EQ(transport_.calls().size(), 1u);
    EXPECT_EQ(dispatcher_->stats().dead_lettered, 1u);
    EXPECT_EQ(dispatcher_->stats().retried, 0u);
}

TEST_F(DispatcherTest, MissingTransportIsPermanent) {
    Delivery d = delivery("d1", "+15550100");
    d.protocol = "sms";
    enqueue({d});
    start();
    ASSERT_TRUE(queue_.wait_until([&] { return queue_.all_dead_letters().size() == 1; }));
    EXPECT_EQ(queue_.all_dead_letters().front().reason,
              "permanent failure: no transport for protocol sms");
    EXPECT_TRUE(transport_.calls().empty());
}

TEST_F(DispatcherTest, RetryThenSuccessKeepsTheSameDeliveryAndCountsAttempts) {
    set_retry(short_policy(3));
    int failures_left = 2;
    transport_.set_handler([&](const Delivery&) {
        if (failures_left > 0) {
            --failures_left;
            return AttemptResult{Outcome::Retryable, "HTTP 503"};
        }
        return AttemptResult{Outcome::Delivered, "HTTP 200"};
    });
    const std::int64_t t0 = clock_.now_ms();
    enqueue({delivery("d1", "https://hooks.example.com/photos")});
    start();

    ASSERT_TRUE(queue_.wait_until([&] {
        auto d = queue_.find("d1");
        return d && d->attempts == 1;
    }));
    auto queued = queue_.find("d1");
    ASSERT_TRUE(queued);
    EXPECT_EQ(queued->next_attempt_ms, t0 + 1'000);
    EXPECT_EQ(queued->last_error, "HTTP 503");
    wait_for_pass();  // not due yet: nothing more happens
    EXPECT_EQ(transport_.calls().size(), 1u);

    advance(milliseconds(1'000));
    ASSERT_TRUE(queue_.wait_until([&] {
        auto d = queue_.find("d1");
        return d && d->attempts == 2;
    }));
    EXPECT_EQ(queue_.find("d1")->next_attempt_ms, t0 + 2'000);
    advance(milliseconds(1'000));
    ASSERT_TRUE(queue_empty());

    const auto calls = transport_.calls();
    ASSERT_EQ(calls.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(calls[i].id, "d1");
        EXPECT_EQ(calls[i].message_id, "msg-d1");
        EXPECT_EQ(calls[i].attempts, i);
        EXPECT_EQ(calls[i].at_ms, t0 + 1'000 * i);
    }
    const DispatcherStats stats = dispatcher_->stats();
    EXPECT_EQ(stats.attempts, 3u);
    EXPECT_EQ(stats.retried, 2u);
    EXPECT_EQ(stats.delivered, 1u);
    EXPECT_EQ(stats.dead_lettered, 0u);
}

TEST_F(DispatcherTest, ExhaustedPolicyIsDeadLetteredWithReason) {
    set_retry(short_policy(2));
    transport_.set_handler([](const Delivery&) {
        return AttemptResult{Outcome::Retryable, "HTTP 503"};
    });
    enqueue({delivery("d1", "http://down.example.com/")});
    start();
    for (int attempts = 1; attempts <= 2; ++attempts) {
        ASSERT_TRUE(queue_.wait_until([&] {
            auto d = queue_.find("d1");
            return d && d->attempts == attempts;
        }));
        advance(milliseconds(1'000));
    }
    ASSERT_TRUE(queue_.wait_until([&] { return queue_.all_dead_letters().size() == 1; }));
    const DeadLetter letter = queue_.all_dead_letters().front();
    EXPECT_EQ(letter.delivery.attempts, 3);
    EXPECT_EQ(letter.reason, "retry policy exhausted after 3 attempts: HTTP 503");
    EXPECT_EQ(queue_.size(), 0u);
    EXPECT_EQ(transport_.calls().size(), 3u);
    EXPECT_EQ(dispatcher_->stats().retried, 2u);
    EXPECT_EQ(dispatcher_->stats().dead_lettered, 1u);
}

TEST_F(DispatcherTest, SlowEndpointDoesNotDelayOtherEndpoints) {
    Gate slow_gate;
    transport_.set_handler([&](const Delivery& d) {
        if (d.endpoint.starts_with("http://slow.example.com")) {
            slow_gate.wait();
        }
        return AttemptResult{Outcome::Delivered, "HTTP 200"};
    });
    std::vector<Delivery> batch;
    for (int i = 0; i < 6; ++i) {  // the slow endpoint's deliveries are the oldest
        batch.push_back(
            delivery("slow-" + std::to_string(i), "http://slow.example.com/hook", "s1", -100 + i));
    }
    for (int i = 0; i < 6; ++i) {
        batch.push_back(
            delivery("fast-" + std::to_string(i), "http://fast.example.com/hook", "s2"));
    }
    enqueue(batch);
    DispatcherOptions options;
    options.workers = 4;
    options.max_in_flight_per_endpoint = 2;
    options.batch_size = 4;  // the fast ones are not even in the first page
    start(options);

    // Every fast delivery goes through while the slow endpoint holds its two attempts.
    ASSERT_TRUE(queue_.wait_until([&] { return queue_.delivered_ids().size() == 6; }));
    for (const std::string& id : queue_.delivered_ids()) {
        EXPECT_TRUE(id.starts_with("fast-")) << id;
    }
    EXPECT_EQ(transport_.running("http://slow.example.com:80"), 2);
    EXPECT_EQ(transport_.calls_to("http://slow.example.com/hook").size(), 2u);

    slow_gate.open();
    ASSERT_TRUE(queue_empty());
    EXPECT_EQ(transport_.max_running("http://slow.example.com:80"), 2);
    EXPECT_EQ(transport_.calls().size(), 12u);
}

TEST_F(DispatcherTest, PerEndpointInFlightCapIsRespected) {
    Gate gate;
    transport_.set_handler([&](const Delivery&) {
        gate.wait();
        return AttemptResult{Outcome::Delivered, "HTTP 200"};
    });
    std::vector<Delivery> batch;
    for (int i = 0; i < 10; ++i) {
        // Different paths and an explicit default port: one endpoint.
        batch.push_back(delivery("d" + std::to_string(i),
                                 i % 2 ? "http://Hooks.Example.com:80/p" + std::to_string(i)
                                       : "http://hooks.example.com/q"));
    }
    enqueue(batch);
    DispatcherOptions options;
    options.workers = 8;
    options.max_in_flight_per_endpoint = 2;
    start(options);

    ASSERT_TRUE(transport_.wait_until([&] { return transport_.calls().size() == 2; }));
    wait_for_pass();
    wait_for_pass();
    EXPECT_EQ(transport_.calls().size(), 2u);
    EXPECT_EQ(transport_.running("http://hooks.example.com:80"), 2);

    gate.open();
    ASSERT_TRUE(queue_empty());
    EXPECT_EQ(transport_.max_running("http://hooks.example.com:80"), 2);
    EXPECT_EQ(transport_.max_running_of_any_delivery(),
              1);                               // never the same delivery twice at once
    EXPECT_EQ(transport_.calls().size(), 10u);  // each exactly once
}

TEST_F(DispatcherTest, ThrottleHonoursMaxReceivesPerSecond) {
    set_throttle("slow-sub", 1);
    const std::int64_t t0 = clock_.now_ms();
    enqueue({delivery("t1", "http://a.example.com/", "slow-sub"),
             delivery("t2", "http://b.example.com/", "slow-sub"),
             delivery("t3", "http://c.example.com/", "slow-sub"),
             delivery("u1", "http://d.example.com/", "other-sub"),
             delivery("u2", "http://d.example.com/", "other-sub")});
    start();
    // The unthrottled subscription is not held up; the throttled one sends one per second.
    ASSERT_TRUE(queue_.wait_until([&] { return queue_.size() == 2; }));
    wait_for_pass();
    EXPECT_EQ(queue_.size(), 2u);
    advance(milliseconds(1'000));
    ASSERT_TRUE(queue_.wait_until([&] { return queue_.size() == 1; }));
    wait_for_pass();
    EXPECT_EQ(queue_.size(), 1u);
    advance(milliseconds(1'000));
    ASSERT_TRUE(queue_empty());

    std::vector<std::int64_t> throttled_times;
    for (const auto& call : transport_.calls()) {
        if (call.id.starts_with("t")) {
            throttled_times.push_back(call.at_ms);
        } else {
            EXPECT_EQ(call.at_ms, t0) << call.id;
        }
    }
    EXPECT_EQ(throttled_times, (std::vector<std::int64_t>{t0, t0 + 1'000, t0 + 2'000}));
}

TEST_F(DispatcherTest, StopFinishesTheAttemptInFlightAndLeavesQueuedWorkQueued) {
    Gate gate;
    transport_.set_handler([&](const Delivery&) {
        gate.wait();
        return AttemptResult{Outcome::Delivered, "HTTP 200"};
    });
    enqueue({delivery("d1", "http://hooks.example.com/", "s1", -10),
             delivery("d2", "http://hooks.example.com/", "s1"),
             delivery("d3", "http://other.example.com/", "s2"),
             delivery("later", "http://other.example.com/", "s2", 60'000)});
    DispatcherOptions options;
    options.workers = 1;
    options.max_in_flight_per_endpoint = 1;
    start(options);
    ASSERT_TRUE(transport_.wait_until([&] { return transport_.calls().size() == 1; }));
    EXPECT_EQ(dispatcher_->stats().in_flight, 1u);

    std::thread stopper([&] { dispatcher_->stop(); });
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!dispatcher_->stopping() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
    }
    ASSERT_TRUE(dispatcher_->stopping());
    gate.open();  // the attempt in flight finishes after stop() began
    stopper.join();

    EXPECT_EQ(queue_.delivered_ids(), std::vector<std::string>{"d1"});
    EXPECT_EQ(transport_.calls().size(), 1u);
    for (const char* id : {"d2", "d3", "later"}) {
        auto d = queue_.find(id);
        ASSERT_TRUE(d) << id;
        EXPECT_EQ(d->attempts, 0) << id;
    }
    EXPECT_EQ(dispatcher_->stats().in_flight, 0u);
    dispatcher_->stop();  // idempotent
}

TEST_F(DispatcherTest, StopBeforeAnythingIsDueLeavesTheQueueAlone) {
    enqueue({delivery("later", "http://hooks.example.com/", "s1", 60'000)});
    start();
    wait_for_pass();
    dispatcher_->stop();
    EXPECT_EQ(queue_.size(), 1u);
    EXPECT_TRUE(transport_.calls().empty());
}

TEST_F(DispatcherTest, ReplayThenWakeDeliversAgain) {
    transport_.set_handler([](const Delivery&) {
        return AttemptResult{Outcome::Permanent, "HTTP 301 without Location"};
    });
    enqueue({delivery("d1", "http://hooks.example.com/")});
    start();
    ASSERT_TRUE(queue_.wait_until([&] { return queue_.all_dead_letters().size() == 1; }));

    transport_.set_handler(nullptr);  // the endpoint is fixed
    auto moved = queue_.replay({"d1"}, std::nullopt, clock_.now_ms());
    ASSERT_TRUE(moved);
    EXPECT_EQ(*moved, 1u);
    dispatcher_->wake();
    ASSERT_TRUE(queue_empty());
    EXPECT_EQ(queue_.delivered_ids(), std::vector<std::string>{"d1"});
    const auto calls = transport_.calls();
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[1].message_id, calls[0].message_id);
    EXPECT_EQ(calls[1].attempts, 0);  // a replay starts the policy over
}

TEST_F(DispatcherTest, FailedQueueOperationIsRetriedAndTheDeliveryNotAttemptedAgain) {
    queue_.fail_next(MemoryDeliveryQueue::Op::Delivered);
    enqueue({delivery("d1", "http://hooks.example.com/")});
    start();
    ASSERT_TRUE(transport_.wait_until([&] { return transport_.calls().size() == 1; }));
    ASSERT_TRUE(queue_.wait_until([&] { return finished_with_queue_errors(1); }));
    wait_for_pass();
    // Not recorded yet, so still queued; but not attempted again either.
    EXPECT_EQ(queue_.size(), 1u);
    EXPECT_EQ(transport_.calls().size(), 1u);

    advance(milliseconds(1'000));  // DispatcherOptions::queue_retry
    ASSERT_TRUE(queue_empty());
    EXPECT_EQ(transport_.calls().size(), 1u);
    EXPECT_EQ(dispatcher_->stats().delivered, 1u);
}

TEST_F(DispatcherTest, FailedRescheduleAndDueAreRetried) {
    set_retry(short_policy(1));
    queue_.fail_next(MemoryDeliveryQueue::Op::Due);
    queue_.fail_next(MemoryDeliveryQueue::Op::Reschedule);
    int failures_left = 1;
    transport_.set_handler([&](const Delivery&) {
        if (failures_left-- > 0) {
            return AttemptResult{Outcome::Retryable, "connect timeout"};
        }
        return AttemptResult{Outcome::Delivered, "HTTP 200"};
    });
    const std::int64_t t0 = clock_.now_ms();
    constexpr milliseconds kQueueRetry{60'000};
    enqueue({delivery("d1", "http://hooks.example.com/")});
    DispatcherOptions options;
    options.queue_retry = kQueueRetry;
    start(options);

    ASSERT_TRUE(queue_.wait_until([&] { return dispatcher_->stats().queue_errors == 1; }));
    EXPECT_TRUE(transport_.calls().empty());  // due() failed
    advance(kQueueRetry);  // due() is asked again; the attempt's reschedule fails
    ASSERT_TRUE(queue_.wait_until([&] { return finished_with_queue_errors(2); }));
    wait_for_pass();
    EXPECT_EQ(transport_.calls().size(), 1u);
    EXPECT_EQ(queue_.find("d1")->attempts, 0);  // not recorded, and not attempted again
    advance(kQueueRetry);  // the reschedule is recorded, and the retry (due 1 s after) is made
    ASSERT_TRUE(queue_empty());

    const auto calls = transport_.calls();
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0].at_ms, t0 + kQueueRetry.count());
    EXPECT_EQ(calls[1].at_ms, t0 + 2 * kQueueRetry.count());
    EXPECT_EQ(calls[1].attempts, 1);
    EXPECT_EQ(dispatcher_->stats().queue_errors, 2u);
}

TEST_F(DispatcherTest, DeliveryDroppedMeanwhileIsNotRetried) {
    Gate gate;
    transport_.set_handler([&](const Delivery&) {
        gate.wait();
        return AttemptResult{Outcome::Delivered, "HTTP 200"};
    });
    enqueue({delivery("d1", "http://hooks.example.com/", "s1")});
    start();
    ASSERT_TRUE(transport_.wait_until([&] { return transport_.calls().size() == 1; }));
    ASSERT_TRUE(queue_.drop_subscription("s1"));  // unsubscribed during the attempt
    gate.open();
    ASSERT_TRUE(queue_.wait_until([&] { return dispatcher_->stats().in_flight == 0; }));
    wait_for_pass();
    EXPECT_EQ(dispatcher_->stats().delivered, 1u);
    EXPECT_EQ(dispatcher_->stats().queue_errors, 0u);
    EXPECT_EQ(transport_.calls().size(), 1u);
}

TEST(EndpointKeyTest, GroupsByOriginOrMailDomain) {
    auto key = [](std::string protocol, std::string endpoint) {
        Delivery d;
        d.protocol = std::move(protocol);
        d.endpoint = std::move(endpoint);
        return endpoint_key(d);
    };
    EXPECT_EQ(key("http", "http://Hooks.Example.com/a?b=c"), "http://hooks.example.com:80");
    EXPECT_EQ(key("https", "https://hooks.example.com"), "https://hooks.example.com:443");
    EXPECT_EQ(key("https", "https://hooks.example.com:8443/x"), "https://hooks.example.com:8443");
    EXPECT_EQ(key("http", "http://user:secret@hooks.example.com:81/x"),
              "http://hooks.example.com:81");
    EXPECT_EQ(key("http", "http://[2001:db8::1]:8080/x"), "http://[2001:db8::1]:8080");
    EXPECT_EQ(key("http", "http://[2001:db8::1]/x"), "http://[2001:db8::1]:80");
    EXPECT_EQ(key("http", "not a url"), "http://invalid");
    EXPECT_EQ(key("email", "Alice@Mail.Example.org"), "smtp://mail.example.org");
    EXPECT_EQ(key("email-json", "bob@mail.example.org"), "smtp://mail.example.org");
    EXPECT_EQ(key("email", "nobody"), "smtp://invalid");
}

}  // namespace
}  // namespace pf::notify
