// The durable queue of deliveries and the dead-letter store, as the dispatcher sees them.
// SqliteNotifyStore (notify_store.h) implements it; tests may use an in-memory one.
//
// A delivery is in the queue from enqueue() until delivered() or dead_letter(): a process that
// stops at any point finds it again at the next start and attempts it again (at-least-once; the
// MessageId lets receivers drop a repeat).
#pragma once

#include "base/result.h"
#include "notify/delivery.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pf::notify {

class DeliveryQueue {
public:
    virtual ~DeliveryQueue() = default;
    // Persists every delivery (one transaction) before any is attempted.
    virtual Result<void> enqueue(const std::vector<Delivery>& deliveries) = 0;
    // Up to `limit` queued deliveries with next_attempt_ms <= now_ms whose ids are not in
    // `excluding` (the ones the caller already has in flight), oldest next_attempt first.
    virtual Result<std::vector<Delivery>> due(std::int64_t now_ms, std::size_t limit,
                                             const std::vector<std::string>& excluding) = 0;
    // The earliest next_attempt_ms in the queue, if any (the dispatcher sleeps until then).
    virtual Result<std::optional<std::int64_t>> next_due_ms() = 0;
    // Success: the delivery leaves the queue.
    virtual Result<void> delivered(const std::string& delivery_id) = 0;
    // A failed attempt with retries left: stored with its new count, time and error.
    virtual Result<void> reschedule(const std::string& delivery_id, int attempts,
                                    std::int64_t next_attempt_ms, const std::string& error) = 0;
    // Policy exhausted or permanent failure: moved to the dead letters in one transaction.
    virtual Result<void> dead_letter(const std::string& delivery_id, int attempts,
                                     std::int64_t now_ms, const std::string& reason) = 0;
    // Dead letters, newest first; of one subscription when `subscription_arn` is set.
    virtual Result<std::vector<DeadLetter>> dead_letters(
        const std::optional<std::string>& subscription_arn, std::size_t limit) = 0;
    // Moves dead letters back into the queue, due now with attempts reset to 0: those named in
    // `delivery_ids`, or all of `subscription_arn`'s when ids is empty. Returns how many moved.
    virtual Result<std::size_t> replay(const std::vector<std::string>& delivery_ids,
                                       const std::optional<std::string>& subscription_arn,
                                       std::int64_t now_ms) = 0;
    // Drops queued deliveries of a subscription (it was deleted). Dead letters are kept.
    virtual Result<void> drop_subscription(const std::string& subscription_arn) = 0;
};

}  // namespace pf::notify
