// GET /_/console/api/events: one server-sent-event stream per browser tab. Starts with the recent
// message history, then writes whatever the feed buffers for it (photo and message events, a
// heartbeat comment after 15 s of quiet) until the client leaves or the feed shuts down. Runs on
// the connection's own thread and blocks there.
#pragma once

#include "console/activity_feed.h"
#include "http/server.h"

namespace pf::console {

void serve_event_stream(ActivityFeed& feed, const http::Request& request,
                        http::Response& response);

}  // namespace pf::console
