// The delivery engine: takes due deliveries from the durable DeliveryQueue, attempts each through
// the Transport for its protocol, and records the outcome in the queue:
//   Delivered -> delivered();  Permanent -> dead_letter();
//   Retryable -> reschedule() after the subscription's retry policy's next delay, or
//                dead_letter() when the policy is exhausted.
//
// Threads: one scheduler and a pool of workers. The scheduler sleeps until the next due time
// (from the queue and from the retries it scheduled itself), a wake(), a finished attempt or
// `idle_poll`, whichever is first; then it fetches due deliveries and hands them to the workers.
//
// Isolation: at most `max_in_flight_per_endpoint` attempts run at once per endpoint key
// (endpoint_key()), so a slow or dead endpoint holds at most that many workers and never delays
// the others. A due delivery whose endpoint is at its cap (or whose subscription is at its
// maxReceivesPerSecond) is parked: its id is excluded from the next due() calls until the
// endpoint has room again, so later deliveries to other endpoints are not stuck behind it.
//
// Guarantees: a delivery is never attempted twice at once (its id is excluded from due() from
// the moment it is handed to a worker until its outcome is recorded). A queue operation that
// fails is logged and retried after `queue_retry`; the delivery stays excluded meanwhile, so it
// is not attempted again, and if the process stops first the queue still holds it as it was
// (at-least-once: it is attempted again at the next start). Nothing is ever dropped: the queue
// is the only durable state; everything here is a cache of it.
#pragma once

#include "base/clock.h"
#include "notify/delivery.h"
#include "notify/delivery_policy.h"
#include "notify/delivery_queue.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace pf::notify {

// The key deliveries are grouped by for isolation: "scheme://host:port" for http/https (scheme
// and host lower-cased, default port filled in, user info dropped), "smtp://domain" for e-mail
// (the address's domain, lower-cased), "protocol:endpoint" otherwise. Never contains a path or
// query, so it is safe to log.
std::string endpoint_key(const Delivery& delivery);

struct DispatcherOptions {
    std::size_t workers = 8;
    std::size_t max_in_flight_per_endpoint = 2;
    // Passed to Transport::attempt; SNS gives an HTTP endpoint 15 s. Also bounds stop().
    std::chrono::milliseconds attempt_timeout{15'000};
    // Deliveries asked of DeliveryQueue::due() at once.
    std::size_t batch_size = 64;
    // Most ids of due deliveries held back (endpoint at its cap, subscription throttled) and
    // excluded from due(). Past it, held-back deliveries are left to the next passes instead.
    std::size_t max_parked = 10'000;
    // Longest sleep without a wake(): the queue is read again at least this often.
    std::chrono::milliseconds idle_poll{1'000};
    // Wait before retrying a failed queue operation.
    std::chrono::milliseconds queue_retry{1'000};
    // Uniform [0, 1] for retry jitter; empty means an internal PRNG. Called from the workers, so
    // it must be thread-safe. Tests pass a constant.
    std::function<double()> jitter_unit;
};

struct DispatcherStats {
    std::uint64_t attempts = 0;       // transport attempts made
    std::uint64_t delivered = 0;      // attempts that delivered
    std::uint64_t retried = 0;        // failed attempts rescheduled for a retry
    std::uint64_t dead_lettered = 0;  // permanent failures and exhausted policies
    std::uint64_t queue_errors = 0;   // failed queue operations (each retried later)
    std::size_t in_flight = 0;        // attempts running now
};

class Dispatcher {
public:
    // The transport for a protocol, or nullptr (the delivery is dead-lettered as permanent).
    using TransportFor = std::function<Transport*(std::string_view protocol)>;
    // The subscription's effective delivery policy (retry + throttle); called for every delivery
    // taken from the queue, from the scheduler thread, so it must be cheap and thread-safe.
    using PolicyFor = std::function<EffectiveDeliveryPolicy(const Delivery&)>;

    // `queue`, the transports and `clock` must outlive the dispatcher (and be thread-safe).
    Dispatcher(DeliveryQueue& queue, TransportFor transport_for, PolicyFor policy_for,
               DispatcherOptions options, const Clock& clock);
    // Calls stop().
    ~Dispatcher();
    Dispatcher(const Dispatcher&) = delete;
    Dispatcher& operator=(const Dispatcher&) = delete;

    // Starts the scheduler and the workers; they begin with what is already due.
    void start();
    // Stops taking work: deliveries not yet handed to a transport stay in the queue untouched;
    // attempts in progress finish (each is bounded by attempt_timeout, the Transport's contract)
    // and their outcome is recorded; failed queue operations are tried once more, and if they
    // still fail the delivery stays queued as it was (attempted again at the next start). Returns
    // when every thread has exited. Idempotent.
    void stop();
    // Something may have become due (enqueue, replay, a changed clock): look at the queue now.
    void wake();

    // Whether stop() has been called (for readiness reports, and tests).
    bool stopping() const;

    DispatcherStats stats() const;

private:
    struct Work {
        Delivery delivery;
        std::string key;
        RetryPolicy retry;
    };
    // A queue operation to record an outcome.
    struct QueueOp {
        enum class Kind { Delivered, Reschedule, DeadLetter };
        Kind kind = Kind::Delivered;
        std::string id;
        int attempts = 0;
        std::int64_t at_ms = 0;  // next attempt (Reschedule) or time of death (DeadLetter)
        std::string text;        // error (Reschedule) or reason (DeadLetter)
    };
    struct Throttle {
        double interval_ms = 0;
        double next_allowed_ms = 0;
        std::deque<std::string> parked;
    };
    struct Candidate {
        Delivery delivery;
        std::string key;
        EffectiveDeliveryPolicy policy;
    };

    void scheduler_loop();
    void worker_loop();
    // One scheduler pass, with the lock held on entry and exit. Returns when to look again (ms).
    std::int64_t pass(std::unique_lock<std::mutex>& lock);
    void retry_queue_ops(std::unique_lock<std::mutex>& lock, std::int64_t now);
    void release_parked(std::int64_t now);
    // Fetches due deliveries and hands out what may run; false if the queue failed.
    bool fetch_and_dispatch(std::unique_lock<std::mutex>& lock, std::int64_t now, bool& more_due);
    bool park(std::deque<std::string>& into, const std::string& id);
    std::vector<std::string> excluded_ids() const;
    QueueOp decide(const Work& work, const AttemptResult& result, double jitter);
    Result<void> apply(const QueueOp& op);
    double next_jitter();

    DeliveryQueue& queue_;
    TransportFor transport_for_;
    PolicyFor policy_for_;
    DispatcherOptions options_;
    const Clock& clock_;

    std::mutex lifecycle_mutex_;  // serialises start() and stop()
    mutable std::mutex mutex_;
    std::condition_variable scheduler_cv_;
    std::condition_variable worker_cv_;
    bool started_ = false;
    bool stopping_ = false;
    bool wake_pending_ = false;
    std::thread scheduler_;
    std::vector<std::thread> workers_;

    std::deque<Work> work_;                                       // handed out, not yet started
    std::unordered_set<std::string> busy_;                        // handed out until recorded
    std::unordered_map<std::string, std::size_t> endpoint_load_;  // per key: handed out + running
    std::unordered_map<std::string, std::deque<std::string>> parked_;  // per key, oldest first
    std::unordered_map<std::string, Throttle> throttles_;              // per subscription ARN
    std::unordered_set<std::string> parked_ids_;  // every parked id (both kinds)
    bool parked_full_logged_ = false;
    std::deque<QueueOp> failed_ops_;
    std::int64_t failed_ops_retry_ms_ = 0;
    // Times of retries this dispatcher scheduled: the queue's earliest due time may be an
    // excluded delivery's, so these tell the scheduler when to look again.
    std::priority_queue<std::int64_t, std::vector<std::int64_t>, std::greater<>> retry_times_;
    std::mutex rng_mutex_;
    std::mt19937_64 rng_;

    std::atomic<std::uint64_t> attempts_{0};
    std::atomic<std::uint64_t> delivered_{0};
    std::atomic<std::uint64_t> retried_{0};
    std::atomic<std::uint64_t> dead_lettered_{0};
    std::atomic<std::uint64_t> queue_errors_{0};
    std::atomic<std::size_t> running_{0};
};

}  // namespace pf::notify
