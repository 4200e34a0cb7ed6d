#include "lambda/sqs_event_source.h"

#include "aws/uri_encoding.h"
#include "base/json_depth.h"
#include "base/logging.h"
#include "crypto/encoding.h"
#include "crypto/random.h"
#include "lambda/trace_header.h"
#include "lambda/worker_process.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace pf::lambda {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxConcurrency = 1000;
constexpr std::size_t kMaxQueueUrlBytes = 2048;
constexpr std::size_t kMaxBatch = 10;  // ReceiveMessage's MaxNumberOfMessages
constexpr milliseconds kMaxReceiveBackoff{30'000};
constexpr std::chrono::seconds kMaxVisibility{43'200};

spdlog::logger& logger() {
    static auto instance = component_logger("worker");
    return *instance;
}

double millis_since(Steady::time_point start) {
    return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

// "success", "error", "timeout", "crash" (as serve's photoflux_function_invocations_total).
std::string outcome_of(const InvocationResult& r) {
    if (r.succeeded) return "success";
    if (r.error_type == "Sandbox.Timedout") return "timeout";
    if (r.error_type == "Runtime.ExitError") return "crash";
    return "error";
}

// A fresh X-Ray trace for a message that carries none: Root=1-<epoch hex>-<96 random bits>.
std::string fresh_trace() {
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    char epoch[16];
    std::snprintf(epoch, sizeof epoch, "%08llx", static_cast<unsigned long long>(secs));
    return "Root=1-" + std::string(epoch) + "-" + crypto::hex_encode(crypto::random_bytes(12)) +
           ";Sampled=0";
}

// "bucket/key" of the event's first record (and " +N" more), escaped for the logs (which quote
// it: keys may hold spaces); "-" when unreadable.
std::string photo_of(const std::string& event_json) {
    if (json_nesting_exceeds(event_json, 64)) return "-";
    auto event = nlohmann::json::parse(event_json, nullptr, false);
    if (!event.is_object() || !event.contains("Records") || !event["Records"].is_array() ||
        event["Records"].empty()) {
        return "-";
    }
    const auto& records = event["Records"];
    const auto& s3 = records[0].is_object() ? records[0].value("s3", nlohmann::json::object())
                                            : nlohmann::json::object();
    std::string bucket;
    std::string key;
    if (s3.is_object() && s3.contains("bucket") && s3["bucket"].is_object()) {
        bucket = s3["bucket"].value("name", "");
    }
    if (s3.is_object() && s3.contains("object") && s3["object"].is_object()) {
        key = s3["object"].value("key", "");
        if (auto decoded = aws::form_decode(key)) key = *decoded;  // as S3 sends it otherwise
    }
    std::string out = escape_log_text(bucket + "/" + key);
    if (out.size() > 512) out = out.substr(0, 512) + "...";
    if (records.size() > 1) out += " +" + std::to_string(records.size() - 1);
    return out;
}

}  // namespace

// --- FunctionHostInvoker ---

FunctionHostInvoker::FunctionHostInvoker(std::string function) : function_(std::move(function)) {}

void FunctionHostInvoker::attach(FunctionHost* host) {
    std::lock_guard lock(mutex_);
    host_ = host;
}

Result<std::string> FunctionHostInvoker::invoke(std::string_view event, std::string_view trace_id,
                                                InvocationDone done) {
    // The lock is held across invoke_async: an outcome that arrives before it returns waits in
    // on_completion until the request id is known.
    std::lock_guard lock(mutex_);
    if (!host_) {
        return make_error(ErrorCode::Unavailable, "the function host is not attached");
    }
    auto id = host_->invoke_async(function_, event, trace_id);
    if (!id) {
        return id.error();
    }
    pending_.emplace(*id, std::move(done));
    return *id;
}

void FunctionHostInvoker::on_completion(const Completion& completion) {
    InvocationDone done;
    {
        std::lock_guard lock(mutex_);
        auto it = pending_.find(completion.request_id);
        if (it == pending_.end()) return;
        done = std::move(it->second);
        pending_.erase(it);
    }
    InvocationResult result;
    result.succeeded = completion.outcome == CompletionOutcome::Succeeded;
    result.error_type = completion.error_type;
    result.error_message = completion.error_message;
    result.duration_ms = completion.duration_ms;
    done(result);
}

// --- SqsEventSource ---

Result<void> validate_queue_url(std::string_view url) {
    if (url.empty()) {
        return make_error(ErrorCode::InvalidArgument, "the queue URL is empty");
    }
    if (url.size() > kMaxQueueUrlBytes) {
        return make_error(ErrorCode::InvalidArgument,
                          "the queue URL is longer than " + std::to_string(kMaxQueueUrlBytes) +
                              " bytes");
    }
    for (char c : url) {
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
            return make_error(ErrorCode::InvalidArgument,
                              "the queue URL has a character outside printable ASCII");
        }
    }
    std::string_view rest;
    if (url.substr(0, 7) == "http://") {
        rest = url.substr(7);
    } else if (url.substr(0, 8) == "https://") {
        rest = url.substr(8);
    } else {
        return make_error(ErrorCode::InvalidArgument,
                          "the queue URL must start with http:// or https:// (e.g. "
                          "https://sqs.us-east-1.amazonaws.com/123456789012/photos)");
    }
    auto slash = rest.find('/');
    if (slash == 0 || slash == std::string_view::npos || slash + 1 >= rest.size()) {
        return make_error(ErrorCode::InvalidArgument,
                          "the queue URL must name a host and a queue path (e.g. "
                          "https://sqs.us-east-1.amazonaws.com/123456789012/photos)");
    }
    return {};
}

SqsEventSource::SqsEventSource(aws::HttpTransport& transport,
                               aws::SqsClientOptions client_options, EventInvoker& invoker,
                               SqsEventSourceOptions options)
    : transport_(transport), client_options_(std::move(client_options)), invoker_(invoker),
      options_(std::move(options)) {}

SqsEventSource::~SqsEventSource() {
    stop(milliseconds(0));
}

Result<void> SqsEventSource::start() {
    std::lock_guard lifecycle(lifecycle_mutex_);
    std::vector<std::string> problems;
    if (auto valid = validate_queue_url(options_.queue_url); !valid) {
        problems.push_back(valid.error().message);
    }
    if (options_.concurrency < 1 || options_.concurrency > kMaxConcurrency) {
        problems.push_back("concurrency must be between 1 and " + std::to_string(kMaxConcurrency));
    }
    if (options_.wait < std::chrono::seconds(1) || options_.wait > std::chrono::seconds(20)) {
        problems.push_back("the long-poll wait must be between 1 and 20 seconds");
    }
    if (options_.visibility_timeout < std::chrono::seconds(2) ||
        options_.visibility_timeout > kMaxVisibility) {
        problems.push_back("the visibility timeout must be between 2 seconds and 12 hours");
    }
    if (options_.function_timeout <= milliseconds(0)) {
        problems.push_back("the function timeout must be positive");
    }
    if (options_.receive_backoff <= milliseconds(0)) {
        problems.push_back("the receive backoff must be positive");
    }
    if (!problems.empty()) {
        std::string message = "invalid SQS event source:";
        for (const auto& p : problems) message += "\n  " + p;
        return make_error(ErrorCode::InvalidArgument, message);
    }
    {
        std::lock_guard lock(mutex_);
        if (started_ || stopping_) {
            return make_error(ErrorCode::PreconditionFailed, "the event source was started before");
        }
        started_ = true;
    }
    poll_client_ = std::make_unique<aws::SqsClient>(transport_, client_options_);
    keep_client_ = std::make_unique<aws::SqsClient>(transport_, client_options_);
    register_metrics();
    keeper_ = std::thread([this] { keeper_loop(); });
    poller_ = std::thread([this] { poll_loop(); });
    logger().info("event=worker_polling queue={} concurrency={} visibility_s={} wait_s={}",
                  options_.queue_url, options_.concurrency, options_.visibility_timeout.count(),
                  options_.wait.count());
    return {};
}

void SqsEventSource::stop(milliseconds grace) {
    std::lock_guard lifecycle(lifecycle_mutex_);
    {
        std::lock_guard lock(mutex_);
        if (!stopping_) {
            stopping_ = true;
            drain_deadline_ = Steady::now() + grace;
            if (started_) {
                logger().info("event=worker_stopping in_flight={} grace_ms={}", in_flight_.size(),
                              grace.count());
            }
        }
        poll_cv_.notify_all();
        keep_cv_.notify_all();
    }
    // The keeper drains (or releases at the deadline) while the poller finishes its long poll.
    if (keeper_.joinable()) keeper_.join();
    if (poller_.joinable()) poller_.join();
}

SqsEventSourceStats SqsEventSource::stats() const {
    std::lock_guard lock(mutex_);
    SqsEventSourceStats out = stats_;
    out.in_flight = in_flight_.size();
    return out;
}

void SqsEventSource::register_metrics() {
    if (!options_.metrics) return;
    auto& m = *options_.metrics;
    struct Counted {
        const char* name;
        const char* help;
        std::uint64_t SqsEventSourceStats::*field;
    };
    static const Counted counted[] = {
        {"photoflux_worker_messages_received_total", "SQS messages received (every receive).",
         &SqsEventSourceStats::received},
        {"photoflux_worker_messages_deleted_total",
         "SQS messages deleted after their invocation succeeded.", &SqsEventSourceStats::deleted},
        {"photoflux_worker_messages_failed_total",
         "SQS messages left on the queue because their invocation failed or did not start.",
         &SqsEventSourceStats::failed},
        {"photoflux_worker_messages_released_total",
         "SQS messages made visible again at stop, unfinished.", &SqsEventSourceStats::released},
        {"photoflux_worker_test_events_total", "S3 TestEvent messages deleted.",
         &SqsEventSourceStats::test_events},
        {"photoflux_worker_messages_unrecognised_total",
         "SQS messages left on the queue because they hold no S3 event.",
         &SqsEventSourceStats::unrecognised},
        {"photoflux_worker_visibility_extensions_total",
         "ChangeMessageVisibility calls that kept a running message hidden.",
         &SqsEventSourceStats::visibility_extensions},
        {"photoflux_worker_sqs_errors_total",
         "Failed SQS calls (receive, delete, change visibility) after the client's retries.",
         &SqsEventSourceStats::sqs_errors},
    };
    for (const Counted& c : counted) {
        auto field = c.field;
        m.counter_callback(c.name, c.help, [this, field] {
            std::lock_guard lock(mutex_);
            return static_cast<double>(stats_.*field);
        });
    }
    m.gauge_callback("photoflux_worker_in_flight", "Invocations of received messages running now.",
                     [this] {
                         std::lock_guard lock(mutex_);
                         return static_cast<double>(in_flight_.size());
                     });
    for (const char* outcome : {"success", "error", "timeout", "crash"}) {
        std::string o = outcome;
        m.counter_callback("photoflux_worker_invocations_total",
                           "Invocations of received messages, by how they ended.",
                           [this, o] {
                               std::lock_guard lock(mutex_);
                               auto it = stats_.invocations_by_outcome.find(o);
                               return it == stats_.invocations_by_outcome.end()
                                          ? 0.0
                                          : static_cast<double>(it->second);
                           },
                           {{"outcome", o}});
    }
    duration_ = &m.histogram("photoflux_worker_invocation_duration_seconds",
                             "Duration of invocations of received messages.", latency_buckets());
}

void SqsEventSource::poll_loop() {
    milliseconds backoff = options_.receive_backoff;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (in_flight_.size() >= options_.concurrency) {
            poll_cv_.wait(lock);
            continue;
        }
        aws::SqsReceive request;
        request.queue_url = options_.queue_url;
        request.max_messages =
            static_cast<int>(std::min(kMaxBatch, options_.concurrency - in_flight_.size()));
        request.wait = options_.wait;
        request.visibility_timeout = options_.visibility_timeout;
        lock.unlock();
        auto received = poll_client_->receive(request);
        if (!received) {
            logger().error("event=receive_failed queue={} error=\"{}\" retry_in_ms={}",
                           options_.queue_url, escape_log_text(received.error().message),
                           backoff.count());
            lock.lock();
            ++stats_.sqs_errors;
            poll_cv_.wait_for(lock, backoff, [this] { return stopping_; });
            backoff = std::min(backoff * 2, kMaxReceiveBackoff);
            continue;
        }
        backoff = options_.receive_backoff;
        for (const aws::SqsMessage& message : *received) {
            handle(message);
        }
        lock.lock();
    }
}

void SqsEventSource::handle(const aws::SqsMessage& message) {
    const int receive_count = message.receive_count();
    const std::string message_id = escape_log_text(message.message_id);
    aws::QueuedS3Event unwrapped = aws::unwrap_queued_s3_event(message.body);
    auto trace_it = message.attributes.find("AWSTraceHeader");
    const std::string trace =
        trace_it != message.attributes.end() && trace_header_usable(trace_it->second)
            ? trace_it->second
            : fresh_trace();
    const std::string root = trace_root(trace);

    // The stop check and the registration of the invocation are one step: the keeper drains
    // exactly what was registered before the stop.
    std::uint64_t id = 0;
    bool stopping = false;
    {
        std::lock_guard lock(mutex_);
        ++stats_.received;
        stopping = stopping_;
        if (!stopping && unwrapped.kind == aws::QueuedS3Event::Kind::S3Event) {
            InFlight entry;
            entry.message_id = message.message_id;
            entry.receipt_handle = message.receipt_handle;
            entry.trace_root = root;
            entry.photo = photo_of(unwrapped.event_json);
            entry.receive_count = receive_count;
            entry.started = Steady::now();
            entry.next_extension = entry.started + options_.visibility_timeout / 2;
            id = ++next_id_;
            logger().info("event=message_received message_id={} receive_count={} photo=\"{}\" "
                          "via_sns={} trace={}",
                          message_id, receive_count, entry.photo, unwrapped.via_sns, root);
            in_flight_.emplace(id, std::move(entry));
        }
    }
    if (stopping) {
        // Received by a long poll that was under way when the stop began: not started, and
        // handed back at once.
        auto released = poll_client_->change_visibility(options_.queue_url,
                                                        message.receipt_handle,
                                                        std::chrono::seconds(0));
        std::lock_guard lock(mutex_);
        if (released) {
            ++stats_.released;
            logger().info("event=message_released message_id={} reason=stopping_before_start",
                          message_id);
        } else {
            ++stats_.sqs_errors;
            logger().warn("event=release_failed message_id={} error=\"{}\"", message_id,
                          escape_log_text(released.error().message));
        }
        return;
    }
    if (unwrapped.kind == aws::QueuedS3Event::Kind::TestEvent) {
        auto deleted = poll_client_->delete_message(options_.queue_url, message.receipt_handle);
        std::lock_guard lock(mutex_);
        if (deleted) {
            ++stats_.test_events;
            logger().info("event=test_event_deleted message_id={} via_sns={}", message_id,
                          unwrapped.via_sns);
        } else {
            ++stats_.sqs_errors;
            logger().warn("event=delete_failed message_id={} error=\"{}\"", message_id,
                          escape_log_text(deleted.error().message));
        }
        return;
    }
    if (unwrapped.kind != aws::QueuedS3Event::Kind::S3Event) {
        std::lock_guard lock(mutex_);
        ++stats_.unrecognised;
        logger().warn("event=message_unrecognised message_id={} receive_count={} reason=\"{}\" "
                      "action=left_for_the_redrive_policy",
                      message_id, receive_count, escape_log_text(unwrapped.reason));
        return;
    }
    auto invoked = invoker_.invoke(unwrapped.event_json, trace,
                                   [this, id](const InvocationResult& r) { finished(id, r); });
    std::lock_guard lock(mutex_);
    auto it = in_flight_.find(id);
    if (!invoked) {
        ++stats_.failed;
        logger().error("event=invocation_not_started message_id={} photo=\"{}\" error=\"{}\" "
                       "action=left_for_redelivery trace={}",
                       message_id, it != in_flight_.end() ? it->second.photo : "-",
                       escape_log_text(invoked.error().message), root);
        if (it != in_flight_.end()) in_flight_.erase(it);
        keep_cv_.notify_all();
        return;
    }
    ++stats_.invoked;
    if (it != in_flight_.end()) {
        it->second.request_id = *invoked;
        it->second.invoke_returned = true;
        keep_cv_.notify_all();  // its outcome may be in already
    }
}

void SqsEventSource::finished(std::uint64_t id, const InvocationResult& result) {
    std::lock_guard lock(mutex_);
    auto it = in_flight_.find(id);
    if (it == in_flight_.end()) {
        return;  // released at stop: its late outcome changes nothing
    }
    it->second.result = result;
    keep_cv_.notify_all();
}

void SqsEventSource::keeper_loop() {
    struct Action {
        enum class Kind { Delete, Extend, Release } kind;
        std::uint64_t id;
        InFlight entry;
    };
    std::unique_lock lock(mutex_);
    for (;;) {
        const auto now = Steady::now();
        const bool draining = stopping_;
        const bool deadline_passed = draining && now >= drain_deadline_;
        std::vector<Action> actions;
        auto next_wake = now + std::chrono::seconds(1);
        for (auto it = in_flight_.begin(); it != in_flight_.end();) {
            InFlight& e = it->second;
            if (e.result && e.invoke_returned) {
                const InvocationResult r = *e.result;
                ++stats_.invocations_by_outcome[outcome_of(r)];
                if (duration_) duration_->observe(r.duration_ms / 1000.0);
                if (r.succeeded) {
                    actions.push_back({Action::Kind::Delete, it->first, e});
                } else {
                    ++stats_.failed;
                    logger().warn("event=invocation_failed message_id={} request_id={} photo=\"{}\" "
                                  "receive_count={} error_type=\"{}\" error=\"{}\" "
                                  "duration_ms={:.0f} action=left_for_redelivery trace={}",
                                  escape_log_text(e.message_id), e.request_id, e.photo,
                                  e.receive_count, escape_log_text(r.error_type),
                                  escape_log_text(r.error_message.substr(0, 1024)),
                                  r.duration_ms, e.trace_root);
                }
                it = in_flight_.erase(it);
                poll_cv_.notify_all();
                continue;
            }
            if (deadline_passed) {
                actions.push_back({Action::Kind::Release, it->first, e});
                it = in_flight_.erase(it);
                continue;
            }
            if (e.extending && now >= e.next_extension) {
                const auto limit =
                    e.started + options_.function_timeout + options_.visibility_timeout;
                if (now >= limit) {
                    e.extending = false;
                    logger().warn("event=visibility_not_extended message_id={} request_id={} "
                                  "reason=\"running past the function timeout\" trace={}",
                                  escape_log_text(e.message_id), e.request_id, e.trace_root);
                } else {
                    actions.push_back({Action::Kind::Extend, it->first, e});
                    e.next_extension = now + options_.visibility_timeout / 2;
                }
            }
            if (e.extending) next_wake = std::min(next_wake, e.next_extension);
            ++it;
        }
        if (draining && in_flight_.empty() && actions.empty()) {
            break;
        }
        if (draining) next_wake = std::min(next_wake, drain_deadline_);

        if (!actions.empty()) {
            lock.unlock();
            for (const Action& a : actions) {
                const InFlight& e = a.entry;
                const std::string message_id = escape_log_text(e.message_id);
                Result<void> done;
                switch (a.kind) {
                case Action::Kind::Delete:
                    done = keep_client_->delete_message(options_.queue_url, e.receipt_handle);
                    break;
                case Action::Kind::Extend:
                    done = keep_client_->change_visibility(options_.queue_url, e.receipt_handle,
                                                           options_.visibility_timeout);
                    break;
                case Action::Kind::Release:
                    done = keep_client_->change_visibility(options_.queue_url, e.receipt_handle,
                                                           std::chrono::seconds(0));
                    break;
                }
                std::lock_guard relock(mutex_);
                if (!done) {
                    ++stats_.sqs_errors;
                    const char* what = a.kind == Action::Kind::Delete   ? "delete_failed"
                                       : a.kind == Action::Kind::Extend ? "extend_failed"
                                                                        : "release_failed";
                    logger().warn("event={} message_id={} request_id={} photo=\"{}\" error=\"{}\" "
                                  "trace={}",
                                  what, message_id, e.request_id, e.photo,
                                  escape_log_text(done.error().message), e.trace_root);
                    continue;
                }
                switch (a.kind) {
                case Action::Kind::Delete:
                    ++stats_.deleted;
                    logger().info("event=message_deleted message_id={} request_id={} photo=\"{}\" "
                                  "receive_count={} duration_ms={:.0f} trace={}",
                                  message_id, e.request_id, e.photo, e.receive_count,
                                  millis_since(e.started), e.trace_root);
                    break;
                case Action::Kind::Extend:
                    ++stats_.visibility_extensions;
                    logger().debug("event=visibility_extended message_id={} request_id={} "
                                   "visibility_s={} trace={}",
                                   message_id, e.request_id, options_.visibility_timeout.count(),
                                   e.trace_root);
                    break;
                case Action::Kind::Release:
                    ++stats_.released;
                    logger().info("event=message_released message_id={} request_id={} photo=\"{}\" "
                                  "reason=stop_grace_ended trace={}",
                                  message_id, e.request_id, e.photo, e.trace_root);
                    break;
                }
            }
            lock.lock();
            continue;  // outcomes may have arrived meanwhile
        }
        keep_cv_.wait_until(lock, next_wake);
    }
}

}  // namespace pf::lambda
