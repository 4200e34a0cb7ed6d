// The Lambda Runtime API (aws-protocols.md §4.1) for ONE execution environment: an http::Server on
// 127.0.0.1 with a port of its own, as AWS gives every environment its own endpoint
// (AWS_LAMBDA_RUNTIME_API). The function host drives it; a custom runtime long-polls it:
//
//   GET  /2018-06-01/runtime/invocation/next          blocks until the host assigns an
//        invocation; 200 with the event and Lambda-Runtime-Aws-Request-Id / -Deadline-Ms /
//        -Invoked-Function-Arn / -Trace-Id
//   POST /2018-06-01/runtime/invocation/{id}/response  202; 413 above max_response_bytes (the
//        invocation then fails with Function.ResponseSizeTooLarge); 400 for an unknown or stale id
//   POST /2018-06-01/runtime/invocation/{id}/error     202; error type from the body's errorType,
//        else the Lambda-Runtime-Function-Error-Type header, else "Unhandled"; a missing,
//        oversized or unparsable body still records the error
//   POST /2018-06-01/runtime/init/error                202, the environment is marked failed; 403
//        once the runtime has polled /next (init is over)
//
// Model: one invocation at a time. The host calls begin_worker() before it starts a worker
// process (a new generation: whatever a previous worker left behind is dropped, and its blocked
// /next, if any, is answered 500 so its thread ends), then waits until next_waiting(), assign()s
// an invocation and waits for take_outcome(), or for the worker to exit or the deadline, and then
// cancel()s. Every state change calls the `changed` callback (never under the server's lock), so
// the host can wait on its own condition variable.
//
// The response body of an async invocation is not kept (only its size): nothing consumes it.
#pragma once

#include "base/result.h"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace pf::http {
class Server;
struct Request;
class RequestBody;
class Response;
}  // namespace pf::http

namespace pf::lambda {

struct RuntimeApiLimits {
    std::size_t max_response_bytes = 6 * 1024 * 1024;  // AWS: 6 MB synchronous response
    std::size_t max_error_body_bytes = 1024 * 1024;    // error JSON kept for parsing; rest ignored
    // Error fields kept (longer ones are cut; the message says so).
    std::size_t max_error_type_bytes = 256;
    std::size_t max_error_message_bytes = 16 * 1024;
    // An oversized response body is read and discarded up to this, so the runtime can read the
    // 413 instead of a reset; beyond it the connection is closed after the 413.
    std::size_t max_drain_bytes = 64 * 1024 * 1024;
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_connections = 16;
};

struct InvocationRequest {
    std::string request_id;
    std::string payload;
    std::int64_t deadline_ms = 0;  // Unix ms (Lambda-Runtime-Deadline-Ms)
    std::string function_arn;
    std::string trace_id;
};

struct RuntimeOutcome {
    enum class Kind { Success, FunctionError };
    Kind kind = Kind::Success;
    std::string error_type;     // FunctionError only
    std::string error_message;  // FunctionError only
    std::uint64_t response_bytes = 0;
};

struct InitFailure {
    std::string error_type;
    std::string error_message;
};

// How a runtime's error body and header become (type, message): body errorType/errorMessage
// first, the header's type next, "Unhandled" last; a non-JSON body becomes the message. Fields
// are cut to the limits. Exposed for tests.
RuntimeOutcome parse_function_error(std::string_view header_type, std::string_view body,
                                    bool body_truncated, const RuntimeApiLimits& limits);

class RuntimeApiServer {
public:
    using Changed = std::function<void()>;

    // Listens on 127.0.0.1:0 and serves on a thread of its own until stop() / destruction.
    static Result<std::unique_ptr<RuntimeApiServer>> start(RuntimeApiLimits limits,
                                                           Changed changed);
    ~RuntimeApiServer();
    RuntimeApiServer(const RuntimeApiServer&) = delete;
    RuntimeApiServer& operator=(const RuntimeApiServer&) = delete;

    // "127.0.0.1:<port>", the AWS_LAMBDA_RUNTIME_API value.
    std::string address() const;

    // A new worker is about to start: drops the invocation, outcome and init failure, answers a
    // waiting /next with 500.
    void begin_worker();
    // The runtime has polled /next since begin_worker() (its init is done).
    bool ready() const;
    // A /next is waiting and no invocation is assigned: the environment is idle.
    bool next_waiting() const;
    // Hands an invocation to the waiting (or next) /next. PreconditionFailed when one is assigned.
    Result<void> assign(InvocationRequest request);
    // The assigned invocation has been delivered to the runtime by /next.
    bool delivered() const;
    bool has_outcome() const;
    // The assigned invocation's outcome, once the runtime posted it; the invocation is then over.
    std::optional<RuntimeOutcome> take_outcome();
    // Abandons the assigned invocation (timeout, crash, stop): later posts for its id get 400.
    void cancel();
    std::optional<InitFailure> init_failure() const;

    // Stops serving: waiting /next calls are answered 500, then the server and its thread end.
    // Idempotent.
    void stop();

private:
    explicit RuntimeApiServer(RuntimeApiLimits limits, Changed changed);

    struct Active {
        InvocationRequest request;
        bool delivered = false;
    };

    void handle(const http::Request& request, http::RequestBody& body, http::Response& response);
    void handle_next(http::Response& response);
    void handle_response(const std::string& request_id, const http::Request& request,
                         http::RequestBody& body, http::Response& response);
    void handle_error(const std::string& request_id, const http::Request& request,
                      http::RequestBody& body, http::Response& response);
    void handle_init_error(const http::Request& request, http::RequestBody& body,
                           http::Response& response);
    // Whether `request_id` is the delivered, unanswered invocation.
    bool current(const std::string& request_id) const;
    // Records the outcome if `request_id` is still current; false when it is not.
    bool settle(const std::string& request_id, RuntimeOutcome outcome);
    void notify();

    RuntimeApiLimits limits_;
    Changed changed_;
    std::unique_ptr<http::Server> server_;
    std::thread thread_;

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    bool stopped_ = false;
    std::uint64_t generation_ = 0;
    bool ready_ = false;
    std::uint64_t next_ticket_ = 0;
    std::uint64_t waiting_ticket_ = 0;  // the newest waiting /next; 0: none
    std::optional<Active> active_;
    std::optional<RuntimeOutcome> outcome_;
    std::optional<InitFailure> init_failure_;
};

}  // namespace pf::lambda
