// InvocationStore: the durable queue of asynchronous invocations and their dead letters, in its
// own SQLite file (<data dir>/lambda/lambda.sqlite, WAL, synchronous=FULL).
//
// The queue is the only durable state of the function host: an invocation is in it from
// invoke_async until it succeeds (complete) or becomes a dead letter; a failed attempt updates
// its row (attempts, next attempt, last error). Nothing is written when an attempt starts, so an
// invocation that was running when the process died is simply attempted again at the next start
// (at-least-once, as on AWS).
//
// Every method is one transaction on a single connection held under a mutex; the store is safe
// to share between threads. Each write is durable when the method returns.
#pragma once

#include "base/result.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pf::storage {
class Database;
}

namespace pf::lambda {

struct QueuedInvocation {
    std::string request_id;  // uuid
    std::string function;    // function name
    std::string payload;     // the event (JSON text)
    std::string trace_id;    // the X-Ray trace handed to the function (Lineage already counted)
    std::int64_t enqueued_ms = 0;      // Unix ms; the event's age counts from here
    int attempts = 0;                  // attempts that ended in an error
    std::int64_t next_attempt_ms = 0;  // Unix ms; not attempted before
    std::string last_error_type;       // of the last failed attempt ("" before any)
    std::string last_error_message;
};

struct StoredDeadLetter {
    QueuedInvocation invocation;
    std::string condition;  // RetriesExhausted | EventAgeExceeded | RecursionDetected | Rejected
    std::int64_t dead_at_ms = 0;
    std::string record;  // the on-failure destination record (destination_record.h)
};

// Where a queued invocation stands, without its payload.
struct QueueHead {
    std::string request_id;
    std::int64_t next_attempt_ms = 0;
};

class InvocationStore {
public:
    static constexpr int kSchemaVersion = 1;

    // Opens (creating the file, its directory and the schema when new). Refuses a file written
    // by a newer schema.
    static Result<std::unique_ptr<InvocationStore>> open(const std::filesystem::path& file);
    ~InvocationStore();
    InvocationStore(const InvocationStore&) = delete;
    InvocationStore& operator=(const InvocationStore&) = delete;

    // AlreadyExists when the request id is queued already.
    Result<void> enqueue(const QueuedInvocation& invocation);
    // The first `limit` queued invocations of `function` by next attempt time (then queue order).
    Result<std::vector<QueueHead>> heads(const std::string& function, std::size_t limit);
    Result<std::optional<QueuedInvocation>> get(const std::string& request_id);
    // The invocation succeeded: removes it. false when it was not queued.
    Result<bool> complete(const std::string& request_id);
    // A failed attempt to be tried again. NotFound when it is not queued.
    Result<void> reschedule(const std::string& request_id, int attempts,
                            std::int64_t next_attempt_ms, const std::string& error_type,
                            const std::string& error_message);
    // Records the dead letter and removes the queued invocation with its request id (if any),
    // in one transaction.
    Result<void> dead_letter(const StoredDeadLetter& letter);
    // Newest first; only `function`'s when given.
    Result<std::vector<StoredDeadLetter>> dead_letters(const std::optional<std::string>& function,
                                                       std::size_t limit);
    // Moves dead letters back to the queue with fresh attempts (0), a fresh age and due now.
    // With no ids: every dead letter (only `function`'s when given). Unknown ids are skipped.
    // Returns the replayed invocations' functions, one entry per invocation.
    Result<std::vector<std::string>> replay(const std::vector<std::string>& request_ids,
                                            const std::optional<std::string>& function,
                                            std::int64_t now_ms);
    // Queued invocations per function.
    Result<std::map<std::string, std::size_t>> queued_counts();

private:
    explicit InvocationStore(std::unique_ptr<storage::Database> db);

    // storage::in_write_transaction / in_read_transaction on db_, under mutex_.
    template <typename T, typename F>
    Result<T> write(F&& body);
    template <typename T, typename F>
    Result<T> read(F&& body);

    std::mutex mutex_;
    std::unique_ptr<storage::Database> db_;
};

}  // namespace pf::lambda
