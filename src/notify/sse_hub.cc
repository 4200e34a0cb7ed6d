#include "notify/sse_hub.h"

#include <algorithm>

namespace pf::notify {
namespace {

// A field value without the characters the format cannot carry in it.
std::string single_line(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c != '\r' && c != '\n' && c != '\0')
            out += c;
    }
    return out;
}

// Calls `line` for each line of `text`, split at CRLF, CR or LF; a trailing line break yields a
// final empty line (so the reader's "\n"-join restores it).
template <typename F>
void for_each_line(std::string_view text, F&& line) {
    std::size_t start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r' || text[i] == '\n') {
            line(text.substr(start, i - start));
            if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')
                ++i;
            start = i + 1;
        }
    }
    line(text.substr(start));
}

}  // namespace

std::string sse_event(std::string_view id, std::string_view event, std::string_view data) {
    std::string out;
    out.reserve(data.size() + id.size() + event.size() + 32);
    out += "id: ";
    out += single_line(id);
    out += "\nevent: ";
    out += single_line(event);
    out += '\n';
    for_each_line(data, [&](std::string_view line) {
        out += "data: ";
        out += line;
        out += '\n';
    });
    out += '\n';
    return out;
}

std::string sse_comment(std::string_view text) {
    std::string out;
    for_each_line(text, [&](std::string_view line) {
        out += ": ";
        out += line;
        out += '\n';
    });
    out += '\n';
    return out;
}

// ---- SseStream ----------------------------------------------------------------------------------

SseStream::SseStream(SseScope scope, std::string arn, std::size_t max_events, std::size_t max_bytes,
                     std::chrono::milliseconds heartbeat)
    : scope_(scope), arn_(std::move(arn)), max_events_(std::max<std::size_t>(max_events, 1)),
      max_bytes_(max_bytes), heartbeat_(heartbeat) {}

SseStream::Chunk SseStream::next() {
    std::unique_lock lock(mutex_);
    Chunk chunk;
    if (!ready_.wait_for(lock, heartbeat_, [&] { return !buffer_.empty() || closed_; })) {
        chunk.bytes = sse_comment("heartbeat");
        chunk.heartbeat = true;
        return chunk;
    }
    chunk.bytes.swap(buffer_);
    buffered_events_ = 0;
    chunk.closed = closed_;
    return chunk;
}

bool SseStream::closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
}

std::string SseStream::close_reason() const {
    std::lock_guard lock(mutex_);
    return close_reason_;
}

bool SseStream::push(const std::string& event) {
    bool open = true;
    {
        std::lock_guard lock(mutex_);
        if (closed_)
            return false;
        bool full = buffered_events_ >= max_events_ ||
                    (buffered_events_ > 0 && buffer_.size() + event.size() > max_bytes_);
        if (!full) {
            buffer_ += event;
            ++buffered_events_;
        } else {
            closed_ = true;
            close_reason_ = "slow reader";
            buffer_ +=
                sse_comment("closed: this client reads too slowly (" + std::to_string(max_events_) +
                            " events or " + std::to_string(max_bytes_) +
                            " bytes waiting); later messages were not sent");
            open = false;
        }
    }
    ready_.notify_all();
    return open;
}

void SseStream::close(std::string_view reason) {
    {
        std::lock_guard lock(mutex_);
        if (closed_)
            return;
        closed_ = true;
        close_reason_ = reason;
        buffer_ += sse_comment("closed: " + std::string(reason));
    }
    ready_.notify_all();
}

// ---- SseHub -------------------------------------------------------------------------------------

SseHub::SseHub(SseLimits limits) : limits_(limits) {}

SseHub::~SseHub() {
    shutdown("server stopping");
}

Result<std::shared_ptr<SseStream>> SseHub::open(Scope scope, const std::string& arn) {
    std::lock_guard lock(mutex_);
    if (shut_down_) {
        return make_error(ErrorCode::Unavailable, "the server is stopping",
                          "the server is stopping");
    }
    if (count_ >= limits_.max_streams) {
        return make_error(ErrorCode::Unavailable,
                          "too many event streams open (" + std::to_string(count_) + ")",
                          "too many event streams open");
    }
    auto stream = std::make_shared<SseStream>(scope, arn, limits_.max_events, limits_.max_bytes,
                                              limits_.heartbeat);
    streams_[Key(scope, arn)].push_back(stream);
    ++count_;
    return stream;
}

void SseHub::remove_locked(const std::shared_ptr<SseStream>& stream) {
    auto it = streams_.find(Key(stream->scope(), stream->arn()));
    if (it == streams_.end())
        return;
    auto& list = it->second;
    auto found = std::find(list.begin(), list.end(), stream);
    if (found == list.end())
        return;
    list.erase(found);
    --count_;
    if (list.empty())
        streams_.erase(it);
}

void SseHub::release(const std::shared_ptr<SseStream>& stream) {
    if (!stream)
        return;
    {
        std::lock_guard lock(mutex_);
        remove_locked(stream);
    }
    stream->close("client gone");
}

bool SseHub::has_streams(Scope scope, const std::string& arn) const {
    std::lock_guard lock(mutex_);
    return streams_.contains(Key(scope, arn));
}

std::size_t SseHub::publish(Scope scope, const std::string& arn, std::string_view id,
                            std::string_view event, std::string_view data) {
    std::vector<std::shared_ptr<SseStream>> targets;
    {
        std::lock_guard lock(mutex_);
        auto it = streams_.find(Key(scope, arn));
        if (it == streams_.end())
            return 0;
        targets = it->second;
    }
    // Formatted once, copied into each buffer outside the hub's lock: a large message to many
    // streams delays neither open() nor other topics.
    std::string bytes = sse_event(id, event, data);
    std::size_t taken = 0;
    std::vector<std::shared_ptr<SseStream>> dropped;
    for (const auto& stream : targets) {
        if (stream->push(bytes)) {
            ++taken;
        } else {
            dropped.push_back(stream);
        }
    }
    if (!dropped.empty()) {
        std::lock_guard lock(mutex_);
        for (const auto& stream : dropped)
            remove_locked(stream);
    }
    return taken;
}

void SseHub::close(Scope scope, const std::string& arn, std::string_view reason) {
    std::vector<std::shared_ptr<SseStream>> closing;
    {
        std::lock_guard lock(mutex_);
        auto it = streams_.find(Key(scope, arn));
        if (it == streams_.end())
            return;
        closing = std::move(it->second);
        count_ -= closing.size();
        streams_.erase(it);
    }
    for (const auto& stream : closing)
        stream->close(reason);
}

void SseHub::shutdown(std::string_view reason) {
    std::vector<std::shared_ptr<SseStream>> closing;
    {
        std::lock_guard lock(mutex_);
        shut_down_ = true;
        for (auto& [key, list] : streams_) {
            closing.insert(closing.end(), list.begin(), list.end());
        }
        streams_.clear();
        count_ = 0;
    }
    for (const auto& stream : closing)
        stream->close(reason);
}

std::size_t SseHub::stream_count() const {
    std::lock_guard lock(mutex_);
    return count_;
}

}  // namespace pf::notify
