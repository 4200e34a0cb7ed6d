// SseHub: the live server-sent-event streams of `photoflux serve` (protocol `sse`). A stream is
// registered for a whole topic (every message published to it) or for one sse subscription (the
// fan-out applies that subscription's filter policy and RawMessageDelivery before it gets here).
//
// Publishing never waits for a reader: each stream has a bounded buffer (events and bytes), filled
// by the publisher under a short lock and emptied by the stream's own reader (the HTTP connection
// thread). A stream whose buffer is full is dropped: what it already holds stays readable, then a
// final comment line says why, and it is closed; the publisher moves on. Streams of a removed
// topic or subscription, and every stream on shutdown(), end the same way.
//
// Wire format (WHATWG HTML, "server-sent events", text/event-stream):
//   id: <MessageId>\nevent: Notification\ndata: <line 1>\ndata: <line 2>\n\n
// and comments (": heartbeat\n\n") that keep proxies from timing the connection out.
#pragma once

#include "base/result.h"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::notify {

struct SseLimits {
    std::size_t max_events = 256;         // events buffered for one stream before it is dropped
    std::size_t max_bytes = 1024 * 1024;  // bytes buffered for one stream (one larger event
                                          // still fits an empty buffer)
    std::size_t max_streams = 256;        // open streams in all; more are refused
    std::chrono::milliseconds heartbeat{15'000};  // a comment after this long without events
};

// One event: "id:", "event:" and one "data:" line per line of `data` (split at CRLF, CR or LF, so
// a reader that joins the data lines with "\n" gets the text back, CRs aside). CR, LF and NUL are
// removed from `id` and `event` (they cannot be carried there).
std::string sse_event(std::string_view id, std::string_view event, std::string_view data);
// A comment block (": text" per line, then a blank line); readers ignore it.
std::string sse_comment(std::string_view text);

// What a stream listens to: a whole topic, or one sse subscription.
enum class SseScope { Topic, Subscription };

// The reading end of one stream. Created by SseHub::open(); read by one thread.
class SseStream {
public:
    struct Chunk {
        std::string bytes;       // write these to the client (may be empty once closed)
        bool heartbeat = false;  // `bytes` is only a heartbeat comment: nothing happened
        bool closed = false;     // the stream ended; nothing follows `bytes`
    };

    SseStream(SseScope scope, std::string arn, std::size_t max_events, std::size_t max_bytes,
              std::chrono::milliseconds heartbeat);
    SseStream(const SseStream&) = delete;
    SseStream& operator=(const SseStream&) = delete;

    // Waits until events are buffered, the stream is closed, or the heartbeat interval passed,
    // and takes everything buffered.
    Chunk next();
    bool closed() const;
    // Why the stream was closed ("unsubscribed", "server stopping", ...); empty while open.
    std::string close_reason() const;
    SseScope scope() const { return scope_; }
    const std::string& arn() const { return arn_; }

private:
    friend class SseHub;

    // Appends an event unless the buffer is full; a full buffer closes the stream (with a final
    // comment). Returns false when the stream is closed (now or before).
    bool push(const std::string& event);
    // Closes with a final comment (once; later calls do nothing).
    void close(std::string_view reason);

    const SseScope scope_;
    const std::string arn_;
    const std::size_t max_events_;
    const std::size_t max_bytes_;
    const std::chrono::milliseconds heartbeat_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::string buffer_;
    std::size_t buffered_events_ = 0;
    bool closed_ = false;
    std::string close_reason_;
};

class SseHub {
public:
    using Scope = SseScope;

    explicit SseHub(SseLimits limits = {});
    ~SseHub();
    SseHub(const SseHub&) = delete;
    SseHub& operator=(const SseHub&) = delete;

    // Registers a stream for a topic ARN or an sse subscription ARN (the caller checked that it
    // exists). Unavailable after shutdown() or with max_streams open.
    Result<std::shared_ptr<SseStream>> open(Scope scope, const std::string& arn);
    // The reader is gone (client left, write failed): unregisters and closes the stream.
    void release(const std::shared_ptr<SseStream>& stream);

    // True when a stream is registered for (scope, arn): the fan-out builds events only then.
    bool has_streams(Scope scope, const std::string& arn) const;
    // Buffers one event in every stream of (scope, arn) without waiting for any reader; streams
    // whose buffer is full are dropped. Returns how many streams took the event.
    std::size_t publish(Scope scope, const std::string& arn, std::string_view id,
                        std::string_view event, std::string_view data);

    // Ends the streams of (scope, arn) with a final comment saying `reason`.
    void close(Scope scope, const std::string& arn, std::string_view reason);
    // Ends every stream and refuses new ones from now on. Idempotent.
    void shutdown(std::string_view reason);

    std::size_t stream_count() const;
    const SseLimits& limits() const { return limits_; }

private:
    using Key = std::pair<Scope, std::string>;

    // Unregisters `stream` (if still registered); mutex_ held.
    void remove_locked(const std::shared_ptr<SseStream>& stream);

    const SseLimits limits_;
    mutable std::mutex mutex_;
    std::map<Key, std::vector<std::shared_ptr<SseStream>>> streams_;
    std::size_t count_ = 0;
    bool shut_down_ = false;
};

}  // namespace pf::notify
