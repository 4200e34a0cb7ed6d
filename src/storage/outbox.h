// The transactional outbox of DiskStore: what an object change looks like to the code that turns
// it into event messages (the OutboxRouter app/ installs, backed by events::EventRouter), and the
// rows the outbox holds until a consumer has delivered them. Rows are written in the transaction
// of the change itself, so an event exists exactly when its change committed. See README.md.
#pragma once

#include "base/result.h"
#include "storage/object_store.h"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pf::storage {

// What an object-mutating write did, with what the S3 event needs to describe it.
struct ObjectChange {
    enum class Kind { Created, Removed };
    Kind kind = Kind::Created;
    std::string bucket;
    std::string key;
    std::uint64_t size = 0;  // of the object created (or removed)
    std::string etag;        // unquoted
    ChangeCause cause;
    std::int64_t event_time_ms = 0;  // the commit time, Unix milliseconds
    std::string sequencer;           // aws::next_sequencer(), in commit order
    std::string region;              // the bucket's region (filled in by the outbox writer)
};

// One message to deliver, as the router returns it.
struct OutboxRow {
    std::string target;  // destination ARN
    std::string payload;
    std::string trace_id;
};

// One stored row, as the consumer reads it. Ids increase with every row ever added (never
// reused), so a consumer can page with "after this id".
struct OutboxEntry {
    std::int64_t id = 0;
    std::string target;
    std::string payload;
    std::string trace_id;
    std::int64_t created_ms = 0;
};

// Called on the commit thread, inside the transaction, for each change whose cause has an event
// name and whose bucket has a "notification" configuration document. Must not block and must not
// call back into the store. An error fails the write: nothing of it is committed.
using OutboxRouter = std::function<Result<std::vector<OutboxRow>>(
    const ObjectChange& change, std::string_view notification_document)>;

// Called on the commit thread after a commit that added outbox rows. Must return quickly (wake
// the consumer; do not consume here).
using OutboxListener = std::function<void()>;

}  // namespace pf::storage
