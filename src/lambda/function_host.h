// FunctionHost: the Lambda-style function host of `photoflux serve`. It runs, per function, a pool
// of execution environments (each a worker process speaking the Runtime API to a server of its
// own), takes asynchronous invocations into a durable queue, and runs them with AWS's async
// semantics (aws-protocols.md §4.5):
//
// - invoke_async() validates the event (JSON, at most max_async_payload_bytes), makes it durable
//   and returns a request id (202 on AWS). Each queued invocation runs on one environment at a
//   time; an environment runs one invocation at a time.
// - A failed attempt (the function posted an error, the worker exited mid-invocation:
//   "Runtime.ExitError", the deadline passed and the worker was killed: "Sandbox.Timedout", the
//   response was over 6 MB: "Function.ResponseSizeTooLarge") is retried after retry_base_delay,
//   then twice that (AWS: ~1 min, then ~2 min), up to max_retry_attempts (0..2) retries. Before
//   each attempt the attempts and the event's age (max_event_age) are checked.
// - Exhausted events become dead letters with the on-failure destination record
//   (destination_record.h): RetriesExhausted, EventAgeExceeded, RecursionDetected, or Rejected
//   (a Photoflux extension: an error type listed in non_retryable_error_types, by default
//   "Photoflux.PhotoRejected", dead-letters the event at once: retrying cannot help).
// - Recursion guard: invoke_async reads the Lineage count of the caller's X-Ray trace
//   (trace_header.h); at max_recursion_depth or more it does not invoke but dead-letters the event
//   (RecursionDetected) and warns once per trace root. The function receives the count plus one.
// - A worker that dies is replaced; one that keeps dying before doing any work is restarted with
//   a growing backoff (restart_backoff_initial .. restart_backoff_max) instead of spinning.
// - reserved_concurrency caps how many environments of the function are busy at once;
//   environments beyond the cap stay warm as spares (a crash does not wait for a restart).
// - stop() is graceful: no new attempts start; running ones get stop_grace to finish (their
//   outcome is recorded), then their workers are killed and those invocations stay queued,
//   untouched, for the next start. A crash of serve leaves the queue as it was, too: invocations
//   that were running are attempted again (at-least-once; handlers are idempotent).
//
// Threads: one per environment (it owns the worker process and runs its invocations), plus each
// Runtime API server's threads and each worker's monitor thread. Public methods are thread-safe.
#pragma once

#include "base/clock.h"
#include "base/result.h"
#include "lambda/destination_record.h"
#include "lambda/invocation_store.h"
#include "lambda/runtime_api_server.h"

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

namespace pf::lambda {

class WorkerProcess;

// "arn:aws:lambda:<region>:000000000000:function:<name>"
std::string function_arn(std::string_view region, std::string_view name);

// What a function's environment holds besides AWS_LAMBDA_RUNTIME_API (which the host adds per
// environment). Built by function_environment(); app/ fills it from the serve configuration.
struct FunctionEnvironmentInputs {
    std::string function_name;
    std::string region = "us-east-1";
    int memory_mb = 1024;
    std::string handler;                  // _HANDLER (free-form for a custom runtime)
    std::string task_root = "/var/task";  // LAMBDA_TASK_ROOT
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;  // AWS_SESSION_TOKEN, only set when not empty
    std::string endpoint_url;   // AWS_ENDPOINT_URL (serve's own API port); only when not empty
    std::string path = "/usr/local/bin:/usr/bin:/bin";
    std::map<std::string, std::string> extra;  // added last; may override the above
};

// AWS_LAMBDA_FUNCTION_NAME / _VERSION ($LATEST) / _MEMORY_SIZE, AWS_LAMBDA_LOG_GROUP_NAME,
// AWS_LAMBDA_LOG_STREAM_NAME, AWS_LAMBDA_INITIALIZATION_TYPE (on-demand), AWS_REGION,
// AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
// AWS_ENDPOINT_URL, _HANDLER, LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR, TZ (":UTC"), LANG (C.UTF-8),
// PATH.
std::map<std::string, std::string> function_environment(const FunctionEnvironmentInputs& inputs);

struct FunctionSettings {
    std::string name;               // 1..64 of [A-Za-z0-9_-]
    std::string arn;                // empty: function_arn(HostOptions::region, name)
    std::vector<std::string> argv;  // argv[0]: path of the runtime executable
    std::map<std::string, std::string> environment;  // see function_environment()
    std::size_t environments = 0;                    // 0: hardware cores
    std::chrono::milliseconds timeout{60'000};       // per invocation; AWS allows up to 900 s
    int memory_mb = 1024;
    int max_retry_attempts = 2;                                // 0..2
    std::chrono::milliseconds max_event_age{6 * 3600 * 1000};  // up to 6 h (AWS: 60 s..6 h)
    std::chrono::milliseconds retry_base_delay{60'000};        // 1st retry after this, 2nd after 2x
    std::size_t reserved_concurrency = 0;  // most environments busy at once; 0: no cap
    std::set<std::string> non_retryable_error_types = {"Photoflux.PhotoRejected"};
    std::uint32_t max_recursion_depth = 16;
};

enum class CompletionOutcome {
    Succeeded,     // the function returned a response
    Retrying,      // the attempt failed; the invocation is queued for another
    DeadLettered,  // the event is now a dead letter (condition says why)
};

struct Completion {
    std::string request_id;
    std::string function;
    CompletionOutcome outcome = CompletionOutcome::Succeeded;
    int attempt = 0;         // 1-based number of the attempt that just ended (0: none was made)
    std::string error_type;  // of a failed attempt (or the reason for a dead letter)
    std::string error_message;
    std::optional<DeadLetterCondition> condition;  // DeadLettered only
    double duration_ms = 0;                        // of the attempt
};

struct HostOptions {
    std::filesystem::path data_dir;  // the store is <data_dir>/lambda/lambda.sqlite
    std::string region = "us-east-1";
    std::vector<FunctionSettings> functions;
    const Clock* clock = nullptr;  // wall clock for persisted times; null: the system clock
    std::chrono::milliseconds stop_grace{10'000};    // running invocations get this on stop()
    std::chrono::milliseconds init_timeout{10'000};  // spawn to first /next (AWS: 10 s init)
    std::chrono::milliseconds restart_backoff_initial{1'000};
    std::chrono::milliseconds restart_backoff_max{30'000};
    std::chrono::milliseconds idle_poll{1'000};  // longest sleep before the queue is read again
    std::size_t max_async_payload_bytes = 1024 * 1024;  // AWS: 1 MB for asynchronous invokes
    std::size_t max_payload_json_depth = 64;
    std::size_t max_log_line_bytes = 8 * 1024;
    RuntimeApiLimits runtime_api;
    // false: an exhausted invocation leaves the queue without being kept as a dead letter (no
    // destination record is written; the Completion still says DeadLettered with its condition,
    // and the stats count it). For callers whose event source keeps failed events itself, as
    // `photoflux worker` leaves them to the SQS queue's redrive policy.
    bool keep_dead_letters = true;
    // Called after each outcome is recorded, from the host's threads (or invoke_async's caller
    // for RecursionDetected). Must be thread-safe and quick; must not call stop().
    std::function<void(const Completion&)> on_completion;
};

// Upper bounds (ms) of the duration histogram buckets; the last bucket is everything above.
inline constexpr std::array<double, 13> kDurationBucketsMs = {
    10, 50, 100, 250, 500, 1'000, 2'500, 5'000, 10'000, 30'000, 60'000, 300'000, 900'000};

struct FunctionStats {
    std::uint64_t invocations = 0;  // attempts started
    std::uint64_t successes = 0;
    std::uint64_t function_errors = 0;  // errors the function reported (incl. oversized responses)
    std::uint64_t timeouts = 0;         // Sandbox.Timedout
    std::uint64_t crashes = 0;          // Runtime.ExitError
    std::uint64_t retries = 0;          // failed attempts queued again
    std::uint64_t dead_letters = 0;
    std::map<std::string, std::uint64_t> dead_letters_by_condition;
    std::uint64_t worker_starts = 0;
    std::uint64_t init_failures = 0;       // workers that failed before their first /next
    std::uint64_t environments = 0;        // configured execution environments
    std::uint64_t environments_ready = 0;  // with a worker whose runtime has polled /next
    std::uint64_t queue_depth = 0;         // queued invocations (due or waiting for a retry)
    std::uint64_t in_flight = 0;           // attempts running now
    double duration_ms_sum = 0;
    std::uint64_t duration_count = 0;
    // Per bucket (not cumulative): [i] counts durations <= kDurationBucketsMs[i] and above the
    // previous bound; the last entry counts the rest.
    std::array<std::uint64_t, kDurationBucketsMs.size() + 1> duration_buckets{};
};

struct HostStats {
    std::map<std::string, FunctionStats> functions;
    FunctionStats total() const;
};

class FunctionHost {
public:
    // Validates every function (InvalidArgument listing each problem) and opens the store.
    static Result<std::unique_ptr<FunctionHost>> open(HostOptions options);
    // Calls stop().
    ~FunctionHost();
    FunctionHost(const FunctionHost&) = delete;
    FunctionHost& operator=(const FunctionHost&) = delete;

    // Starts every environment's Runtime API server and worker; queued invocations (from a
    // previous run too) start running. Once only: PreconditionFailed after a start or stop.
    Result<void> start();
    // Graceful stop (see above). Returns when every thread and worker is gone. Idempotent.
    void stop();

    // `function`: a name or ARN (an ARN may carry ":$LATEST"). NotFound for an unknown function,
    // TooLarge / InvalidArgument for an unacceptable payload. Durable before it returns. Works
    // before start() too (the invocation waits in the queue).
    Result<std::string> invoke_async(std::string_view function, std::string_view payload,
                                     std::string_view trace_id = {});
    bool has_function(std::string_view name_or_arn) const;
    // The ARN of a configured function, or empty.
    std::string arn_of(std::string_view name_or_arn) const;
    // Newest first; one function's (name or ARN) when given.
    Result<std::vector<StoredDeadLetter>> dead_letters(const std::optional<std::string>& function,
                                                       std::size_t limit);
    // Re-enqueues dead letters (fresh attempts and age) and removes them from the dead letters.
    // No ids: every dead letter (of `function` when given). Returns how many were replayed.
    Result<std::size_t> replay(const std::vector<std::string>& request_ids,
                               const std::optional<std::string>& function = std::nullopt);
    HostStats stats() const;

private:
    struct Function;
    struct Environment;

    explicit FunctionHost(HostOptions options, std::unique_ptr<InvocationStore> store);

    const Function* find(std::string_view name_or_arn) const;
    std::int64_t now_ms() const;

    void run_environment(Environment& env);
    // With the lock held: starts a worker (unlocking around the spawn).
    void start_worker(Environment& env, std::unique_lock<std::mutex>& lock);
    // With the lock held: kills (if needed) and destroys the worker (unlocking around it); with
    // `failed` the next start waits for the backoff.
    void retire_worker(Environment& env, std::unique_lock<std::mutex>& lock, bool failed,
                       const std::string& why);
    // With the lock held: gives back a claimed invocation's slot and wakes the function's
    // environments.
    void release(Function& fn, const std::string& request_id);
    // Runs one claimed invocation on the environment (lock held on entry and exit, released
    // inside): checks age and attempts, hands it to the runtime, waits for the outcome, the
    // worker's exit, the deadline or the end of the stop grace, and records what happened.
    void run_invocation(Environment& env, const std::string& request_id,
                        std::unique_lock<std::mutex>& lock);
    // Dead-letters or re-queues after a failed attempt (no lock held).
    void record_failure(Function& fn, const QueuedInvocation& inv, int attempt,
                        const std::string& error_type, const std::string& error_message,
                        double duration_ms);
    // Records a dead letter with its destination record (no lock held). `was_queued`: the
    // invocation was in the queue (it leaves it).
    Result<void> write_dead_letter(Function& fn, QueuedInvocation inv,
                                   DeadLetterCondition condition, int invoke_count,
                                   std::optional<FunctionErrorInfo> error, bool was_queued,
                                   double duration_ms = 0);
    void wake_function(Function& fn);
    void notify_environment(Environment& env);
    void complete(const Completion& completion);

    HostOptions options_;
    SystemClock system_clock_;
    const Clock& clock_;
    std::unique_ptr<InvocationStore> store_;
    std::vector<std::unique_ptr<Function>> functions_;

    mutable std::mutex mutex_;
    std::mutex lifecycle_mutex_;
    bool started_ = false;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point stop_deadline_{};
    std::unordered_set<std::string> warned_roots_;  // recursion warnings already logged
};

}  // namespace pf::lambda
