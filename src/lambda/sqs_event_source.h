// SqsEventSource: an SQS queue of S3 events as the event source of a function, the way AWS
// Lambda's event source mapping consumes a queue (aws-protocols.md §3.6, §6.3). It is what
// `photoflux worker` runs; several workers on several machines share one queue.
//
// - One poller thread long-polls the queue (ReceiveMessage, `wait` seconds, at most 10 and never
//   more than `concurrency` minus the messages in flight), asking for `visibility_timeout`.
// - Each message is unwrapped (aws::unwrap_queued_s3_event: the S3 event itself, or wrapped by
//   SNS, enveloped or raw):
//     S3 event      -> one invocation through the EventInvoker (the FunctionHost in production);
//     s3:TestEvent  -> deleted (S3 sends it when the notification is configured) and logged;
//     unrecognised  -> logged (warn) and LEFT on the queue: a message no function can process
//                      belongs in the dead-letter queue, which the queue's redrive policy moves
//                      it to after maxReceiveCount receives. Without a redrive policy it comes
//                      back every visibility timeout until its retention period ends.
// - Success -> DeleteMessage. Failure (the function's error, a crash, a timeout, an event the
//   host refused) -> nothing: the message becomes visible again when its visibility lapses and
//   is received again (SQS's redelivery is the retry; the invoker must not retry on its own).
// - While an invocation runs, a keeper thread extends the message's visibility
//   (ChangeMessageVisibility to `visibility_timeout`) every half of it, so a slow photo is not
//   handed to a second worker. It stops extending once the invocation has run for
//   `function_timeout` plus one visibility timeout (the host kills an invocation at its timeout;
//   one that still has not ended is stuck, and its message goes back to the queue).
// - stop(grace): no more receives (a long poll under way finishes, and what it brings is
//   released at once); invocations in flight get `grace` to finish (and their messages are
//   deleted or left as above); the rest are released (ChangeMessageVisibility 0) so another
//   worker takes them now rather than after the visibility timeout. Their late outcomes are
//   ignored.
//
// Delivery is at-least-once (SQS standard queues, a worker dying mid-photo, a delete that fails):
// the function is idempotent. Every log line names the message id and the X-Ray trace Root given
// to the invocation (the message's AWSTraceHeader when it has one, else a fresh one).
#pragma once

#include "aws/http_transport.h"
#include "aws/sqs_client.h"
#include "base/metrics.h"
#include "base/result.h"
#include "lambda/function_host.h"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

namespace pf::lambda {

// How one invocation ended.
struct InvocationResult {
    bool succeeded = false;
    std::string error_type;  // failures: "Sandbox.Timedout", "Runtime.ExitError", the function's
    std::string error_message;
    double duration_ms = 0;
};
using InvocationDone = std::function<void(const InvocationResult&)>;

// What runs an event: FunctionHostInvoker in production, a fake in tests.
class EventInvoker {
public:
    virtual ~EventInvoker() = default;
    // Starts one invocation of `event` (JSON text). `done` is called exactly once when it ends,
    // from any thread, possibly before invoke() returns. An error means it did not start and
    // `done` is never called. Returns an id for the logs.
    virtual Result<std::string> invoke(std::string_view event, std::string_view trace_id,
                                       InvocationDone done) = 0;
};

// EventInvoker on a FunctionHost: invoke_async, and the outcome from its on_completion. The
// function should have max_retry_attempts 0 (any completion other than Succeeded counts as the
// end of a failed invocation), and the host keep_dead_letters false. Wire on_completion() into
// HostOptions::on_completion before the host is opened, attach() the host before invoking.
class FunctionHostInvoker final : public EventInvoker {
public:
    explicit FunctionHostInvoker(std::string function);
    void attach(FunctionHost* host);
    void on_completion(const Completion& completion);
    Result<std::string> invoke(std::string_view event, std::string_view trace_id,
                               InvocationDone done) override;

private:
    std::string function_;
    FunctionHost* host_ = nullptr;
    std::mutex mutex_;
    std::unordered_map<std::string, InvocationDone> pending_;  // by request id
};

struct SqsEventSourceOptions {
    std::string queue_url;
    std::size_t concurrency = 1;                 // messages in flight at most, 1..1000
    std::chrono::seconds wait{20};               // long polling, 1..20 s
    std::chrono::seconds visibility_timeout{60};  // 2 s..12 h; asked on receive, kept while running
    std::chrono::milliseconds function_timeout{60'000};
    // After a failed ReceiveMessage (the client has retried already): this, doubling up to 30 s.
    std::chrono::milliseconds receive_backoff{1'000};
    MetricsRegistry* metrics = nullptr;  // photoflux_worker_* when given
};

struct SqsEventSourceStats {
    std::uint64_t received = 0;      // messages received (each receive of a message counts)
    std::uint64_t invoked = 0;       // invocations started
    std::uint64_t deleted = 0;       // messages deleted after a successful invocation
    std::uint64_t failed = 0;        // invocations that failed or did not start (message left)
    std::uint64_t released = 0;      // messages made visible again at stop
    std::uint64_t test_events = 0;   // s3:TestEvent messages deleted
    std::uint64_t unrecognised = 0;  // messages left because they are not S3 events
    std::uint64_t visibility_extensions = 0;
    std::uint64_t sqs_errors = 0;  // failed receives, deletes, visibility changes
    std::uint64_t in_flight = 0;   // invocations running now
    std::map<std::string, std::uint64_t> invocations_by_outcome;  // success/error/timeout/crash
};

class SqsEventSource {
public:
    // `transport` must be safe to use from two threads at once; it and `invoker` must outlive
    // the event source.
    SqsEventSource(aws::HttpTransport& transport, aws::SqsClientOptions client_options,
                   EventInvoker& invoker, SqsEventSourceOptions options);
    // Calls stop(0).
    ~SqsEventSource();
    SqsEventSource(const SqsEventSource&) = delete;
    SqsEventSource& operator=(const SqsEventSource&) = delete;

    // InvalidArgument for unusable options; starts the poller and the keeper. Once only.
    Result<void> start();
    // See above. Returns when both threads are gone. Idempotent.
    void stop(std::chrono::milliseconds grace);
    SqsEventSourceStats stats() const;

private:
    struct InFlight {
        std::string message_id;
        std::string receipt_handle;
        std::string trace_root;
        std::string photo;       // "bucket/key" of the first record, for the logs
        std::string request_id;  // of the invocation
        int receive_count = 0;
        std::chrono::steady_clock::time_point started;
        std::chrono::steady_clock::time_point next_extension;
        bool extending = true;
        bool invoke_returned = false;            // the request id is known
        std::optional<InvocationResult> result;  // set when the invocation ended
    };

    void poll_loop();
    void keeper_loop();
    void handle(const aws::SqsMessage& message);
    void finished(std::uint64_t id, const InvocationResult& result);
    void register_metrics();

    aws::HttpTransport& transport_;
    aws::SqsClientOptions client_options_;
    EventInvoker& invoker_;
    SqsEventSourceOptions options_;
    std::unique_ptr<aws::SqsClient> poll_client_;
    std::unique_ptr<aws::SqsClient> keep_client_;

    mutable std::mutex mutex_;
    std::condition_variable poll_cv_;  // room for more messages, or stopping
    std::condition_variable keep_cv_;  // an outcome arrived, or stopping
    bool started_ = false;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point drain_deadline_{};
    std::uint64_t next_id_ = 0;
    std::map<std::uint64_t, InFlight> in_flight_;
    SqsEventSourceStats stats_;
    Histogram* duration_ = nullptr;
    std::thread poller_;
    std::thread keeper_;
    std::mutex lifecycle_mutex_;
};

// Checks the queue URL the way a worker's command line gives it: http(s)://host[:port]/path, at
// most 2048 bytes, printable ASCII.
Result<void> validate_queue_url(std::string_view url);

}  // namespace pf::lambda
