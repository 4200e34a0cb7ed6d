#include "notify/notify_store.h"

#include "storage/sqlite.h"

#include <algorithm>
#include <charconv>
#include <system_error>
#include <unordered_set>
#include <utility>

namespace pf::notify {
namespace {

using storage::Database;
using storage::each_row;
using storage::Query;
using storage::run_bound;

// Schema version 1. Maps and header lists are stored in a length-prefixed encoding
// ("<len>:<bytes>" per name and value): any bytes survive, no JSON or UTF-8 rules apply.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS topics(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    arn TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    attributes BLOB NOT NULL,
    tags BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    subscriptions_deleted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS subscriptions(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    arn TEXT NOT NULL UNIQUE,
    topic_arn TEXT NOT NULL,
    protocol TEXT NOT NULL,
    endpoint BLOB NOT NULL,
    owner TEXT NOT NULL,
    attributes BLOB NOT NULL,
    pending INTEGER NOT NULL,
    confirmed_by_config INTEGER NOT NULL,
    confirmation_authenticated INTEGER NOT NULL,
    authenticate_on_unsubscribe INTEGER NOT NULL,
    unsubscribe_token TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    confirmed_ms INTEGER NOT NULL,
    UNIQUE(topic_arn, protocol, endpoint));
CREATE INDEX IF NOT EXISTS subscriptions_by_topic ON subscriptions(topic_arn, seq);
CREATE TABLE IF NOT EXISTS confirmation_tokens(
    token_hash TEXT PRIMARY KEY,
    subscription_arn TEXT NOT NULL,
    expires_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tokens_by_subscription ON confirmation_tokens(subscription_arn);
CREATE TABLE IF NOT EXISTS deliveries(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    message_id TEXT NOT NULL,
    topic_arn TEXT NOT NULL,
    subscription_arn TEXT NOT NULL,
    protocol TEXT NOT NULL,
    endpoint BLOB NOT NULL,
    message_type TEXT NOT NULL,
    headers BLOB NOT NULL,
    subject BLOB NOT NULL,
    body BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    last_error BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS deliveries_by_due ON deliveries(next_attempt_ms, seq);
CREATE INDEX IF NOT EXISTS deliveries_by_subscription ON deliveries(subscription_arn);
CREATE INDEX IF NOT EXISTS deliveries_by_topic ON deliveries(topic_arn);
CREATE TABLE IF NOT EXISTS dead_letters(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    message_id TEXT NOT NULL,
    topic_arn TEXT NOT NULL,
    subscription_arn TEXT NOT NULL,
    protocol TEXT NOT NULL,
    endpoint BLOB NOT NULL,
    message_type TEXT NOT NULL,
    headers BLOB NOT NULL,
    subject BLOB NOT NULL,
    body BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    last_error BLOB NOT NULL,
    dead_at_ms INTEGER NOT NULL,
    reason BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS dead_letters_by_time ON dead_letters(dead_at_ms, seq);
CREATE INDEX IF NOT EXISTS dead_letters_by_subscription ON dead_letters(subscription_arn, dead_at_ms);
)sql";

// Column lists shared by several statements (adjacent literals, so each statement stays a
// literal for the statement cache).
#define PF_SUBSCRIPTION_COLUMNS                                                                    \
    "s.seq, s.arn, s.topic_arn, s.protocol, s.endpoint, s.owner, s.attributes, s.pending, "        \
    "s.confirmed_by_config, s.confirmation_authenticated, s.authenticate_on_unsubscribe, "         \
    "s.unsubscribe_token, s.created_ms, s.confirmed_ms"
#define PF_TOPIC_COLUMNS "seq, name, arn, attributes, tags, created_ms, subscriptions_deleted"
#define PF_DELIVERY_COLUMNS                                                                        \
    "id, message_id, topic_arn, subscription_arn, protocol, endpoint, message_type, headers, "     \
    "subject, body, created_ms, next_attempt_ms, attempts, last_error"

using Pairs = std::vector<std::pair<std::string, std::string>>;

void append_field(std::string& out, const std::string& text) {
    out.append(std::to_string(text.size()));
    out.push_back(':');
    out.append(text);
}

template <typename Container>
std::string encode_pairs(const Container& pairs) {
    std::string out;
    for (const auto& [name, value] : pairs) {
        append_field(out, name);
        append_field(out, value);
    }
    return out;
}

// Decodes what encode_pairs wrote; a damaged value decodes as far as it is readable.
Pairs decode_pairs(const std::string& text) {
    Pairs out;
    std::size_t pos = 0;
    auto field = [&](std::string& into) {
        std::size_t colon = text.find(':', pos);
        if (colon == std::string::npos) {
            return false;
        }
        std::size_t length = 0;
        auto [end, ec] = std::from_chars(text.data() + pos, text.data() + colon, length);
        if (ec != std::errc() || end != text.data() + colon || length > text.size() - colon - 1) {
            return false;
        }
        into = text.substr(colon + 1, length);
        pos = colon + 1 + length;
        return true;
    };
    while (pos < text.size()) {
        std::string name;
        std::string value;
        if (!field(name) || !field(value)) {
            break;
        }
        out.emplace_back(std::move(name), std::move(value));
    }
    return out;
}

std::map<std::string, std::string> decode_map(const std::string& text) {
    std::map<std::string, std::string> out;
    for (auto& [name, value] : decode_pairs(text)) {
        out[name] = std::move(value);
    }
    return out;
}

Topic read_topic(const Query& q) {
    Topic t;
    t.seq = q.int64(0);
    t.name = q.text(1);
    t.arn = q.text(2);
    t.attributes = decode_map(q.blob(3));
    t.tags = decode_pairs(q.blob(4));
    t.created_ms = q.int64(5);
    t.subscriptions_deleted = q.int64(6);
    return t;
}

Subscription read_subscription(const Query& q) {
    Subscription s;
    s.seq = q.int64(0);
    s.arn = q.text(1);
    s.topic_arn = q.text(2);
    s.protocol = q.text(3);
    s.endpoint = q.blob(4);
    s.owner = q.text(5);
    s.attributes = decode_map(q.blob(6));
    s.pending = q.int64(7) != 0;
    s.confirmed_by_config = q.int64(8) != 0;
    s.confirmation_authenticated = q.int64(9) != 0;
    s.authenticate_on_unsubscribe = q.int64(10) != 0;
    s.unsubscribe_token = q.text(11);
    s.created_ms = q.int64(12);
    s.confirmed_ms = q.int64(13);
    return s;
}

// Reads the PF_DELIVERY_COLUMNS starting at `first`.
Delivery read_delivery(const Query& q, int first = 0) {
    Delivery d;
    d.id = q.text(first + 0);
    d.message_id = q.text(first + 1);
    d.topic_arn = q.text(first + 2);
    d.subscription_arn = q.text(first + 3);
    d.protocol = q.text(first + 4);
    d.endpoint = q.blob(first + 5);
    d.message_type = q.text(first + 6);
    d.headers = decode_pairs(q.blob(first + 7));
    d.subject = q.blob(first + 8);
    d.body = q.blob(first + 9);
    d.created_ms = q.int64(first + 10);
    d.next_attempt_ms = q.int64(first + 11);
    d.attempts = static_cast<int>(q.int64(first + 12));
    d.last_error = q.blob(first + 13);
    return d;
}

Result<std::optional<Topic>> topic_by_arn(Database& db, const std::string& arn) {
    std::optional<Topic> out;
    auto r = each_row(
        db, "SELECT " PF_TOPIC_COLUMNS " FROM topics WHERE arn = ?1",
        [&](Query& q) { q.bind_text(1, arn); }, [&](const Query& q) { out = read_topic(q); });
    if (!r) {
        return r.error();
    }
    return out;
}

Result<std::optional<Subscription>> subscription_by_arn(Database& db, const std::string& arn) {
    std::optional<Subscription> out;
    auto r = each_row(
        db, "SELECT " PF_SUBSCRIPTION_COLUMNS " FROM subscriptions s WHERE s.arn = ?1",
        [&](Query& q) { q.bind_text(1, arn); },
        [&](const Query& q) { out = read_subscription(q); });
    if (!r) {
        return r.error();
    }
    return out;
}

Error topic_not_found(const std::string& arn) {
    return make_error(ErrorCode::NotFound, "topic " + arn + " does not exist",
                      "Topic does not exist");
}

Error subscription_not_found(const std::string& arn) {
    return make_error(ErrorCode::NotFound, "subscription " + arn + " does not exist",
                      "Subscription does not exist");
}

Result<void> delete_subscription_rows(Database& db, const std::string& arn) {
    for (const char* sql : {"DELETE FROM confirmation_tokens WHERE subscription_arn = ?1",
                            "DELETE FROM deliveries WHERE subscription_arn = ?1",
                            "DELETE FROM subscriptions WHERE arn = ?1"}) {
        if (auto r = run_bound(db, sql, [&](Query& q) { q.bind_text(1, arn); }); !r) {
            return r;
        }
    }
    return {};
}

}  // namespace

template <typename T, typename F>
Result<T> SqliteNotifyStore::write(F&& body) {
    std::lock_guard lock(mutex_);
    return storage::in_write_transaction<T>(*db_, std::forward<F>(body));
}

template <typename T, typename F>
Result<T> SqliteNotifyStore::read(F&& body) {
    std::lock_guard lock(mutex_);
    return storage::in_read_transaction<T>(*db_, std::forward<F>(body));
}

SqliteNotifyStore::SqliteNotifyStore(std::unique_ptr<storage::Database> db) : db_(std::move(db)) {}

SqliteNotifyStore::~SqliteNotifyStore() = default;

Result<std::unique_ptr<SqliteNotifyStore>>
SqliteNotifyStore::open(const std::filesystem::path& file) {
    auto opened = storage::open_durable(file, "notify store");
    if (!opened) {
        return opened.error();
    }
    Database& db = **opened;
    if (auto r = db.exec("PRAGMA foreign_keys=OFF"); !r) {
        return r.error();
    }
    // Version 0 -> 1 creates everything; a later version with a real migration step runs it here
    // before apply_schema.
    if (auto r = storage::apply_schema(db, file, "notify store", kSchema, kSchemaVersion); !r) {
        return r.error();
    }
    return std::unique_ptr<SqliteNotifyStore>(new SqliteNotifyStore(std::move(*opened)));
}

// --- Topics ---

Result<CreateTopicOutcome> SqliteNotifyStore::create_topic(const Topic& topic) {
    return write<CreateTopicOutcome>([&](Database& db) -> Result<CreateTopicOutcome> {
        auto existing = topic_by_arn(db, topic.arn);
        if (!existing) {
            return existing.error();
        }
        if (*existing) {
            return CreateTopicOutcome{std::move(**existing), false};
        }
        auto r = run_bound(db,
                           "INSERT INTO topics(arn, name, attributes, tags, created_ms, "
                           "subscriptions_deleted) VALUES(?1, ?2, ?3, ?4, ?5, 0)",
                           [&](Query& q) {
                               q.bind_text(1, topic.arn)
                                   .bind_text(2, topic.name)
                                   .bind_blob(3, encode_pairs(topic.attributes))
                                   .bind_blob(4, encode_pairs(topic.tags))
                                   .bind(5, topic.created_ms);
                           });
        if (!r) {
            return r.error();
        }
        auto stored = topic_by_arn(db, topic.arn);
        if (!stored) {
            return stored.error();
        }
        if (!*stored) {
            return make_error(ErrorCode::Internal, "topic vanished after insert");
        }
        return CreateTopicOutcome{std::move(**stored), true};
    });
}

Result<std::optional<Topic>> SqliteNotifyStore::get_topic(const std::string& arn) {
    return read<std::optional<Topic>>([&](Database& db) { return topic_by_arn(db, arn); });
}

Result<Page<Topic>> SqliteNotifyStore::list_topics(std::int64_t after, std::size_t limit) {
    return read<Page<Topic>>([&](Database& db) -> Result<Page<Topic>> {
        Page<Topic> page;
        auto r = each_row(
            db, "SELECT " PF_TOPIC_COLUMNS " FROM topics WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            [&](Query& q) { q.bind(1, after).bind(2, static_cast<std::int64_t>(limit) + 1); },
            [&](const Query& q) { page.items.push_back(read_topic(q)); });
        if (!r) {
            return r.error();
        }
        if (page.items.size() > limit) {
            page.items.resize(limit);
            page.next_after = page.items.empty() ? after : page.items.back().seq;
        }
        return page;
    });
}

Result<void> SqliteNotifyStore::set_topic_attribute(const std::string& arn, const std::string& name,
                                                    const std::optional<std::string>& value) {
    return write<void>([&](Database& db) -> Result<void> {
        auto topic = topic_by_arn(db, arn);
        if (!topic) {
            return topic.error();
        }
        if (!*topic) {
            return topic_not_found(arn);
        }
        auto attributes = (*topic)->attributes;
        if (value) {
            attributes[name] = *value;
        } else {
            attributes.erase(name);
        }
        return run_bound(db, "UPDATE topics SET attributes = ?2 WHERE arn = ?1", [&](Query& q) {
            q.bind_text(1, arn).bind_blob(2, encode_pairs(attributes));
        });
    });
}

Result<std::optional<std::vector<Subscription>>>
SqliteNotifyStore::delete_topic(const std::string& arn) {
    using Out = std::optional<std::vector<Subscription>>;
    return write<Out>([&](Database& db) -> Result<Out> {
        auto topic = topic_by_arn(db, arn);
        if (!topic) {
            return topic.error();
        }
        if (!*topic) {
            return Out{};
        }
        std::vector<Subscription> removed;
        auto r = each_row(
            db,
            "SELECT " PF_SUBSCRIPTION_COLUMNS
            " FROM subscriptions s WHERE s.topic_arn = ?1 ORDER BY s.seq",
            [&](Query& q) { q.bind_text(1, arn); },
            [&](const Query& q) { removed.push_back(read_subscription(q)); });
        if (!r) {
            return r.error();
        }
        for (const char* sql : {"DELETE FROM confirmation_tokens WHERE subscription_arn IN "
                                "(SELECT arn FROM subscriptions WHERE topic_arn = ?1)",
                                "DELETE FROM deliveries WHERE topic_arn = ?1",
                                "DELETE FROM subscriptions WHERE topic_arn = ?1",
                                "DELETE FROM topics WHERE arn = ?1"}) {
            if (auto d = run_bound(db, sql, [&](Query& q) { q.bind_text(1, arn); }); !d) {
                return d.error();
            }
        }
        return Out{std::move(removed)};
    });
}

Result<SubscriptionCounts> SqliteNotifyStore::subscription_counts(const std::string& topic_arn) {
    return read<SubscriptionCounts>([&](Database& db) -> Result<SubscriptionCounts> {
        auto topic = topic_by_arn(db, topic_arn);
        if (!topic) {
            return topic.error();
        }
        if (!*topic) {
            return topic_not_found(topic_arn);
        }
        SubscriptionCounts counts;
        counts.deleted = (*topic)->subscriptions_deleted;
        auto r = each_row(
            db,
            "SELECT COALESCE(SUM(pending), 0), COALESCE(SUM(1 - pending), 0) FROM subscriptions "
            "WHERE topic_arn = ?1",
            [&](Query& q) { q.bind_text(1, topic_arn); },
            [&](const Query& q) {
                counts.pending = q.int64(0);
                counts.confirmed = q.int64(1);
            });
        if (!r) {
            return r.error();
        }
        return counts;
    });
}

// --- Subscriptions ---

Result<SubscribeOutcome> SqliteNotifyStore::subscribe(const Subscription& subscription,
                                                      const std::optional<TokenGrant>& token) {
    return write<SubscribeOutcome>([&](Database& db) -> Result<SubscribeOutcome> {
        auto topic = topic_by_arn(db, subscription.topic_arn);
        if (!topic) {
            return topic.error();
        }
        if (!*topic) {
            return topic_not_found(subscription.topic_arn);
        }
        std::optional<Subscription> existing;
        auto r = each_row(
            db,
            "SELECT " PF_SUBSCRIPTION_COLUMNS
            " FROM subscriptions s WHERE s.topic_arn = ?1 AND s.protocol = ?2 AND s.endpoint = ?3",
            [&](Query& q) {
                q.bind_text(1, subscription.topic_arn)
                    .bind_text(2, subscription.protocol)
                    .bind_blob(3, subscription.endpoint);
            },
            [&](const Query& q) { existing = read_subscription(q); });
        if (!r) {
            return r.error();
        }
        SubscribeOutcome outcome;
        if (existing) {
            outcome.subscription = std::move(*existing);
        } else {
            auto ins = run_bound(
                db,
                "INSERT INTO subscriptions(arn, topic_arn, protocol, endpoint, owner, attributes, "
                "pending, confirmed_by_config, confirmation_authenticated, "
                "authenticate_on_unsubscribe, unsubscribe_token, created_ms, confirmed_ms) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                [&](Query& q) {
                    const Subscription& s = subscription;
                    q.bind_text(1, s.arn)
                        .bind_text(2, s.topic_arn)
                        .bind_text(3, s.protocol)
                        .bind_blob(4, s.endpoint)
                        .bind_text(5, s.owner)
                        .bind_blob(6, encode_pairs(s.attributes))
                        .bind(7, s.pending ? 1 : 0)
                        .bind(8, s.confirmed_by_config ? 1 : 0)
                        .bind(9, s.confirmation_authenticated ? 1 : 0)
                        .bind(10, s.authenticate_on_unsubscribe ? 1 : 0)
                        .bind_text(11, s.unsubscribe_token)
                        .bind(12, s.created_ms)
                        .bind(13, s.confirmed_ms);
                });
            if (!ins) {
                return ins.error();
            }
            auto stored = subscription_by_arn(db, subscription.arn);
            if (!stored) {
                return stored.error();
            }
            if (!*stored) {
                return make_error(ErrorCode::Internal, "subscription vanished after insert");
            }
            outcome.subscription = std::move(**stored);
            outcome.created = true;
        }
        if (outcome.subscription.pending && token) {
            auto t = run_bound(db,
                               "INSERT OR REPLACE INTO confirmation_tokens(token_hash, "
                               "subscription_arn, expires_ms) VALUES(?1, ?2, ?3)",
                               [&](Query& q) {
                                   q.bind_text(1, token->token_sha256_hex)
                                       .bind_text(2, outcome.subscription.arn)
                                       .bind(3, token->expires_ms);
                               });
            if (!t) {
                return t.error();
            }
        }
        return outcome;
    });
}

Result<ConfirmOutcome> SqliteNotifyStore::confirm(const ConfirmRequest& request) {
    return write<ConfirmOutcome>([&](Database& db) -> Result<ConfirmOutcome> {
        auto topic = topic_by_arn(db, request.topic_arn);
        if (!topic) {
            return topic.error();
        }
        if (!*topic) {
            return topic_not_found(request.topic_arn);
        }
        std::optional<Subscription> found;
        auto r = each_row(
            db,
            "SELECT " PF_SUBSCRIPTION_COLUMNS
            " FROM confirmation_tokens t JOIN subscriptions s ON s.arn = t.subscription_arn "
            "WHERE t.token_hash = ?1 AND t.expires_ms > ?2 AND s.topic_arn = ?3",
            [&](Query& q) {
                q.bind_text(1, request.token_sha256_hex)
                    .bind(2, request.now_ms)
                    .bind_text(3, request.topic_arn);
            },
            [&](const Query& q) { found = read_subscription(q); });
        if (!r) {
            return r.error();
        }
        if (!found) {
            return make_error(ErrorCode::InvalidArgument,
                              "unknown or expired confirmation token for " + request.topic_arn,
                              "Invalid token");
        }
        if (!found->pending) {
            return ConfirmOutcome{std::move(*found), false};
        }
        found->pending = false;
        found->confirmed_ms = request.now_ms;
        found->confirmation_authenticated = request.authenticated;
        found->authenticate_on_unsubscribe =
            request.authenticated && request.authenticate_on_unsubscribe;
        auto u = run_bound(db,
                           "UPDATE subscriptions SET pending = 0, confirmed_ms = ?2, "
                           "confirmation_authenticated = ?3, authenticate_on_unsubscribe = ?4 "
                           "WHERE arn = ?1",
                           [&](Query& q) {
                               q.bind_text(1, found->arn)
                                   .bind(2, found->confirmed_ms)
                                   .bind(3, found->confirmation_authenticated ? 1 : 0)
                                   .bind(4, found->authenticate_on_unsubscribe ? 1 : 0);
                           });
        if (!u) {
            return u.error();
        }
        return ConfirmOutcome{std::move(*found), true};
    });
}

Result<Subscription> SqliteNotifyStore::confirm_by_config(const std::string& arn,
                                                          std::int64_t now_ms) {
    return write<Subscription>([&](Database& db) -> Result<Subscription> {
        auto found = subscription_by_arn(db, arn);
        if (!found) {
            return found.error();
        }
        if (!*found) {
            return subscription_not_found(arn);
        }
        Subscription s = std::move(**found);
        if (!s.pending && s.confirmed_by_config) {
            return s;
        }
        if (s.pending) {
            s.pending = false;
            s.confirmed_ms = now_ms;
        }
        s.confirmed_by_config = true;
        auto u = run_bound(db,
                           "UPDATE subscriptions SET pending = 0, confirmed_by_config = 1, "
                           "confirmed_ms = ?2 WHERE arn = ?1",
                           [&](Query& q) { q.bind_text(1, arn).bind(2, s.confirmed_ms); });
        if (!u) {
            return u.error();
        }
        auto t = run_bound(db, "DELETE FROM confirmation_tokens WHERE subscription_arn = ?1",
                           [&](Query& q) { q.bind_text(1, arn); });
        if (!t) {
            return t.error();
        }
        return s;
    });
}

Result<std::optional<Subscription>> SqliteNotifyStore::get_subscription(const std::string& arn) {
    return read<std::optional<Subscription>>(
        [&](Database& db) { return subscription_by_arn(db, arn); });
}

Result<Page<Subscription>>
SqliteNotifyStore::list_subscriptions(const std::optional<std::string>& topic_arn,
                                      std::int64_t after, std::size_t limit) {
    return read<Page<Subscription>>([&](Database& db) -> Result<Page<Subscription>> {
        Page<Subscription> page;
        auto add = [&](const Query& q) { page.items.push_back(read_subscription(q)); };
        const auto fetch = static_cast<std::int64_t>(limit) + 1;
        Result<void> r =
            topic_arn
                ? each_row(
                      db,
                      "SELECT " PF_SUBSCRIPTION_COLUMNS
                      " FROM subscriptions s WHERE s.topic_arn = ?1 AND s.seq > ?2 "
                      "ORDER BY s.seq LIMIT ?3",
                      [&](Query& q) { q.bind_text(1, *topic_arn).bind(2, after).bind(3, fetch); },
                      add)
                : each_row(
                      db,
                      "SELECT " PF_SUBSCRIPTION_COLUMNS
                      " FROM subscriptions s WHERE s.seq > ?1 ORDER BY s.seq LIMIT ?2",
                      [&](Query& q) { q.bind(1, after).bind(2, fetch); }, add);
        if (!r) {
            return r.error();
        }
        if (page.items.size() > limit) {
            page.items.resize(limit);
            page.next_after = page.items.empty() ? after : page.items.back().seq;
        }
        return page;
    });
}

Result<std::vector<Subscription>>
SqliteNotifyStore::confirmed_subscriptions(const std::string& topic_arn) {
    return read<std::vector<Subscription>>([&](Database& db) -> Result<std::vector<Subscription>> {
        std::vector<Subscription> out;
        auto r = each_row(
            db,
            "SELECT " PF_SUBSCRIPTION_COLUMNS
            " FROM subscriptions s WHERE s.topic_arn = ?1 AND s.pending = 0 ORDER BY s.seq",
            [&](Query& q) { q.bind_text(1, topic_arn); },
            [&](const Query& q) { out.push_back(read_subscription(q)); });
        if (!r) {
            return r.error();
        }
        return out;
    });
}

Result<void>
SqliteNotifyStore::set_subscription_attribute(const std::string& arn, const std::string& name,
                                              const std::optional<std::string>& value) {
    return write<void>([&](Database& db) -> Result<void> {
        auto sub = subscription_by_arn(db, arn);
        if (!sub) {
            return sub.error();
        }
        if (!*sub) {
            return subscription_not_found(arn);
        }
        auto attributes = (*sub)->attributes;
        if (value) {
            attributes[name] = *value;
        } else {
            attributes.erase(name);
        }
        return run_bound(
            db, "UPDATE subscriptions SET attributes = ?2 WHERE arn = ?1",
            [&](Query& q) { q.bind_text(1, arn).bind_blob(2, encode_pairs(attributes)); });
    });
}

Result<std::optional<Subscription>> SqliteNotifyStore::delete_subscription(const std::string& arn) {
    using Out = std::optional<Subscription>;
    return write<Out>([&](Database& db) -> Result<Out> {
        auto sub = subscription_by_arn(db, arn);
        if (!sub) {
            return sub.error();
        }
        if (!*sub) {
            return Out{};
        }
        if (auto r = delete_subscription_rows(db, arn); !r) {
            return r.error();
        }
        auto r = run_bound(db,
                           "UPDATE topics SET subscriptions_deleted = subscriptions_deleted + 1 "
                           "WHERE arn = ?1",
                           [&](Query& q) { q.bind_text(1, (*sub)->topic_arn); });
        if (!r) {
            return r.error();
        }
        return std::move(*sub);
    });
}

Result<std::vector<Subscription>> SqliteNotifyStore::purge_expired(std::int64_t now_ms) {
    return write<std::vector<Subscription>>([&](Database& db) -> Result<std::vector<Subscription>> {
        auto r = run_bound(db, "DELETE FROM confirmation_tokens WHERE expires_ms <= ?1",
                           [&](Query& q) { q.bind(1, now_ms); });
        if (!r) {
            return r.error();
        }
        std::vector<Subscription> stale;
        r = each_row(
            db,
            "SELECT " PF_SUBSCRIPTION_COLUMNS
            " FROM subscriptions s WHERE s.pending = 1 AND NOT EXISTS "
            "(SELECT 1 FROM confirmation_tokens t WHERE t.subscription_arn = s.arn)",
            [](Query&) {}, [&](const Query& q) { stale.push_back(read_subscription(q)); });
        if (!r) {
            return r.error();
        }
        for (const auto& s : stale) {
            if (auto d = delete_subscription_rows(db, s.arn); !d) {
                return d.error();
            }
        }
        return stale;
    });
}

// --- DeliveryQueue ---

Result<void> SqliteNotifyStore::enqueue(const std::vector<Delivery>& deliveries) {
    return write<void>([&](Database& db) -> Result<void> {
        for (const auto& d : deliveries) {
            auto r =
                run_bound(db,
                          "INSERT INTO deliveries(" PF_DELIVERY_COLUMNS
                          ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                          [&](Query& q) {
                              q.bind_text(1, d.id)
                                  .bind_text(2, d.message_id)
                                  .bind_text(3, d.topic_arn)
                                  .bind_text(4, d.subscription_arn)
                                  .bind_text(5, d.protocol)
                                  .bind_blob(6, d.endpoint)
                                  .bind_text(7, d.message_type)
                                  .bind_blob(8, encode_pairs(d.headers))
                                  .bind_blob(9, d.subject)
                                  .bind_blob(10, d.body)
                                  .bind(11, d.created_ms)
                                  .bind(12, d.next_attempt_ms)
                                  .bind(13, d.attempts)
                                  .bind_blob(14, d.last_error);
                          });
            if (!r) {
                return r;
            }
        }
        return {};
    });
}

Result<std::vector<Delivery>> SqliteNotifyStore::due(std::int64_t now_ms, std::size_t limit,
                                                     const std::vector<std::string>& excluding) {
    return read<std::vector<Delivery>>([&](Database& db) -> Result<std::vector<Delivery>> {
        std::vector<Delivery> out;
        if (limit == 0) {
            return out;
        }
        const std::unordered_set<std::string> skip(excluding.begin(), excluding.end());
        // Fetch enough that `limit` remain after the in-flight ones are left out.
        const auto fetch = static_cast<std::int64_t>(limit + skip.size());
        auto r = each_row(
            db,
            "SELECT " PF_DELIVERY_COLUMNS
            " FROM deliveries WHERE next_attempt_ms <= ?1 ORDER BY next_attempt_ms, seq LIMIT ?2",
            [&](Query& q) { q.bind(1, now_ms).bind(2, fetch); },
            [&](const Query& q) {
                if (out.size() < limit) {
                    Delivery d = read_delivery(q);
                    if (!skip.contains(d.id)) {
                        out.push_back(std::move(d));
                    }
                }
            });
        if (!r) {
            return r.error();
        }
        return out;
    });
}

Result<std::optional<std::int64_t>> SqliteNotifyStore::next_due_ms() {
    using Out = std::optional<std::int64_t>;
    return read<Out>([&](Database& db) -> Result<Out> {
        Out out;
        auto r = each_row(
            db, "SELECT MIN(next_attempt_ms) FROM deliveries", [](Query&) {},
            [&](const Query& q) {
                if (!q.is_null(0)) {
                    out = q.int64(0);
                }
            });
        if (!r) {
            return r.error();
        }
        return out;
    });
}

Result<void> SqliteNotifyStore::delivered(const std::string& delivery_id) {
    // A delivery already gone (its subscription was deleted meanwhile) is not an error.
    return write<void>([&](Database& db) {
        return run_bound(db, "DELETE FROM deliveries WHERE id = ?1",
                         [&](Query& q) { q.bind_text(1, delivery_id); });
    });
}

Result<void> SqliteNotifyStore::reschedule(const std::string& delivery_id, int attempts,
                                           std::int64_t next_attempt_ms, const std::string& error) {
    return write<void>([&](Database& db) {
        return run_bound(db,
                         "UPDATE deliveries SET attempts = ?2, next_attempt_ms = ?3, "
                         "last_error = ?4 WHERE id = ?1",
                         [&](Query& q) {
                             q.bind_text(1, delivery_id)
                                 .bind(2, attempts)
                                 .bind(3, next_attempt_ms)
                                 .bind_blob(4, error);
                         });
    });
}

Result<void> SqliteNotifyStore::dead_letter(const std::string& delivery_id, int attempts,
                                            std::int64_t now_ms, const std::string& reason) {
    return write<void>([&](Database& db) -> Result<void> {
        auto r = run_bound(
            db,
            "INSERT OR REPLACE INTO dead_letters(" PF_DELIVERY_COLUMNS
            ", dead_at_ms, reason) SELECT id, message_id, topic_arn, subscription_arn, protocol, "
            "endpoint, message_type, headers, subject, body, created_ms, next_attempt_ms, ?2, "
            "last_error, ?3, ?4 FROM deliveries WHERE id = ?1",
            [&](Query& q) {
                q.bind_text(1, delivery_id).bind(2, attempts).bind(3, now_ms).bind_blob(4, reason);
            });
        if (!r) {
            return r;
        }
        return run_bound(db, "DELETE FROM deliveries WHERE id = ?1",
                         [&](Query& q) { q.bind_text(1, delivery_id); });
    });
}

Result<std::vector<DeadLetter>>
SqliteNotifyStore::dead_letters(const std::optional<std::string>& subscription_arn,
                                std::size_t limit) {
    return read<std::vector<DeadLetter>>([&](Database& db) -> Result<std::vector<DeadLetter>> {
        std::vector<DeadLetter> out;
        auto add = [&](const Query& q) {
            DeadLetter dl;
            dl.delivery = read_delivery(q);
            dl.dead_at_ms = q.int64(14);
            dl.reason = q.blob(15);
            out.push_back(std::move(dl));
        };
        const auto n = static_cast<std::int64_t>(limit);
        Result<void> r =
            subscription_arn
                ? each_row(
                      db,
                      "SELECT " PF_DELIVERY_COLUMNS
                      ", dead_at_ms, reason FROM dead_letters WHERE subscription_arn = ?1 "
                      "ORDER BY dead_at_ms DESC, seq DESC LIMIT ?2",
                      [&](Query& q) { q.bind_text(1, *subscription_arn).bind(2, n); }, add)
                : each_row(
                      db,
                      "SELECT " PF_DELIVERY_COLUMNS ", dead_at_ms, reason FROM dead_letters "
                      "ORDER BY dead_at_ms DESC, seq DESC LIMIT ?1",
                      [&](Query& q) { q.bind(1, n); }, add);
        if (!r) {
            return r.error();
        }
        return out;
    });
}

Result<std::size_t> SqliteNotifyStore::replay(const std::vector<std::string>& delivery_ids,
                                              const std::optional<std::string>& subscription_arn,
                                              std::int64_t now_ms) {
    return write<std::size_t>([&](Database& db) -> Result<std::size_t> {
        std::vector<std::string> ids = delivery_ids;
        if (ids.empty()) {
            auto collect = [&](const Query& q) { ids.push_back(q.text(0)); };
            Result<void> r =
                subscription_arn
                    ? each_row(
                          db, "SELECT id FROM dead_letters WHERE subscription_arn = ?1",
                          [&](Query& q) { q.bind_text(1, *subscription_arn); }, collect)
                    : each_row(
                          db, "SELECT id FROM dead_letters", [](Query&) {}, collect);
            if (!r) {
                return r.error();
            }
        }
        std::size_t moved = 0;
        for (const auto& id : ids) {
            auto r = run_bound(
                db,
                "INSERT OR REPLACE INTO deliveries(" PF_DELIVERY_COLUMNS
                ") SELECT id, message_id, topic_arn, subscription_arn, protocol, endpoint, "
                "message_type, headers, subject, body, created_ms, ?2, 0, last_error "
                "FROM dead_letters WHERE id = ?1",
                [&](Query& q) { q.bind_text(1, id).bind(2, now_ms); });
            if (!r) {
                return r.error();
            }
            if (db.changes() == 0) {
                continue;  // not a dead letter (already replayed, or never was)
            }
            ++moved;
            r = run_bound(db, "DELETE FROM dead_letters WHERE id = ?1",
                          [&](Query& q) { q.bind_text(1, id); });
            if (!r) {
                return r.error();
            }
        }
        return moved;
    });
}

Result<std::optional<DeadLetter>>
SqliteNotifyStore::dead_letter_by_id(const std::string& delivery_id) {
    return read<std::optional<DeadLetter>>([&](Database& db) -> Result<std::optional<DeadLetter>> {
        std::optional<DeadLetter> out;
        auto r = each_row(
            db,
            "SELECT " PF_DELIVERY_COLUMNS ", dead_at_ms, reason FROM dead_letters WHERE id = ?1",
            [&](Query& q) { q.bind_text(1, delivery_id); },
            [&](const Query& q) {
                DeadLetter dl;
                dl.delivery = read_delivery(q);
                dl.dead_at_ms = q.int64(14);
                dl.reason = q.blob(15);
                out = std::move(dl);
            });
        if (!r) {
            return r.error();
        }
        return out;
    });
}

Result<std::vector<std::string>> SqliteNotifyStore::dead_letter_subscriptions() {
    return read<std::vector<std::string>>([&](Database& db) -> Result<std::vector<std::string>> {
        std::vector<std::string> out;
        auto r = each_row(
            db, "SELECT DISTINCT subscription_arn FROM dead_letters ORDER BY subscription_arn",
            [](Query&) {}, [&](const Query& q) { out.push_back(q.text(0)); });
        if (!r) {
            return r.error();
        }
        return out;
    });
}

Result<void> SqliteNotifyStore::drop_subscription(const std::string& subscription_arn) {
    return write<void>([&](Database& db) {
        return run_bound(db, "DELETE FROM deliveries WHERE subscription_arn = ?1",
                         [&](Query& q) { q.bind_text(1, subscription_arn); });
    });
}

Result<std::size_t> SqliteNotifyStore::queued_count() {
    return read<std::size_t>([&](Database& db) -> Result<std::size_t> {
        std::size_t n = 0;
        auto r = each_row(
            db, "SELECT COUNT(*) FROM deliveries", [](Query&) {},
            [&](const Query& q) { n = static_cast<std::size_t>(q.int64(0)); });
        if (!r) {
            return r.error();
        }
        return n;
    });
}

#undef PF_SUBSCRIPTION_COLUMNS
#undef PF_TOPIC_COLUMNS
#undef PF_DELIVERY_COLUMNS

}  // namespace pf::notify
