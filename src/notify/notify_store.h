// SqliteNotifyStore: the durable state of the SNS-compatible service in its own SQLite file
// (<data dir>/notify/notify.sqlite, WAL, synchronous=FULL): topics, subscriptions with their
// confirmation tokens, and the delivery queue and dead letters (it implements DeliveryQueue).
//
// Every method is one transaction on a single writer connection held under a mutex, so the store
// is safe to share between the API threads and the dispatcher. Confirmation tokens are kept only
// as their SHA-256 (a leaked file does not confirm anything); several live tokens may exist for
// one pending subscription (each Subscribe of a pending endpoint mints one).
#pragma once

#include "base/result.h"
#include "notify/delivery_queue.h"
#include "notify/sns_model.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pf::storage {
class Database;
}

namespace pf::notify {

template <typename T>
struct Page {
    std::vector<T> items;
    // The seq to pass as `after` for the next page; nullopt when this is the last page.
    std::optional<std::int64_t> next_after;
};

struct CreateTopicOutcome {
    Topic topic;  // the stored topic (the existing one when !created)
    bool created = false;
};

struct SubscribeOutcome {
    Subscription subscription;  // the stored one (the existing one when !created)
    bool created = false;
};

// A confirmation token to attach to a pending subscription.
struct TokenGrant {
    std::string token_sha256_hex;
    std::int64_t expires_ms = 0;
};

struct ConfirmRequest {
    std::string topic_arn;
    std::string token_sha256_hex;
    std::int64_t now_ms = 0;
    bool authenticated = false;                // a signed ConfirmSubscription
    bool authenticate_on_unsubscribe = false;  // only honoured when authenticated
};

struct ConfirmOutcome {
    Subscription subscription;
    bool newly_confirmed = false;  // false: it was confirmed before (the token is reused)
};

class SqliteNotifyStore final : public DeliveryQueue {
public:
    static constexpr int kSchemaVersion = 1;

    // Opens (creating the file, its directory and the schema when new). Refuses a file written
    // by a newer schema.
    static Result<std::unique_ptr<SqliteNotifyStore>> open(const std::filesystem::path& file);
    ~SqliteNotifyStore() override;
    SqliteNotifyStore(const SqliteNotifyStore&) = delete;
    SqliteNotifyStore& operator=(const SqliteNotifyStore&) = delete;

    // --- Topics ---
    // Inserts `topic` unless a topic with its ARN exists; either way returns the stored one.
    Result<CreateTopicOutcome> create_topic(const Topic& topic);
    Result<std::optional<Topic>> get_topic(const std::string& arn);
    // Topics in creation order with seq > after.
    Result<Page<Topic>> list_topics(std::int64_t after, std::size_t limit);
    // Sets (value) or removes (nullopt) one attribute. NotFound when the topic does not exist.
    Result<void> set_topic_attribute(const std::string& arn, const std::string& name,
                                     const std::optional<std::string>& value);
    // Deletes the topic, its subscriptions, their tokens and queued deliveries (dead letters are
    // kept). Returns the subscriptions removed; nullopt when there was no such topic.
    Result<std::optional<std::vector<Subscription>>> delete_topic(const std::string& arn);
    Result<SubscriptionCounts> subscription_counts(const std::string& topic_arn);

    // --- Subscriptions ---
    // Inserts `subscription` unless one with the same (topic, protocol, endpoint) exists; either
    // way returns the stored one. The topic must exist (NotFound). When the resulting subscription
    // is pending and `token` is set, the token is attached to it.
    Result<SubscribeOutcome> subscribe(const Subscription& subscription,
                                       const std::optional<TokenGrant>& token);
    // Confirms the pending subscription the (unexpired) token belongs to; a confirmed one is
    // returned as it is. NotFound: no such topic. InvalidArgument: unknown or expired token.
    Result<ConfirmOutcome> confirm(const ConfirmRequest& request);
    Result<std::optional<Subscription>> get_subscription(const std::string& arn);
    // All subscriptions, or one topic's, in creation order with seq > after.
    Result<Page<Subscription>> list_subscriptions(const std::optional<std::string>& topic_arn,
                                                  std::int64_t after, std::size_t limit);
    // The confirmed subscriptions of a topic (what a publish fans out to).
    Result<std::vector<Subscription>> confirmed_subscriptions(const std::string& topic_arn);
    Result<void> set_subscription_attribute(const std::string& arn, const std::string& name,
                                            const std::optional<std::string>& value);
    // Deletes the subscription, its tokens and its queued deliveries and counts it in the
    // topic's SubscriptionsDeleted. Returns what was deleted; nullopt when there was none.
    Result<std::optional<Subscription>> delete_subscription(const std::string& arn);
    // Deletes expired tokens and the pending subscriptions left without a live token (SNS drops
    // unconfirmed subscriptions after the token's three days). Returns the subscriptions removed.
    Result<std::vector<Subscription>> purge_expired(std::int64_t now_ms);
    // Confirms a subscription the config file declares: a pending one becomes confirmed (no token
    // needed; its tokens are dropped) and is marked confirmed_by_config. Returns the stored
    // subscription; NotFound when there is none.
    Result<Subscription> confirm_by_config(const std::string& arn, std::int64_t now_ms);

    // --- DeliveryQueue ---
    Result<void> enqueue(const std::vector<Delivery>& deliveries) override;
    Result<std::vector<Delivery>> due(std::int64_t now_ms, std::size_t limit,
                                      const std::vector<std::string>& excluding) override;
    Result<std::optional<std::int64_t>> next_due_ms() override;
    Result<void> delivered(const std::string& delivery_id) override;
    Result<void> reschedule(const std::string& delivery_id, int attempts,
                            std::int64_t next_attempt_ms, const std::string& error) override;
    Result<void> dead_letter(const std::string& delivery_id, int attempts, std::int64_t now_ms,
                             const std::string& reason) override;
    Result<std::vector<DeadLetter>> dead_letters(const std::optional<std::string>& subscription_arn,
                                                 std::size_t limit) override;
    // With no ids and no subscription, every dead letter is replayed.
    Result<std::size_t> replay(const std::vector<std::string>& delivery_ids,
                               const std::optional<std::string>& subscription_arn,
                               std::int64_t now_ms) override;
    Result<void> drop_subscription(const std::string& subscription_arn) override;

    // --- Dead letters, beyond the DeliveryQueue (the ListDeadLetters / ReplayDeadLetters API) ---
    // One dead letter by its delivery id; nullopt when there is none.
    Result<std::optional<DeadLetter>> dead_letter_by_id(const std::string& delivery_id);
    // The distinct subscription ARNs that have dead letters ("" for confirmation messages, which
    // belong to no subscription yet), sorted.
    Result<std::vector<std::string>> dead_letter_subscriptions();

    // Queued deliveries (for tests and metrics).
    Result<std::size_t> queued_count();

private:
    explicit SqliteNotifyStore(std::unique_ptr<storage::Database> db);

    // Runs `body` inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK when it fails), under the mutex.
    template <typename T, typename F>
    Result<T> write(F&& body);
    // Runs `body` inside a read transaction (one snapshot), under the mutex.
    template <typename T, typename F>
    Result<T> read(F&& body);

    std::mutex mutex_;
    std::unique_ptr<storage::Database> db_;
};

}  // namespace pf::notify
