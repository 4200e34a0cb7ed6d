#include "notify/dispatcher.h"

#include "base/ascii.h"
#include "base/logging.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace pf::notify {
namespace {

// Passes fetch at most this many pages before sleeping, so a pass stays short.
constexpr int kMaxPagesPerPass = 16;

spdlog::logger& logger() {
    static auto instance = component_logger("notify");
    return *instance;
}

std::string_view trim(std::string_view text) {
    const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '<' || c == '>'; };
    while (!text.empty() && blank(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && blank(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

std::string url_key(std::string_view protocol, std::string_view url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) {
        return ascii_lowercase(protocol) + "://invalid";
    }
    const std::string scheme = ascii_lowercase(url.substr(0, scheme_end));
    std::string_view authority = url.substr(scheme_end + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
        authority = authority.substr(at + 1);  // never key (or log) user info
    }
    std::string_view host = authority;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {  // IPv6 literal
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            return scheme + "://invalid";
        }
        host = authority.substr(0, close + 1);
        std::string_view rest = authority.substr(close + 1);
        if (!rest.empty() && rest.front() == ':') {
            port = rest.substr(1);
        }
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.empty()) {
        return scheme + "://invalid";
    }
    std::string key = scheme + "://" + ascii_lowercase(host) + ":";
    if (!port.empty()) {
        key += port;
    } else {
        key += scheme == "https" ? "443" : "80";
    }
    return key;
}

const char* to_string(Outcome outcome) {
    switch (outcome) {
    case Outcome::Delivered:
        return "delivered";
    case Outcome::Retryable:
        return "retryable";
    case Outcome::Permanent:
        return "permanent";
    }
    return "unknown";
}

}  // namespace

std::string endpoint_key(const Delivery& delivery) {
    const std::string& protocol = delivery.protocol;
    if (ascii_iequals(protocol, "http") || ascii_iequals(protocol, "https")) {
        return url_key(protocol, delivery.endpoint);
    }
    if (ascii_iequals(protocol, "email") || ascii_iequals(protocol, "email-json")) {
        std::string_view address = trim(delivery.endpoint);
        const auto at = address.rfind('@');
        if (at == std::string_view::npos || at + 1 == address.size()) {
            return "smtp://invalid";
        }
        return "smtp://" + ascii_lowercase(address.substr(at + 1));
    }
    return ascii_lowercase(protocol) + ":" + delivery.endpoint;
}

Dispatcher::Dispatcher(DeliveryQueue& queue, TransportFor transport_for, PolicyFor policy_for,
                       DispatcherOptions options, const Clock& clock)
    : queue_(queue), transport_for_(std::move(transport_for)), policy_for_(std::move(policy_for)),
      options_(std::move(options)), clock_(clock), rng_(std::random_device{}()) {
    options_.workers = std::max<std::size_t>(1, options_.workers);
    options_.max_in_flight_per_endpoint =
        std::max<std::size_t>(1, options_.max_in_flight_per_endpoint);
    options_.batch_size = std::max<std::size_t>(1, options_.batch_size);
    options_.idle_poll = std::max(options_.idle_poll, std::chrono::milliseconds(1));
    options_.queue_retry = std::max(options_.queue_retry, std::chrono::milliseconds(1));
}

Dispatcher::~Dispatcher() {
    stop();
}

void Dispatcher::start() {
    std::lock_guard lifecycle(lifecycle_mutex_);
    {
        std::lock_guard lock(mutex_);
        if (started_ || stopping_) {
            return;
        }
        started_ = true;
    }
    scheduler_ = std::thread([this] { scheduler_loop(); });
    workers_.reserve(options_.workers);
    for (std::size_t i = 0; i < options_.workers; ++i) {
        workers_.emplace_back([this] { worker_loop(); });
    }
}

void Dispatcher::stop() {
    std::lock_guard lifecycle(lifecycle_mutex_);
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    scheduler_cv_.notify_all();
    worker_cv_.notify_all();
    if (scheduler_.joinable()) {
        scheduler_.join();
    }
    for (auto& worker : workers_) {
        if (worker.joinable()) {
            worker.join();
        }
    }
    workers_.clear();

    // Every thread is gone: what remains is only this thread's.
    std::deque<QueueOp> ops;
    {
        std::lock_guard lock(mutex_);
        ops.swap(failed_ops_);
        work_.clear();  // never started: still in the queue, untouched
    }
    for (const QueueOp& op : ops) {
        if (!apply(op)) {
            logger().warn("stop: outcome not recorded, delivery stays queued as it was "
                          "delivery={}",
                          op.id);
        }
    }
    std::lock_guard lock(mutex_);
    busy_.clear();
    parked_.clear();
    throttles_.clear();
    parked_ids_.clear();
    endpoint_load_.clear();
}

void Dispatcher::wake() {
    {
        std::lock_guard lock(mutex_);
        wake_pending_ = true;
    }
    scheduler_cv_.notify_one();
}

bool Dispatcher::stopping() const {
    std::lock_guard lock(mutex_);
    return stopping_;
}

DispatcherStats Dispatcher::stats() const {
    DispatcherStats s;
    s.attempts = attempts_.load();
    s.delivered = delivered_.load();
    s.retried = retried_.load();
    s.dead_lettered = dead_lettered_.load();
    s.queue_errors = queue_errors_.load();
    s.in_flight = running_.load();
    return s;
}

void Dispatcher::scheduler_loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        wake_pending_ = false;
        const std::int64_t next = pass(lock);
        if (stopping_ || wake_pending_) {
            continue;
        }
        const std::int64_t wait =
            std::clamp<std::int64_t>(next - clock_.now_ms(), 0, options_.idle_poll.count());
        if (wait > 0) {
            scheduler_cv_.wait_for(lock, std::chrono::milliseconds(wait),
                                   [this] { return stopping_ || wake_pending_; });
        }
    }
}

std::int64_t Dispatcher::pass(std::unique_lock<std::mutex>& lock) {
    std::int64_t now = clock_.now_ms();
    retry_queue_ops(lock, now);
    if (stopping_) {
        return now;
    }
    now = clock_.now_ms();
    release_parked(now);
    bool more_due = false;
    const bool fetched = fetch_and_dispatch(lock, now, more_due);
    if (stopping_) {
        return now;
    }
    if (more_due) {
        return now;  // the page limit was hit with more to fetch: go again at once
    }
    std::int64_t next = now + options_.idle_poll.count();
    if (!fetched) {
        next = std::min<std::int64_t>(next, now + options_.queue_retry.count());
    }

    lock.unlock();
    auto earliest = queue_.next_due_ms();
    lock.lock();
    if (!earliest) {
        ++queue_errors_;
        logger().warn("queue next_due_ms failed, retrying error=\"{}\"", earliest.error().message);
        next = std::min<std::int64_t>(next, now + options_.queue_retry.count());
    } else if (earliest->has_value() && **earliest > now) {
        next = std::min(next, **earliest);
    }
    // An earliest time at or before now belongs to a delivery held back (in flight, parked) or
    // not taken for want of a free worker: a finished attempt wakes the scheduler for those.
    while (!retry_times_.empty() && retry_times_.top() <= now) {
        retry_times_.pop();
    }
    if (!retry_times_.empty()) {
        next = std::min(next, retry_times_.top());
    }
    for (const auto& [subscription, throttle] : throttles_) {
        if (!throttle.parked.empty()) {
            next = std::min(next, static_cast<std::int64_t>(std::ceil(throttle.next_allowed_ms)));
        }
    }
    if (!failed_ops_.empty()) {
        next = std::min(next, failed_ops_retry_ms_);
    }
    return next;
}

void Dispatcher::retry_queue_ops(std::unique_lock<std::mutex>& lock, std::int64_t now) {
    if (failed_ops_.empty() || now < failed_ops_retry_ms_) {
        return;
    }
    std::deque<QueueOp> ops;
    ops.swap(failed_ops_);
    lock.unlock();
    std::vector<QueueOp> done;
    std::deque<QueueOp> still_failing;
    for (QueueOp& op : ops) {
        if (apply(op)) {
            done.push_back(std::move(op));
        } else {
            still_failing.push_back(std::move(op));
        }
    }
    lock.lock();
    for (const QueueOp& op : done) {
        busy_.erase(op.id);
        if (op.kind == QueueOp::Kind::Reschedule) {
            retry_times_.push(op.at_ms);
        }
    }
    if (!still_failing.empty()) {
        // Ops that failed meanwhile (from workers) go after the older ones.
        for (QueueOp& op : failed_ops_) {
            still_failing.push_back(std::move(op));
        }
        failed_ops_.swap(still_failing);
        failed_ops_retry_ms_ = now + options_.queue_retry.count();
    }
}

void Dispatcher::release_parked(std::int64_t now) {
    const std::size_t cap = options_.max_in_flight_per_endpoint;
    for (auto it = parked_.begin(); it != parked_.end();) {
        const auto load_it = endpoint_load_.find(it->first);
        const std::size_t load = load_it == endpoint_load_.end() ? 0 : load_it->second;
        std::size_t room = cap > load ? cap - load : 0;
        auto& ids = it->second;
        for (; room > 0 && !ids.empty(); --room) {
            parked_ids_.erase(ids.front());
            ids.pop_front();
        }
        it = ids.empty() ? parked_.erase(it) : std::next(it);
    }
    for (auto it = throttles_.begin(); it != throttles_.end();) {
        Throttle& throttle = it->second;
        if (!throttle.parked.empty() && throttle.next_allowed_ms <= static_cast<double>(now)) {
            parked_ids_.erase(throttle.parked.front());
            throttle.parked.pop_front();
        }
        // A subscription idle for a second has nothing left to pace.
        const bool stale =
            throttle.parked.empty() && throttle.next_allowed_ms + 1000.0 < static_cast<double>(now);
        it = stale ? throttles_.erase(it) : std::next(it);
    }
}

bool Dispatcher::park(std::deque<std::string>& into, const std::string& id) {
    if (parked_ids_.size() >= options_.max_parked) {
        if (!parked_full_logged_) {
            logger().warn("parked deliveries at their limit max_parked={}; held-back deliveries "
                          "are read again later",
                          options_.max_parked);
            parked_full_logged_ = true;
        }
        return false;
    }
    parked_ids_.insert(id);
    into.push_back(id);
    return true;
}

std::vector<std::string> Dispatcher::excluded_ids() const {
    std::vector<std::string> ids;
    ids.reserve(busy_.size() + parked_ids_.size());
    ids.insert(ids.end(), busy_.begin(), busy_.end());
    ids.insert(ids.end(), parked_ids_.begin(), parked_ids_.end());
    return ids;
}

bool Dispatcher::fetch_and_dispatch(std::unique_lock<std::mutex>& lock, std::int64_t now,
                                    bool& more_due) {
    const std::size_t cap = options_.max_in_flight_per_endpoint;
    for (int page = 0; page < kMaxPagesPerPass; ++page) {
        if (stopping_ || work_.size() >= options_.workers) {
            return true;  // no free worker: a finished attempt wakes the scheduler
        }
        const std::vector<std::string> excluding = excluded_ids();
        lock.unlock();
        auto due = queue_.due(now, options_.batch_size, excluding);
        std::vector<Candidate> candidates;
        if (due) {
            candidates.reserve(due->size());
            for (Delivery& delivery : *due) {
                std::string key = endpoint_key(delivery);
                EffectiveDeliveryPolicy policy = policy_for_(delivery);
                candidates.push_back(
                    Candidate{std::move(delivery), std::move(key), std::move(policy)});
            }
        }
        lock.lock();
        if (!due) {
            ++queue_errors_;
            logger().warn("queue due failed, retrying error=\"{}\"", due.error().message);
            return false;
        }
        bool progressed = false;
        bool parked_full = false;
        for (Candidate& c : candidates) {
            const std::string& id = c.delivery.id;
            if (stopping_ || work_.size() >= options_.workers) {
                break;  // the rest stays in the queue for the next pass
            }
            if (busy_.contains(id) || parked_ids_.contains(id)) {
                continue;  // defensive: the queue should have excluded it
            }
            const auto load_it = endpoint_load_.find(c.key);
            if (load_it != endpoint_load_.end() && load_it->second >= cap) {
                if (park(parked_[c.key], id)) {
                    progressed = true;
                } else {
                    parked_full = true;
                }
                continue;
            }
            Throttle* throttle = nullptr;
            if (c.policy.max_receives_per_second && *c.policy.max_receives_per_second > 0 &&
                !c.delivery.subscription_arn.empty()) {
                throttle = &throttles_[c.delivery.subscription_arn];
                throttle->interval_ms = 1000.0 / *c.policy.max_receives_per_second;
                if (static_cast<double>(now) < throttle->next_allowed_ms) {
                    if (park(throttle->parked, id)) {
                        progressed = true;
                    } else {
                        parked_full = true;
                    }
                    continue;
                }
                throttle->next_allowed_ms =
                    std::max(throttle->next_allowed_ms, static_cast<double>(now)) +
                    throttle->interval_ms;
            }
            busy_.insert(id);
            ++endpoint_load_[c.key];
            work_.push_back(Work{std::move(c.delivery), std::move(c.key), c.policy.retry});
            worker_cv_.notify_one();
            progressed = true;
        }
        if (candidates.size() < options_.batch_size || !progressed || parked_full) {
            return true;
        }
    }
    more_due = true;
    return true;
}

void Dispatcher::worker_loop() {
    std::unique_lock lock(mutex_);
    while (true) {
        worker_cv_.wait(lock, [this] { return stopping_ || !work_.empty(); });
        if (stopping_) {
            return;  // what was handed out but not started stays in the queue
        }
        Work work = std::move(work_.front());
        work_.pop_front();
        ++running_;
        lock.unlock();

        Transport* transport = transport_for_(work.delivery.protocol);
        AttemptResult result;
        if (transport != nullptr) {
            result = transport->attempt(work.delivery, options_.attempt_timeout);
        } else {
            result = AttemptResult{Outcome::Permanent,
                                   "no transport for protocol " + work.delivery.protocol};
        }
        ++attempts_;
        const QueueOp op = decide(work, result, next_jitter());
        const bool recorded = static_cast<bool>(apply(op));
        const std::int64_t recorded_at = clock_.now_ms();

        lock.lock();
        if (auto it = endpoint_load_.find(work.key); it != endpoint_load_.end()) {
            if (--it->second == 0) {
                endpoint_load_.erase(it);
            }
        }
        if (recorded) {
            busy_.erase(op.id);
            if (op.kind == QueueOp::Kind::Reschedule) {
                retry_times_.push(op.at_ms);
            }
        } else {
            // Still busy: not attempted again until the outcome is recorded.
            failed_ops_.push_back(op);
            failed_ops_retry_ms_ = recorded_at + options_.queue_retry.count();
        }
        --running_;  // last: once it reads 0, the bookkeeping above is done
        wake_pending_ = true;
        scheduler_cv_.notify_one();
    }
}

Dispatcher::QueueOp Dispatcher::decide(const Work& work, const AttemptResult& result,
                                       double jitter) {
    const Delivery& d = work.delivery;
    QueueOp op;
    op.id = d.id;
    op.attempts = d.attempts + 1;
    const std::int64_t now = clock_.now_ms();
    switch (result.outcome) {
    case Outcome::Delivered:
        ++delivered_;
        op.kind = QueueOp::Kind::Delivered;
        logger().info("delivered delivery={} message={} endpoint={} attempts={}", d.id,
                       d.message_id, work.key, op.attempts);
        return op;
    case Outcome::Retryable:
        if (auto delay = work.retry.delay_before_retry(op.attempts, jitter)) {
            ++retried_;
            op.kind = QueueOp::Kind::Reschedule;
            op.at_ms = now + delay->count();
            op.text = result.detail;
            logger().debug("retry delivery={} endpoint={} attempts={} delay_ms={} error=\"{}\"",
                           d.id, work.key, op.attempts, delay->count(), result.detail);
            return op;
        }
        op.text = "retry policy exhausted after " + std::to_string(op.attempts) +
                  " attempts: " + result.detail;
        break;
    case Outcome::Permanent:
        op.text = "permanent failure: " + result.detail;
        break;
    }
    ++dead_lettered_;
    op.kind = QueueOp::Kind::DeadLetter;
    op.at_ms = now;
    logger().info("dead letter delivery={} message={} endpoint={} attempts={} outcome={} "
                  "reason=\"{}\"",
                  d.id, d.message_id, work.key, op.attempts, to_string(result.outcome), op.text);
    return op;
}

Result<void> Dispatcher::apply(const QueueOp& op) {
    Result<void> result;
    const char* what = "";
    switch (op.kind) {
    case QueueOp::Kind::Delivered:
        what = "delivered";
        result = queue_.delivered(op.id);
        break;
    case QueueOp::Kind::Reschedule:
        what = "reschedule";
        result = queue_.reschedule(op.id, op.attempts, op.at_ms, op.text);
        break;
    case QueueOp::Kind::DeadLetter:
        what = "dead_letter";
        result = queue_.dead_letter(op.id, op.attempts, op.at_ms, op.text);
        break;
    }
    if (result) {
        return result;
    }
    if (result.error().code == ErrorCode::NotFound) {
        // The delivery left the queue meanwhile (its subscription was deleted): nothing to do.
        logger().debug("queue {}: delivery gone delivery={}", what, op.id);
        return {};
    }
    ++queue_errors_;
    logger().warn("queue {} failed, retrying later delivery={} error=\"{}\"", what, op.id,
                  result.error().message);
    return result;
}

double Dispatcher::next_jitter() {
    if (options_.jitter_unit) {
        return options_.jitter_unit();
    }
    std::lock_guard lock(rng_mutex_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

}  // namespace pf::notify
