// FunctionHost end to end: real worker processes running fake_runtime.py (a Python custom
// runtime) against the host's Runtime API servers, with short delays so the suite stays fast.
#include "crypto/digest.h"
#include "lambda/function_host.h"
#include "log_capture.h"
#include "support/temp_dir.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

namespace pf::lambda {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kArn = "arn:aws:lambda:us-east-1:000000000000:function:photo";

class FunctionHostTest : public ::testing::Test {
protected:
    void TearDown() override {
        if (host_) {
            host_->stop();
        }
    }

    FunctionSettings function(std::size_t environments = 1) {
        FunctionSettings f;
        f.name = "photo";
        f.argv = {PF_PYTHON3, PF_FAKE_RUNTIME};
        f.environment = {{"PATH", "/usr/bin:/bin"}, {"PYTHONDONTWRITEBYTECODE", "1"}};
        f.environments = environments;
        f.timeout = 5s;
        f.retry_base_delay = 200ms;
        return f;
    }
    HostOptions options(FunctionSettings f) {
        HostOptions o;
        o.data_dir = dir_.path();
        o.functions = {std::move(f)};
        o.stop_grace = 2s;
        o.restart_backoff_initial = 50ms;
        o.restart_backoff_max = 400ms;
        o.idle_poll = 200ms;
        o.on_completion = [this](const Completion& c) {
            std::lock_guard lock(mutex_);
            completions_.push_back(c);
            cv_.notify_all();
        };
        return o;
    }
    void open(HostOptions o, bool start = true) {
        if (host_) {
            host_->stop();
            host_.reset();
        }
        auto opened = FunctionHost::open(std::move(o));
        ASSERT_TRUE(opened) << opened.error().message;
        host_ = std::move(*opened);
        if (start) {
            auto started = host_->start();
            ASSERT_TRUE(started) << started.error().message;
        }
    }
    std::string invoke(const json& event, const std::string& trace = {}) {
        auto id = host_->invoke_async("photo", event.dump(), trace);
        EXPECT_TRUE(id) << id.error().message;
        return id ? *id : std::string();
    }
    // Every completion of `id` up to and including the final one (Succeeded or DeadLettered).
    std::vector<Completion> wait_final(const std::string& id,
                                       std::chrono::milliseconds timeout = 15s) {
        std::unique_lock lock(mutex_);
        std::vector<Completion> mine;
        cv_.wait_for(lock, timeout, [&] {
            mine.clear();
            for (const auto& c : completions_) {
                if (c.request_id == id) {
                    mine.push_back(c);
                }
            }
            return !mine.empty() && mine.back().outcome != CompletionOutcome::Retrying;
        });
        EXPECT_TRUE(!mine.empty() && mine.back().outcome != CompletionOutcome::Retrying)
            << "no final outcome for " << id;
        return mine;
    }
    void wait_ready(std::size_t environments) {
        for (int i = 0; i < 1000; ++i) {
            if (host_->stats().functions["photo"].environments_ready >= environments) {
                return;
            }
            std::this_thread::sleep_for(10ms);
        }
        FAIL() << "environments did not become ready";
    }
    std::string file(const std::string& name) const { return (dir_.path() / name).string(); }
    static std::vector<json> records(const std::string& path) {
        std::vector<json> out;
        std::ifstream in(path);
        for (std::string line; std::getline(in, line);) {
            out.push_back(json::parse(line));
        }
        return out;
    }
    // The runtime writes some files after the host has seen the outcome: wait for the content.
    static std::string wait_text(const std::string& path) {
        std::string text;
        for (int i = 0; i < 500 && (text = read_text(path)).empty(); ++i) {
            std::this_thread::sleep_for(10ms);
        }
        return text;
    }
    static std::string read_text(const std::string& path) {
        std::ifstream in(path);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    static std::int64_t now_ms() {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }

    test::TempDir dir_{"pf-lambda-host"};
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<Completion> completions_;
    std::unique_ptr<FunctionHost> host_;
};

TEST_F(FunctionHostTest, SuccessDeliversTheInvocationAndLogsTheFunctionOutput) {
    test::LogCapture capture("function");
    open(options(function()));
    const std::int64_t before = now_ms();
    const std::string id = invoke(
        {{"do", "ok"}, {"record_file", file("records")}, {"log", "hello from the function"}});
    auto done = wait_final(id);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].outcome, CompletionOutcome::Succeeded);
    EXPECT_EQ(done[0].attempt, 1);

    auto seen = records(file("records"));
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0]["request_id"], id);
    EXPECT_EQ(seen[0]["arn"], kArn);
    EXPECT_GE(seen[0]["deadline_ms"].get<std::int64_t>(), before + 5000);
    EXPECT_LE(seen[0]["deadline_ms"].get<std::int64_t>(), now_ms() + 5000);
    const std::string hash = crypto::sha256_hex(kArn).substr(0, 8);
    EXPECT_NE(seen[0]["trace"].get<std::string>().find("Lineage=" + hash + ":1"),
              std::string::npos);
    // The worker's output is read from its pipe by another thread: the line may be logged a
    // moment after the invocation completed (CI once checked first).
    const std::string line = "function=photo env=0 stream=stdout msg=\"hello from the function\"";
    for (int i = 0; i < 200 && capture.sink().count_containing(line) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(capture.sink().count_containing(line), 1u);

    auto stats = host_->stats().functions["photo"];
    EXPECT_EQ(stats.invocations, 1u);
    EXPECT_EQ(stats.successes, 1u);
    EXPECT_EQ(stats.queue_depth, 0u);
    EXPECT_EQ(stats.duration_count, 1u);
    EXPECT_TRUE(host_->dead_letters(std::nullopt, 10)->empty());
    host_->stop();
}

TEST_F(FunctionHostTest, FunctionErrorIsRetriedWithDelaysThenDeadLettered) {
    open(options(function()));
    const json event = {{"do", "fail"},
                        {"error_type", "Fake.Failure"},
                        {"error_message", "it broke"},
                        {"record_file", file("records")}};
    const std::string id = invoke(event);
    auto done = wait_final(id);
    ASSERT_EQ(done.size(), 3u);
    EXPECT_EQ(done[0].outcome, CompletionOutcome::Retrying);
    EXPECT_EQ(done[1].outcome, CompletionOutcome::Retrying);
    EXPECT_EQ(done[2].outcome, CompletionOutcome::DeadLettered);
    EXPECT_EQ(done[2].attempt, 3);
    EXPECT_EQ(done[2].condition, DeadLetterCondition::RetriesExhausted);

    // AWS's 1 min / 2 min schedule, scaled to the 200 ms base delay.
    auto seen = records(file("records"));
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_GE(seen[1]["start"].get<double>() - seen[0]["start"].get<double>(), 0.19);
    EXPECT_GE(seen[2]["start"].get<double>() - seen[1]["start"].get<double>(), 0.39);

    auto letters = host_->dead_letters(std::string("photo"), 10);
    ASSERT_TRUE(letters);
    ASSERT_EQ(letters->size(), 1u);
    const StoredDeadLetter& letter = (*letters)[0];
    EXPECT_EQ(letter.condition, "RetriesExhausted");
    EXPECT_EQ(letter.invocation.attempts, 3);
    EXPECT_EQ(letter.invocation.last_error_type, "Fake.Failure");
    const json record = json::parse(letter.record);
    EXPECT_EQ(record["version"], "1.0");
    EXPECT_EQ(record["requestContext"]["requestId"], id);
    EXPECT_EQ(record["requestContext"]["functionArn"], std::string(kArn) + ":$LATEST");
    EXPECT_EQ(record["requestContext"]["condition"], "RetriesExhausted");
    EXPECT_EQ(record["requestContext"]["approximateInvokeCount"], 3);
    EXPECT_EQ(record["requestPayload"], event);
    EXPECT_EQ(record["responseContext"]["statusCode"], 200);
    EXPECT_EQ(record["responseContext"]["executedVersion"], "$LATEST");
    EXPECT_EQ(record["responseContext"]["functionError"], "Unhandled");
    EXPECT_EQ(record["responsePayload"],
              json({{"errorMessage", "it broke"}, {"errorType", "Fake.Failure"}}));

    auto stats = host_->stats().functions["photo"];
    EXPECT_EQ(stats.function_errors, 3u);
    EXPECT_EQ(stats.retries, 2u);
    EXPECT_EQ(stats.dead_letters, 1u);
    EXPECT_EQ(stats.dead_letters_by_condition["RetriesExhausted"], 1u);
    EXPECT_EQ(stats.queue_depth, 0u);
}

TEST_F(FunctionHostTest, FailTwiceThenSucceed) {
    open(options(function()));
    const std::string id =
        invoke({{"do", "fail"}, {"fail_times", 2}, {"counter_file", file("counter")}});
    auto done = wait_final(id);
    ASSERT_EQ(done.size(), 3u);
    EXPECT_EQ(done[0].error_type, "Fake.Failure");
    EXPECT_EQ(done[2].outcome, CompletionOutcome::Succeeded);
    EXPECT_EQ(done[2].attempt, 3);
    EXPECT_EQ(read_text(file("counter")), "3");
    EXPECT_TRUE(host_->dead_letters(std::nullopt, 10)->empty());
}

TEST_F(FunctionHostTest, CrashFailsOnlyItsInvocationAndTheEnvironmentIsReplaced) {
    open(options(function(2)));
    wait_ready(2);
    const std::string slow = invoke({{"do", "sleep"}, {"seconds", 0.8}});
    const std::string crash = invoke(
        {{"do", "crash"}, {"exit_code", 3}, {"fail_times", 1}, {"counter_file", file("counter")}});
    auto crashed = wait_final(crash);
    auto slept = wait_final(slow);
    ASSERT_EQ(slept.size(), 1u);
    EXPECT_EQ(slept[0].outcome, CompletionOutcome::Succeeded);  // its neighbour was unharmed
    ASSERT_EQ(crashed.size(), 2u);
    EXPECT_EQ(crashed[0].outcome, CompletionOutcome::Retrying);
    EXPECT_EQ(crashed[0].error_type, "Runtime.ExitError");
    EXPECT_NE(crashed[0].error_message.find("Runtime exited with error: exit status 3"),
              std::string::npos);
    EXPECT_EQ(crashed[1].outcome, CompletionOutcome::Succeeded);
    auto stats = host_->stats().functions["photo"];
    EXPECT_EQ(stats.crashes, 1u);
    EXPECT_EQ(stats.worker_starts, 3u);  // two, plus the replacement
    wait_ready(2);
}

TEST_F(FunctionHostTest, TimeoutKillsTheWorkerAndFailsTheInvocation) {
    FunctionSettings f = function();
    f.timeout = 500ms;
    f.max_retry_attempts = 0;
    open(options(f));
    wait_ready(1);
    const auto started = std::chrono::steady_clock::now();
    const std::string id = invoke({{"do", "sleep"}, {"seconds", 30}});
    auto done = wait_final(id);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].outcome, CompletionOutcome::DeadLettered);
    EXPECT_EQ(done[0].error_type, "Sandbox.Timedout");
    EXPECT_NE(done[0].error_message.find("Task timed out after 0.50 seconds"), std::string::npos);
    EXPECT_EQ(host_->stats().functions["photo"].timeouts, 1u);
    // A fresh worker takes the next invocation.
    const std::string next = invoke({{"do", "ok"}});
    EXPECT_EQ(wait_final(next).back().outcome, CompletionOutcome::Succeeded);
    EXPECT_EQ(host_->stats().functions["photo"].worker_starts, 2u);
}

TEST_F(FunctionHostTest, MaximumEventAgeEndsRetries) {
    FunctionSettings f = function();
    f.max_event_age = 1000ms;
    f.retry_base_delay = 600ms;
    open(options(f));
    wait_ready(1);
    // Attempts at ~0 and ~0.6 s; the third would be at ~1.8 s, past the age.
    const std::string id = invoke({{"do", "fail"}});
    auto done = wait_final(id);
    ASSERT_EQ(done.size(), 3u);
    EXPECT_EQ(done[2].outcome, CompletionOutcome::DeadLettered);
    EXPECT_EQ(done[2].condition, DeadLetterCondition::EventAgeExceeded);
    auto letters = host_->dead_letters(std::nullopt, 10);
    ASSERT_EQ(letters->size(), 1u);
    const json record = json::parse((*letters)[0].record);
    EXPECT_EQ(record["requestContext"]["condition"], "EventAgeExceeded");
    EXPECT_EQ(record["requestContext"]["approximateInvokeCount"], 2);
    EXPECT_EQ(record["responsePayload"]["errorType"], "Fake.Failure");
}

TEST_F(FunctionHostTest, NonRetryableErrorTypeIsDeadLetteredAtOnce) {
    open(options(function()));
    const std::string id = invoke({{"do", "fail"},
                                   {"error_type", "Photoflux.PhotoRejected"},
                                   {"record_file", file("records")}});
    auto done = wait_final(id);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].outcome, CompletionOutcome::DeadLettered);
    EXPECT_EQ(done[0].condition, DeadLetterCondition::Rejected);
    EXPECT_EQ(records(file("records")).size(), 1u);
    const json record = json::parse((*host_->dead_letters(std::nullopt, 1))[0].record);
    EXPECT_EQ(record["requestContext"]["condition"], "Rejected");
    EXPECT_EQ(record["requestContext"]["approximateInvokeCount"], 1);
    EXPECT_EQ(host_->stats().functions["photo"].retries, 0u);
}

TEST_F(FunctionHostTest, WithoutKeptDeadLettersAFailedInvocationOnlyLeavesTheQueue) {
    FunctionSettings f = function();
    f.max_retry_attempts = 0;
    HostOptions o = options(f);
    o.keep_dead_letters = false;
    open(std::move(o));
    const std::string failed = invoke({{"do", "fail"}, {"record_file", file("records")}});
    const std::string rejected =
        invoke({{"do", "fail"}, {"error_type", "Photoflux.PhotoRejected"}});
    auto done = wait_final(failed);
    ASSERT_EQ(done.size(), 1u);  // no retry with max_retry_attempts 0
    EXPECT_EQ(done[0].outcome, CompletionOutcome::DeadLettered);
    EXPECT_EQ(done[0].condition, DeadLetterCondition::RetriesExhausted);
    EXPECT_EQ(done[0].error_type, "Fake.Failure");
    auto rejected_done = wait_final(rejected);
    ASSERT_EQ(rejected_done.size(), 1u);
    EXPECT_EQ(rejected_done[0].condition, DeadLetterCondition::Rejected);
    EXPECT_EQ(records(file("records")).size(), 1u);

    auto letters = host_->dead_letters(std::nullopt, 10);
    ASSERT_TRUE(letters);
    EXPECT_TRUE(letters->empty());
    auto stats = host_->stats().functions["photo"];
    EXPECT_EQ(stats.dead_letters, 2u);
    EXPECT_EQ(stats.queue_depth, 0u);

    // Nothing is left in the durable queue for a later start to run again.
    host_->stop();
    host_.reset();
    auto store = InvocationStore::open(dir_.path() / "lambda" / "lambda.sqlite");
    ASSERT_TRUE(store);
    auto counts = (*store)->queued_counts();
    ASSERT_TRUE(counts);
    EXPECT_TRUE(counts->empty());
}

// The most invocations that overlapped in time, from the runtime's own start/end records.
std::size_t max_overlap(const std::vector<json>& seen) {
    std::vector<std::pair<double, int>> edges;
    for (const auto& r : seen) {
        edges.emplace_back(r["start"].get<double>(), +1);
        edges.emplace_back(r["end"].get<double>(), -1);
    }
    std::sort(edges.begin(), edges.end());  // an end sorts before a start at the same time
    int current = 0;
    int best = 0;
    for (const auto& [t, d] : edges) {
        current += d;
        best = std::max(best, current);
    }
    return static_cast<std::size_t>(best);
}

TEST_F(FunctionHostTest, ReservedConcurrencyCapsBusyEnvironments) {
    FunctionSettings f = function(3);
    f.reserved_concurrency = 2;
    open(options(f));
    wait_ready(3);
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) {
        ids.push_back(invoke({{"do", "sleep"}, {"seconds", 0.3}, {"record_file", file("capped")}}));
    }
    for (const auto& id : ids) {
        EXPECT_EQ(wait_final(id).back().outcome, CompletionOutcome::Succeeded);
    }
    EXPECT_EQ(max_overlap(records(file("capped"))), 2u);
}

TEST_F(FunctionHostTest, WithoutReservedConcurrencyEveryEnvironmentWorks) {
    // The control for the test above: the same load does overlap three ways without a cap.
    open(options(function(3)));
    wait_ready(3);
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) {
        ids.push_back(invoke({{"do", "sleep"}, {"seconds", 0.3}, {"record_file", file("free")}}));
    }
    for (const auto& id : ids) {
        EXPECT_EQ(wait_final(id).back().outcome, CompletionOutcome::Succeeded);
    }
    EXPECT_EQ(max_overlap(records(file("free"))), 3u);
}

TEST_F(FunctionHostTest, RestartRecoversQueuedAndInterruptedInvocations) {
    // Queued while no host runs (what a crash of serve leaves behind).
    HostOptions o = options(function());
    open(o, /*start=*/false);
    const std::string queued = invoke({{"do", "ok"}});
    host_.reset();

    // Interrupted by a graceful stop whose grace runs out.
    o.stop_grace = 200ms;
    open(o);
    const std::string interrupted = invoke(
        {{"do", "sleep"}, {"seconds", 30}, {"fail_times", 1}, {"counter_file", file("counter")}});
    EXPECT_EQ(wait_final(queued).back().outcome, CompletionOutcome::Succeeded);
    for (int i = 0; i < 500 && read_text(file("counter")) != "1"; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    ASSERT_EQ(read_text(file("counter")), "1");  // it is running now
    const auto stopping = std::chrono::steady_clock::now();
    host_->stop();
    EXPECT_LT(std::chrono::steady_clock::now() - stopping, 3s);
    EXPECT_EQ(host_->stats().functions["photo"].queue_depth, 1u);
    host_.reset();

    open(o);
    EXPECT_EQ(host_->stats().functions["photo"].queue_depth, 1u);
    auto done = wait_final(interrupted);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].outcome, CompletionOutcome::Succeeded);
    EXPECT_EQ(done[0].attempt, 1);  // the stop did not count as a failed attempt
    EXPECT_EQ(read_text(file("counter")), "2");
    EXPECT_TRUE(host_->dead_letters(std::nullopt, 10)->empty());
}

TEST_F(FunctionHostTest, ReplayRunsADeadLetterAgainWithFreshAttempts) {
    open(options(function()));
    const std::string id = invoke({{"do", "fail"},
                                   {"error_type", "Photoflux.PhotoRejected"},
                                   {"fail_times", 1},
                                   {"counter_file", file("counter")}});
    ASSERT_EQ(wait_final(id).back().outcome, CompletionOutcome::DeadLettered);
    ASSERT_EQ(host_->dead_letters(std::nullopt, 10)->size(), 1u);
    EXPECT_EQ(*host_->replay({"00000000-0000-4000-8000-000000000000"}), 0u);

    {
        std::lock_guard lock(mutex_);
        completions_.clear();
    }
    auto replayed = host_->replay({id});
    ASSERT_TRUE(replayed);
    EXPECT_EQ(*replayed, 1u);
    EXPECT_TRUE(host_->dead_letters(std::nullopt, 10)->empty());
    auto done = wait_final(id);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].outcome, CompletionOutcome::Succeeded);
    EXPECT_EQ(done[0].attempt, 1);
    EXPECT_EQ(host_->stats().functions["photo"].queue_depth, 0u);
}

TEST_F(FunctionHostTest, RecursionGuardStopsTheChainAtDepth16) {
    test::LogCapture capture("lambda");
    open(options(function()));
    const std::string hash = crypto::sha256_hex(kArn).substr(0, 8);
    const std::string root = "Root=1-6553f100-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;"
                             "Sampled=0;Lineage=" +
                             hash + ":";

    // Depth 15 still runs, and the function sees 16.
    const std::string last = invoke({{"do", "ok"}, {"record_file", file("records")}}, root + "15");
    EXPECT_EQ(wait_final(last).back().outcome, CompletionOutcome::Succeeded);
    auto seen = records(file("records"));
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_NE(seen[0]["trace"].get<std::string>().find("Lineage=" + hash + ":16"),
              std::string::npos);
    EXPECT_NE(seen[0]["trace"].get<std::string>().find("Root=1-6553f100-"), std::string::npos);

    // Depth 16 is stopped: not invoked, dead-lettered at once, warned about once per chain.
    const std::string stopped =
        invoke({{"do", "ok"}, {"record_file", file("records")}}, root + "16");
    const std::string again = invoke({{"do", "ok"}}, root + "17");
    auto done = wait_final(stopped);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].outcome, CompletionOutcome::DeadLettered);
    EXPECT_EQ(done[0].condition, DeadLetterCondition::RecursionDetected);
    EXPECT_EQ(done[0].attempt, 0);
    EXPECT_EQ(wait_final(again).back().condition, DeadLetterCondition::RecursionDetected);
    EXPECT_EQ(records(file("records")).size(), 1u);
    auto letters = host_->dead_letters(std::nullopt, 10);
    ASSERT_EQ(letters->size(), 2u);
    const json record = json::parse((*letters)[1].record);
    EXPECT_EQ(record["requestContext"]["requestId"], stopped);
    EXPECT_EQ(record["requestContext"]["condition"], "RecursionDetected");
    EXPECT_EQ(record["requestContext"]["approximateInvokeCount"], 0);
    auto stats = host_->stats().functions["photo"];
    EXPECT_EQ(stats.invocations, 1u);
    EXPECT_EQ(stats.dead_letters_by_condition["RecursionDetected"], 2u);
    EXPECT_EQ(capture.sink().count_containing("recursive invocation loop stopped"), 1u);
    host_->stop();
}

TEST_F(FunctionHostTest, OversizedResponseGets413AndFailsTheInvocation) {
    FunctionSettings f = function();
    f.max_retry_attempts = 0;
    open(options(f));
    const std::size_t limit = RuntimeApiLimits{}.max_response_bytes;
    EXPECT_EQ(limit, 6u * 1024 * 1024);  // AWS's 6 MB
    const std::string fits =
        invoke({{"do", "big"}, {"bytes", limit}, {"status_file", file("fits")}});
    EXPECT_EQ(wait_final(fits).back().outcome, CompletionOutcome::Succeeded);
    EXPECT_EQ(wait_text(file("fits")), "202");
    const std::string big =
        invoke({{"do", "big"}, {"bytes", limit + 1}, {"status_file", file("big")}});
    auto done = wait_final(big);
    EXPECT_EQ(wait_text(file("big")), "413");
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].outcome, CompletionOutcome::DeadLettered);
    EXPECT_EQ(done[0].error_type, "Function.ResponseSizeTooLarge");
}

TEST_F(FunctionHostTest, WorkerThatKeepsFailingInitIsRestartedWithBackoff) {
    FunctionSettings f = function();
    f.environment["FAKE_RUNTIME_INIT_ERROR"] = "1";
    f.environment["FAKE_RUNTIME_SPAWN_FILE"] = file("spawns");
    HostOptions o = options(f);
    o.restart_backoff_initial = 100ms;
    o.restart_backoff_max = 400ms;
    open(o);
    const std::string id = invoke({{"do", "ok"}});
    std::this_thread::sleep_for(1500ms);
    // Back-to-back restarts would be 15+ in this time; the backoff (0.1, 0.2, 0.4, 0.4 s ...)
    // allows about 6.
    std::ifstream in(file("spawns"));
    const auto spawns = std::count(std::istreambuf_iterator<char>(in), {}, '\n');
    EXPECT_GE(spawns, 2);
    EXPECT_LE(spawns, 7);
    auto stats = host_->stats().functions["photo"];
    EXPECT_GE(stats.init_failures, 2u);
    EXPECT_EQ(stats.invocations, 0u);
    EXPECT_EQ(stats.queue_depth, 1u);  // the event waits for a healthy worker
    host_->stop();
    EXPECT_TRUE(host_->dead_letters(std::nullopt, 10)->empty());
}

TEST_F(FunctionHostTest, InvokeValidatesFunctionAndPayload) {
    open(options(function()), /*start=*/false);
    EXPECT_TRUE(host_->has_function("photo"));
    EXPECT_TRUE(host_->has_function(kArn));
    EXPECT_TRUE(host_->has_function(std::string(kArn) + ":$LATEST"));
    EXPECT_FALSE(host_->has_function("arn:aws:lambda:eu-west-1:000000000000:function:photo"));
    EXPECT_FALSE(host_->has_function("video"));
    EXPECT_EQ(host_->invoke_async("video", "{}").error().code, ErrorCode::NotFound);
    EXPECT_EQ(host_->invoke_async("photo", "{not json").error().code, ErrorCode::InvalidArgument);
    EXPECT_EQ(
        host_->invoke_async("photo", std::string(200, '[') + std::string(200, ']')).error().code,
        ErrorCode::InvalidArgument);
    const std::string big = "\"" + std::string(1024 * 1024, 'x') + "\"";
    EXPECT_EQ(host_->invoke_async("photo", big).error().code, ErrorCode::TooLarge);
    auto ok = host_->invoke_async(kArn, "{}");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->size(), 36u);
    EXPECT_EQ(host_->stats().functions["photo"].queue_depth, 1u);
}

TEST(FunctionHostOptions, EveryProblemIsListed) {
    test::TempDir dir("pf-lambda-options");
    HostOptions o;
    o.data_dir = dir.path();
    FunctionSettings bad;
    bad.name = "bad name!";
    bad.argv = {"python3"};
    bad.timeout = 0ms;
    bad.max_retry_attempts = 3;
    bad.max_event_age = 7h;
    bad.memory_mb = 64;
    FunctionSettings dup;
    dup.name = "a";
    dup.argv = {"/bin/true"};
    o.functions = {bad, dup, dup};
    auto opened = FunctionHost::open(o);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, ErrorCode::InvalidArgument);
    const std::string& m = opened.error().message;
    for (const char* part : {"name must be", "argv[0]", "timeout", "max_retry_attempts",
                             "max_event_age", "memory_mb", "duplicate function name"}) {
        EXPECT_NE(m.find(part), std::string::npos) << part << " missing in: " << m;
    }
}

TEST(FunctionEnvironment, HasWhatACustomRuntimeExpects) {
    FunctionEnvironmentInputs in;
    in.function_name = "photo";
    in.region = "eu-west-1";
    in.memory_mb = 2048;
    in.handler = "photo.handler";
    in.access_key_id = "AKID";
    in.secret_access_key = "SECRET";
    in.endpoint_url = "http://127.0.0.1:9000";
    in.extra = {{"PHOTOFLUX_RECIPE", "/etc/recipe.yaml"}};
    auto env = function_environment(in);
    EXPECT_EQ(env["AWS_LAMBDA_FUNCTION_NAME"], "photo");
    EXPECT_EQ(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    EXPECT_EQ(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "2048");
    EXPECT_EQ(env["AWS_REGION"], "eu-west-1");
    EXPECT_EQ(env["AWS_DEFAULT_REGION"], "eu-west-1");
    EXPECT_EQ(env["AWS_ACCESS_KEY_ID"], "AKID");
    EXPECT_EQ(env["AWS_SECRET_ACCESS_KEY"], "SECRET");
    EXPECT_EQ(env.count("AWS_SESSION_TOKEN"), 0u);
    EXPECT_EQ(env["AWS_ENDPOINT_URL"], "http://127.0.0.1:9000");
    EXPECT_EQ(env["_HANDLER"], "photo.handler");
    EXPECT_EQ(env["LAMBDA_TASK_ROOT"], "/var/task");
    EXPECT_EQ(env["TZ"], ":UTC");
    EXPECT_FALSE(env["PATH"].empty());
    EXPECT_EQ(env["PHOTOFLUX_RECIPE"], "/etc/recipe.yaml");
    EXPECT_EQ(env.count("AWS_LAMBDA_RUNTIME_API"), 0u);  // the host adds it per environment
    EXPECT_EQ(function_arn("eu-west-1", "photo"),
              "arn:aws:lambda:eu-west-1:000000000000:function:photo");
}

}  // namespace
}  // namespace pf::lambda
