// SqsEventSource against FakeSqs, an HttpTransport that answers SQS's JSON protocol from an
// in-memory queue with real visibility timeouts (the seam SqsClient is built on), and a
// FakeInvoker whose invocations end when the test says so. Plus FunctionHostInvoker on a real
// FunctionHost running fake_runtime.py.
#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "lambda/sqs_event_source.h"
#include "support/temp_dir.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace pf::lambda {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Steady = std::chrono::steady_clock;

constexpr const char* kQueueUrl = "http://sqs.test/123456789012/photos";

std::string s3_event(const std::string& key) {
    return json({{"Records",
                  {{{"eventVersion", "2.1"},
                    {"eventSource", "aws:s3"},
                    {"eventName", "ObjectCreated:Put"},
                    {"s3",
                     {{"bucket", {{"name", "photos"}}},
                      {"object", {{"key", key}, {"size", 3}, {"eTag", "abc"}}}}}}}}})
        .dump();
}

// One SQS queue behind the JSON protocol: ReceiveMessage (long polls until a message is
// visible), DeleteMessage and ChangeMessageVisibility (only the latest receipt handle is
// valid), every call recorded.
class FakeSqs final : public aws::HttpTransport {
public:
    struct Call {
        std::string action;
        std::string message_id;  // of the receipt handle; empty for receives
        int visibility = -1;     // ChangeMessageVisibility
    };

    std::string add(const std::string& body) {
        std::lock_guard lock(mutex_);
        Message m;
        m.id = "m" + std::to_string(messages_.size() + 1);
        m.body = body;
        m.visible_at = Steady::now();
        messages_.push_back(m);
        cv_.notify_all();
        return m.id;
    }
    std::vector<Call> calls() {
        std::lock_guard lock(mutex_);
        return calls_;
    }
    std::size_t count(const std::string& action, const std::string& id = {}, int vis = -2) {
        std::size_t n = 0;
        for (const auto& c : calls()) {
            if (c.action == action && (id.empty() || c.message_id == id) &&
                (vis == -2 || c.visibility == vis)) {
                ++n;
            }
        }
        return n;
    }
    bool deleted(const std::string& id) {
        std::lock_guard lock(mutex_);
        for (const auto& m : messages_) {
            if (m.id == id) return m.deleted;
        }
        return false;
    }
    int receives(const std::string& id) {
        std::lock_guard lock(mutex_);
        for (const auto& m : messages_) {
            if (m.id == id) return m.receives;
        }
        return 0;
    }

    Result<aws::TransportResponse> send(const aws::TransportRequest& request,
                                        ByteSink*) override {
        const std::string target = header(request, "x-amz-target");
        const json in = json::parse(request.body);
        EXPECT_EQ(in.value("QueueUrl", ""), kQueueUrl);
        if (target == "AmazonSQS.ReceiveMessage") return receive(in);
        if (target == "AmazonSQS.DeleteMessage" || target == "AmazonSQS.ChangeMessageVisibility") {
            std::lock_guard lock(mutex_);
            const std::string handle = in.value("ReceiptHandle", "");
            Message* m = by_handle(handle);
            const std::string action = target.substr(10);
            const int vis = in.contains("VisibilityTimeout") ? in["VisibilityTimeout"].get<int>() : -1;
            calls_.push_back({action, m ? m->id : "?", vis});
            if (!m || m->deleted) {
                return answer(400, json({{"__type", "com.amazonaws.sqs#ReceiptHandleIsInvalid"},
                                         {"message", "The receipt handle is not valid"}}));
            }
            if (action == "DeleteMessage") {
                m->deleted = true;
            } else {
                m->visible_at = Steady::now() + std::chrono::seconds(vis);
                cv_.notify_all();
            }
            return answer(200, json::object());
        }
        return answer(400, json({{"__type", "com.amazonaws.sqs#InvalidAction"}}));
    }

private:
    struct Message {
        std::string id;
        std::string body;
        std::string handle;
        int receives = 0;
        bool deleted = false;
        Steady::time_point visible_at;
    };
    static std::string header(const aws::TransportRequest& r, const std::string& name) {
        for (const auto& [n, v] : r.headers) {
            if (n == name) return v;
        }
        return {};
    }
    static aws::TransportResponse answer(int status, const json& body) {
        aws::TransportResponse r;
        r.status = status;
        r.headers = {{"content-type", "application/x-amz-json-1.0"}};
        r.body = body.dump();
        return r;
    }
    Message* by_handle(const std::string& handle) {
        for (auto& m : messages_) {
            if (m.handle == handle) return &m;
        }
        return nullptr;
    }
    Result<aws::TransportResponse> receive(const json& in) {
        const int max = in.value("MaxNumberOfMessages", 1);
        const int vis = in.value("VisibilityTimeout", 30);
        const auto until = Steady::now() + std::chrono::seconds(in.value("WaitTimeSeconds", 0));
        std::unique_lock lock(mutex_);
        calls_.push_back({"ReceiveMessage", "", -1});
        json out = json::array();
        for (;;) {
            const auto now = Steady::now();
            auto next = until;
            for (auto& m : messages_) {
                if (static_cast<int>(out.size()) >= max) break;
                if (m.deleted) continue;
                if (m.visible_at > now) {
                    next = std::min(next, m.visible_at);
                    continue;
                }
                ++m.receives;
                m.handle = m.id + "#" + std::to_string(m.receives);
                m.visible_at = now + std::chrono::seconds(vis);
                out.push_back({{"MessageId", m.id},
                               {"ReceiptHandle", m.handle},
                               {"MD5OfBody", crypto::hex_encode(crypto::md5(m.body))},
                               {"Body", m.body},
                               {"Attributes",
                                {{"ApproximateReceiveCount", std::to_string(m.receives)}}}});
            }
            if (!out.empty() || now >= until) break;
            cv_.wait_until(lock, next);
        }
        return answer(200, out.empty() ? json::object() : json({{"Messages", out}}));
    }

    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<Message> messages_;
    std::vector<Call> calls_;
};

// Invocations that end when the test calls finish().
class FakeInvoker final : public EventInvoker {
public:
    struct Invocation {
        std::string event;
        std::string trace;
        InvocationDone done;
        bool finished = false;
    };
    Result<std::string> invoke(std::string_view event, std::string_view trace,
                               InvocationDone done) override {
        std::lock_guard lock(mutex_);
        if (refuse) return make_error(ErrorCode::InvalidArgument, "refused by the test");
        invocations_.push_back({std::string(event), std::string(trace), std::move(done)});
        ++running_;
        max_running_ = std::max(max_running_, running_);
        cv_.notify_all();
        return "req-" + std::to_string(invocations_.size());
    }
    // Waits for the n-th (1-based) invocation.
    Invocation wait_for(std::size_t n, std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock(mutex_);
        const bool arrived = cv_.wait_for(lock, timeout, [&] { return invocations_.size() >= n; });
        EXPECT_TRUE(arrived) << "no invocation #" << n;
        return arrived ? invocations_[n - 1] : Invocation{};
    }
    void finish(std::size_t n, bool ok, const std::string& error_type = "Fake.Failure") {
        InvocationDone done;
        {
            std::lock_guard lock(mutex_);
            ASSERT_GE(invocations_.size(), n);
            ASSERT_FALSE(invocations_[n - 1].finished);
            invocations_[n - 1].finished = true;
            --running_;
            done = invocations_[n - 1].done;
        }
        InvocationResult r;
        r.succeeded = ok;
        if (!ok) r.error_type = error_type;
        r.duration_ms = 5;
        done(r);
    }
    std::size_t count() {
        std::lock_guard lock(mutex_);
        return invocations_.size();
    }
    std::size_t max_running() {
        std::lock_guard lock(mutex_);
        return max_running_;
    }
    bool refuse = false;

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<Invocation> invocations_;
    std::size_t running_ = 0;
    std::size_t max_running_ = 0;
};

template <typename F>
bool eventually(F condition, std::chrono::milliseconds timeout = 10s) {
    const auto until = Steady::now() + timeout;
    while (Steady::now() < until) {
        if (condition()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return condition();
}

class SqsEventSourceTest : public ::testing::Test {
protected:
    void TearDown() override {
        if (source_) source_->stop(0ms);
    }
    void start(std::size_t concurrency = 1, std::chrono::seconds visibility = 30s) {
        aws::SqsClientOptions client;
        client.endpoint = {"http://sqs.test", true};
        client.credentials.access_key_id = "AKIDTEST";
        client.credentials.secret_access_key = "secret";
        SqsEventSourceOptions o;
        o.queue_url = kQueueUrl;
        o.concurrency = concurrency;
        o.wait = 1s;
        o.visibility_timeout = visibility;
        o.function_timeout = 60s;
        o.metrics = &metrics_;
        source_ = std::make_unique<SqsEventSource>(sqs_, client, invoker_, o);
        auto started = source_->start();
        ASSERT_TRUE(started) << started.error().message;
    }

    FakeSqs sqs_;
    FakeInvoker invoker_;
    MetricsRegistry metrics_;
    std::unique_ptr<SqsEventSource> source_;
};

TEST_F(SqsEventSourceTest, DeletesTheMessageOnlyAfterTheInvocationSucceeded) {
    const std::string id = sqs_.add(s3_event("a.jpg"));
    start();
    auto inv = invoker_.wait_for(1);
    EXPECT_EQ(inv.event, s3_event("a.jpg"));
    EXPECT_NE(inv.trace.find("Root=1-"), std::string::npos);
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(sqs_.count("DeleteMessage"), 0u);  // still running: not deleted
    EXPECT_FALSE(sqs_.deleted(id));

    invoker_.finish(1, true);
    ASSERT_TRUE(eventually([&] { return sqs_.deleted(id); }));
    auto stats = source_->stats();
    EXPECT_EQ(stats.received, 1u);
    EXPECT_EQ(stats.deleted, 1u);
    EXPECT_EQ(stats.failed, 0u);
    EXPECT_EQ(stats.in_flight, 0u);
    EXPECT_EQ(stats.invocations_by_outcome["success"], 1u);
    const std::string page = metrics_.render();
    EXPECT_NE(page.find("photoflux_worker_messages_deleted_total 1"), std::string::npos) << page;
    EXPECT_NE(page.find("photoflux_worker_invocations_total{outcome=\"success\"} 1"),
              std::string::npos);
}

TEST_F(SqsEventSourceTest, AFailureLeavesTheMessageForRedeliveryByTheQueue) {
    const std::string id = sqs_.add(s3_event("b.jpg"));
    start(1, 2s);
    invoker_.wait_for(1);
    invoker_.finish(1, false, "Sandbox.Timedout");
    ASSERT_TRUE(eventually([&] { return source_->stats().failed == 1; }));
    EXPECT_EQ(sqs_.count("DeleteMessage"), 0u);
    EXPECT_EQ(sqs_.count("ChangeMessageVisibility", id, 0), 0u);  // not released either

    // The visibility lapses and the queue delivers it again: that is the retry.
    auto again = invoker_.wait_for(2, 5s);
    EXPECT_EQ(again.event, s3_event("b.jpg"));
    EXPECT_EQ(sqs_.receives(id), 2);
    invoker_.finish(2, true);
    ASSERT_TRUE(eventually([&] { return sqs_.deleted(id); }));
    auto stats = source_->stats();
    EXPECT_EQ(stats.invocations_by_outcome["timeout"], 1u);
    EXPECT_EQ(stats.invocations_by_outcome["success"], 1u);
}

TEST_F(SqsEventSourceTest, AnInvocationThatDoesNotStartLeavesTheMessage) {
    invoker_.refuse = true;
    const std::string id = sqs_.add(s3_event("c.jpg"));
    start(1, 30s);
    ASSERT_TRUE(eventually([&] { return source_->stats().failed == 1; }));
    EXPECT_EQ(source_->stats().in_flight, 0u);
    EXPECT_FALSE(sqs_.deleted(id));
    EXPECT_EQ(sqs_.count("DeleteMessage"), 0u);
}

TEST_F(SqsEventSourceTest, ALongInvocationKeepsItsMessageHidden) {
    const std::string id = sqs_.add(s3_event("slow.jpg"));
    start(2, 2s);
    invoker_.wait_for(1);
    // Three visibility timeouts: without extensions the queue would hand it out again.
    std::this_thread::sleep_for(6s);
    EXPECT_EQ(invoker_.count(), 1u);
    EXPECT_EQ(sqs_.receives(id), 1);
    EXPECT_GE(sqs_.count("ChangeMessageVisibility", id, 2), 5u);
    EXPECT_GE(source_->stats().visibility_extensions, 5u);
    invoker_.finish(1, true);
    ASSERT_TRUE(eventually([&] { return sqs_.deleted(id); }));
}

TEST_F(SqsEventSourceTest, TestEventsAreDeletedAndUnrecognisedMessagesLeft) {
    const std::string test_event = sqs_.add(
        R"({"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-01-01T00:00:00.000Z","Bucket":"photos","RequestId":"r","HostId":"h"})");
    const std::string junk = sqs_.add("this is not an S3 event");
    start(1, 30s);
    ASSERT_TRUE(eventually([&] {
        auto s = source_->stats();
        return s.test_events == 1 && s.unrecognised == 1;
    }));
    EXPECT_TRUE(sqs_.deleted(test_event));
    EXPECT_FALSE(sqs_.deleted(junk));  // left for the redrive policy (dead-letter queue)
    EXPECT_EQ(sqs_.count("ChangeMessageVisibility", junk), 0u);
    EXPECT_EQ(invoker_.count(), 0u);
}

TEST_F(SqsEventSourceTest, AnSnsEnvelopeIsUnwrapped) {
    const json envelope = {{"Type", "Notification"},
                           {"MessageId", "x"},
                           {"TopicArn", "arn:aws:sns:us-east-1:123456789012:photos"},
                           {"Subject", "Amazon S3 Notification"},
                           {"Message", s3_event("wrapped.jpg")}};
    const std::string id = sqs_.add(envelope.dump());
    start();
    EXPECT_EQ(invoker_.wait_for(1).event, s3_event("wrapped.jpg"));
    invoker_.finish(1, true);
    ASSERT_TRUE(eventually([&] { return sqs_.deleted(id); }));
}

TEST_F(SqsEventSourceTest, AtMostConcurrencyMessagesAreInFlight) {
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(sqs_.add(s3_event("p" + std::to_string(i))));
    start(2, 30s);
    invoker_.wait_for(2);
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(invoker_.count(), 2u);
    for (std::size_t n = 1; n <= 5; ++n) {
        invoker_.wait_for(n);
        invoker_.finish(n, true);
    }
    ASSERT_TRUE(eventually([&] { return source_->stats().deleted == 5; }));
    EXPECT_EQ(invoker_.max_running(), 2u);
    for (const auto& id : ids) EXPECT_TRUE(sqs_.deleted(id));
}

TEST_F(SqsEventSourceTest, StopFinishesWhatEndsWithinTheGraceAndReleasesTheRest) {
    const std::string a = sqs_.add(s3_event("a.jpg"));
    const std::string b = sqs_.add(s3_event("b.jpg"));
    start(2, 30s);
    invoker_.wait_for(2);
    std::thread finisher([&] {
        std::this_thread::sleep_for(300ms);
        invoker_.finish(1, true);  // ends within the grace
    });
    const auto before = Steady::now();
    source_->stop(1500ms);
    const auto took = Steady::now() - before;
    finisher.join();
    EXPECT_LT(took, 5s);
    EXPECT_TRUE(sqs_.deleted(a));
    EXPECT_FALSE(sqs_.deleted(b));
    EXPECT_EQ(sqs_.count("ChangeMessageVisibility", b, 0), 1u);  // visible again at once
    auto stats = source_->stats();
    EXPECT_EQ(stats.deleted, 1u);
    EXPECT_EQ(stats.released, 1u);
    EXPECT_EQ(stats.in_flight, 0u);
    invoker_.finish(2, true);  // a late outcome changes nothing
    EXPECT_FALSE(sqs_.deleted(b));
    EXPECT_EQ(source_->stats().deleted, 1u);
    // Nothing is received after the stop.
    sqs_.add(s3_event("late.jpg"));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(invoker_.count(), 2u);
}

TEST(SqsEventSourceOptions, UnusableOptionsAreListed) {
    FakeSqs sqs;
    FakeInvoker invoker;
    SqsEventSourceOptions o;
    o.queue_url = "sqs.test/photos";
    o.concurrency = 0;
    o.wait = 30s;
    o.visibility_timeout = 1s;
    SqsEventSource source(sqs, {}, invoker, o);
    auto started = source.start();
    ASSERT_FALSE(started);
    EXPECT_EQ(started.error().code, ErrorCode::InvalidArgument);
    for (const char* part : {"http:// or https://", "concurrency", "long-poll", "visibility"}) {
        EXPECT_NE(started.error().message.find(part), std::string::npos) << part;
    }
}

TEST(SqsEventSourceOptions, QueueUrls) {
    EXPECT_TRUE(validate_queue_url("https://sqs.us-east-1.amazonaws.com/123456789012/photos"));
    EXPECT_TRUE(validate_queue_url("http://127.0.0.1:5000/123456789012/q"));
    EXPECT_FALSE(validate_queue_url(""));
    EXPECT_FALSE(validate_queue_url("https://sqs.us-east-1.amazonaws.com"));
    EXPECT_FALSE(validate_queue_url("https://sqs.us-east-1.amazonaws.com/"));
    EXPECT_FALSE(validate_queue_url("ftp://host/q"));
    EXPECT_FALSE(validate_queue_url("https://host/q q"));
    EXPECT_FALSE(validate_queue_url("https://host/" + std::string(3000, 'q')));
}

// FunctionHostInvoker on a real host: the outcome of each request id reaches its own callback.
TEST(FunctionHostInvokerTest, ReportsEachInvocationsOutcome) {
    test::TempDir dir{"pf-sqs-invoker"};
    FunctionHostInvoker invoker("photo");
    FunctionSettings f;
    f.name = "photo";
    f.argv = {PF_PYTHON3, PF_FAKE_RUNTIME};
    f.environment = {{"PATH", "/usr/bin:/bin"}, {"PYTHONDONTWRITEBYTECODE", "1"}};
    f.environments = 2;
    f.timeout = 5s;
    f.max_retry_attempts = 0;
    HostOptions o;
    o.data_dir = dir.path();
    o.functions = {f};
    o.keep_dead_letters = false;
    o.idle_poll = 200ms;
    o.on_completion = [&](const Completion& c) { invoker.on_completion(c); };
    auto host = FunctionHost::open(std::move(o));
    ASSERT_TRUE(host) << host.error().message;
    invoker.attach(host->get());
    ASSERT_TRUE((*host)->start());

    std::mutex m;
    std::condition_variable cv;
    std::map<std::string, InvocationResult> results;
    auto record = [&](const std::string& name) {
        return [&, name](const InvocationResult& r) {
            std::lock_guard lock(m);
            results[name] = r;
            cv.notify_all();
        };
    };
    ASSERT_TRUE(invoker.invoke(R"({"do":"ok"})", "", record("ok")));
    ASSERT_TRUE(invoker.invoke(R"({"do":"fail","error_type":"Fake.Broken"})", "", record("fail")));
    EXPECT_FALSE(invoker.invoke("not json", "", record("never")));
    {
        std::unique_lock lock(m);
        ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return results.size() == 2; }));
    }
    EXPECT_TRUE(results["ok"].succeeded);
    EXPECT_FALSE(results["fail"].succeeded);
    EXPECT_EQ(results["fail"].error_type, "Fake.Broken");
    EXPECT_EQ(results.count("never"), 0u);
    (*host)->stop();
    auto letters = (*host)->dead_letters(std::nullopt, 10);
    ASSERT_TRUE(letters);
    EXPECT_TRUE(letters->empty());
}

}  // namespace
}  // namespace pf::lambda
