#include "console/event_stream.h"

#include "base/logging.h"
#include "console/replies.h"

namespace pf::console {

void serve_event_stream(ActivityFeed& feed, const http::Request& request,
                        http::Response& response) {
    static auto log = component_logger("console");
    auto opened = feed.open();
    if (!opened) {
        return reply_error(response, 503, "unavailable", opened.error().client_message(),
                           {{"Retry-After", "5"}});
    }
    std::shared_ptr<notify::SseStream> stream = std::move(opened->stream);
    struct Release {
        ActivityFeed& feed;
        const std::shared_ptr<notify::SseStream>& stream;
        ~Release() { feed.release(stream); }
    } release{feed, stream};

    response.close_after();  // a stream is the connection's last response
    if (!response.start(200,
                        {{"Content-Type", "text/event-stream"},
                         {"Cache-Control", "no-store"},
                         {"X-Accel-Buffering", "no"}},
                        std::nullopt)) {
        return;
    }
    log->debug("event=console_stream_open remote={}", request.remote_address);
    std::string first = notify::sse_comment("stream open") + opened->history;
    bool client_gone = !response.write(first);
    while (!client_gone) {
        auto chunk = stream->next();
        if (!chunk.bytes.empty()) {
            client_gone = !response.write(chunk.bytes);
        }
        if (chunk.closed) {
            break;
        }
    }
    if (!client_gone) {
        (void)response.finish();
    }
    log->debug("event=console_stream_close remote={} reason=\"{}\"", request.remote_address,
               client_gone ? std::string("client gone") : stream->close_reason());
}

}  // namespace pf::console
