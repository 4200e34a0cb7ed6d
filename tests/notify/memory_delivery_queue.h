// Test doubles for the delivery engine: an in-memory DeliveryQueue (with fault injection and a
// way to wait for a state) and a Clock that only moves when the test says so.
#pragma once

#include "base/clock.h"
#include "notify/delivery_queue.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pf::notify::test {

// A wall clock for tests: starts at a fixed Unix time and moves only by advance().
class ManualClock final : public Clock {
public:
    static constexpr std::int64_t kStart = 1'700'000'000'000;

    explicit ManualClock(std::int64_t start_ms = kStart) : now_(start_ms) {}
    std::int64_t now_ms() const override { return now_.load(); }
    void advance(std::chrono::milliseconds by) { now_ += by.count(); }

private:
    std::atomic<std::int64_t> now_;
};

// DeliveryQueue in memory, thread-safe. Behaves as the contract in delivery_queue.h says:
// due() is oldest next_attempt first (then enqueue order) and honours `excluding`; operations on
// an id that is not queued fail with NotFound.
class MemoryDeliveryQueue final : public DeliveryQueue {
public:
    enum class Op { Enqueue, Due, NextDue, Delivered, Reschedule, DeadLetter, Replay };

    Result<void> enqueue(const std::vector<Delivery>& deliveries) override {
        std::lock_guard lock(mutex_);
        if (auto fault = take_fault(Op::Enqueue)) {
            return *fault;
        }
        for (const Delivery& d : deliveries) {
            queued_[d.id] = Entry{d, next_sequence_++};
        }
        changed();
        return {};
    }

    Result<std::vector<Delivery>> due(std::int64_t now_ms, std::size_t limit,
                                      const std::vector<std::string>& excluding) override {
        std::lock_guard lock(mutex_);
        ++due_calls_;
        if (auto fault = take_fault(Op::Due)) {
            return *fault;
        }
        std::vector<const Entry*> candidates;
        for (const auto& [id, entry] : queued_) {
            if (entry.delivery.next_attempt_ms <= now_ms &&
                std::find(excluding.begin(), excluding.end(), id) == excluding.end()) {
                candidates.push_back(&entry);
            }
        }
        std::sort(candidates.begin(), candidates.end(), [](const Entry* a, const Entry* b) {
            if (a->delivery.next_attempt_ms != b->delivery.next_attempt_ms) {
                return a->delivery.next_attempt_ms < b->delivery.next_attempt_ms;
            }
            return a->sequence < b->sequence;
        });
        std::vector<Delivery> out;
        for (const Entry* entry : candidates) {
            if (out.size() >= limit) {
                break;
            }
            out.push_back(entry->delivery);
        }
        changed();
        return out;
    }

    Result<std::optional<std::int64_t>> next_due_ms() override {
        std::lock_guard lock(mutex_);
        ++next_due_calls_;
        if (auto fault = take_fault(Op::NextDue)) {
            return *fault;
        }
        std::optional<std::int64_t> earliest;
        for (const auto& [id, entry] : queued_) {
            if (!earliest || entry.delivery.next_attempt_ms < *earliest) {
                earliest = entry.delivery.next_attempt_ms;
            }
        }
        changed();
        return earliest;
    }

    Result<void> delivered(const std::string& delivery_id) override {
        std::lock_guard lock(mutex_);
        if (auto fault = take_fault(Op::Delivered)) {
            return *fault;
        }
        if (queued_.erase(delivery_id) == 0) {
            return not_found(delivery_id);
        }
        delivered_ids_.push_back(delivery_id);
        changed();
        return {};
    }

    Result<void> reschedule(const std::string& delivery_id, int attempts,
                            std::int64_t next_attempt_ms, const std::string& error) override {
        std::lock_guard lock(mutex_);
        if (auto fault = take_fault(Op::Reschedule)) {
            return *fault;
        }
        auto it = queued_.find(delivery_id);
        if (it == queued_.end()) {
            return not_found(delivery_id);
        }
        it->second.delivery.attempts = attempts;
        it->second.delivery.next_attempt_ms = next_attempt_ms;
        it->second.delivery.last_error = error;
        changed();
        return {};
    }

    Result<void> dead_letter(const std::string& delivery_id, int attempts, std::int64_t now_ms,
                             const std::string& reason) override {
        std::lock_guard lock(mutex_);
        if (auto fault = take_fault(Op::DeadLetter)) {
            return *fault;
        }
        auto it = queued_.find(delivery_id);
        if (it == queued_.end()) {
            return not_found(delivery_id);
        }
        DeadLetter letter{it->second.delivery, now_ms, reason};
        letter.delivery.attempts = attempts;
        letter.delivery.last_error = reason;
        dead_.push_back(std::move(letter));
        queued_.erase(it);
        changed();
        return {};
    }

    Result<std::vector<DeadLetter>> dead_letters(const std::optional<std::string>& subscription_arn,
                                                 std::size_t limit) override {
        std::lock_guard lock(mutex_);
        std::vector<DeadLetter> out;
        for (auto it = dead_.rbegin(); it != dead_.rend() && out.size() < limit; ++it) {
            if (!subscription_arn || it->delivery.subscription_arn == *subscription_arn) {
                out.push_back(*it);
            }
        }
        return out;
    }

    Result<std::size_t> replay(const std::vector<std::string>& delivery_ids,
                               const std::optional<std::string>& subscription_arn,
                               std::int64_t now_ms) override {
        std::lock_guard lock(mutex_);
        if (auto fault = take_fault(Op::Replay)) {
            return *fault;
        }
        std::size_t moved = 0;
        for (auto it = dead_.begin(); it != dead_.end();) {
            const Delivery& d = it->delivery;
            const bool chosen = delivery_ids.empty()
                                    ? subscription_arn && d.subscription_arn == *subscription_arn
                                    : std::find(delivery_ids.begin(), delivery_ids.end(), d.id) !=
                                          delivery_ids.end();
            if (!chosen) {
                ++it;
                continue;
            }
            Delivery back = d;
            back.attempts = 0;
            back.next_attempt_ms = now_ms;
            queued_[back.id] = Entry{back, next_sequence_++};
            it = dead_.erase(it);
            ++moved;
        }
        changed();
        return moved;
    }

    Result<void> drop_subscription(const std::string& subscription_arn) override {
        std::lock_guard lock(mutex_);
        std::erase_if(queued_, [&](const auto& item) {
            return item.second.delivery.subscription_arn == subscription_arn;
        });
        changed();
        return {};
    }

    // --- For tests ---

    // The next `count` calls of `op` fail with Unavailable.
    void fail_next(Op op, int count = 1) {
        std::lock_guard lock(mutex_);
        faults_[op] += count;
    }

    std::optional<Delivery> find(const std::string& id) const {
        std::lock_guard lock(mutex_);
        auto it = queued_.find(id);
        if (it == queued_.end()) {
            return std::nullopt;
        }
        return it->second.delivery;
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return queued_.size();
    }
    std::vector<DeadLetter> all_dead_letters() const {
        std::lock_guard lock(mutex_);
        return dead_;
    }
    std::vector<std::string> delivered_ids() const {
        std::lock_guard lock(mutex_);
        return delivered_ids_;
    }
    std::uint64_t due_calls() const {
        std::lock_guard lock(mutex_);
        return due_calls_;
    }
    std::uint64_t next_due_calls() const {
        std::lock_guard lock(mutex_);
        return next_due_calls_;
    }

    // Waits until `predicate` holds, re-checking after every call on the queue, for at most
    // `timeout`. The predicate may call the queue's methods.
    bool wait_until(const std::function<bool()>& predicate,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
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
            if (!changed_cv_.wait_until(lock, deadline, [&] { return version_ != seen; })) {
                lock.unlock();
                return predicate();
            }
        }
    }

private:
    struct Entry {
        Delivery delivery;
        std::uint64_t sequence = 0;
    };

    std::optional<Error> take_fault(Op op) {
        auto it = faults_.find(op);
        if (it == faults_.end() || it->second == 0) {
            return std::nullopt;
        }
        --it->second;
        changed();
        return make_error(ErrorCode::Unavailable, "injected queue failure");
    }
    Error not_found(const std::string& id) {
        changed();
        return make_error(ErrorCode::NotFound, "no queued delivery " + id);
    }
    void changed() {
        ++version_;
        changed_cv_.notify_all();
    }

    mutable std::mutex mutex_;
    mutable std::condition_variable changed_cv_;
    std::map<std::string, Entry> queued_;
    std::vector<DeadLetter> dead_;
    std::vector<std::string> delivered_ids_;
    std::map<Op, int> faults_;
    std::uint64_t next_sequence_ = 0;
    std::uint64_t version_ = 0;
    std::uint64_t due_calls_ = 0;
    std::uint64_t next_due_calls_ = 0;
};

}  // namespace pf::notify::test
