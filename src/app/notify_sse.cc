// GET /_/sns/sse: the server-sent-event streams of protocol `sse`, for browsers (EventSource) and
// `curl -N -u AK:SECRET`.
//
//   ?TopicArn=<arn>              every message published to the topic (the Notification JSON)
//   ?SubscriptionArn=<arn>       the messages of one sse subscription: its filter policy applies,
//                                and with RawMessageDelivery the data is the message text
//
// Authentication is HTTP Basic with the API's access key id and secret (compared in constant
// time); 401 with a Basic challenge otherwise. The handler runs on the connection's own thread
// and blocks there: it writes whatever the stream's buffer holds (SseHub fills it, never waiting
// for this thread), a heartbeat comment when nothing happened for a while, and returns when the
// client is gone (a write fails), the stream was dropped or closed (slow reader, topic deleted,
// unsubscribed, server stopping). Last-Event-ID is not supported: a reconnecting client gets the
// messages published from then on (messages are not kept for replay).
#include "app/notify_host.h"
#include "aws/uri_encoding.h"
#include "base/ascii.h"
#include "base/logging.h"
#include "crypto/constant_time.h"
#include "crypto/encoding.h"

#include <chrono>

namespace pf::app {
namespace {

std::shared_ptr<spdlog::logger> logger() {
    static auto log = component_logger("notify");
    return log;
}

void reply_text(http::Response& response, int status, const std::string& text,
                std::vector<std::pair<std::string, std::string>> extra = {}) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "text/plain; charset=utf-8"}, {"Cache-Control", "no-store"}};
    for (auto& header : extra)
        headers.push_back(std::move(header));
    std::string body = text + "\n";
    if (response.start(status, std::move(headers), body.size())) {
        (void)response.write(body);
    }
}

// "Basic <base64(id:secret)>" -> (id, secret); nullopt when absent or malformed.
std::optional<std::pair<std::string, std::string>> basic_credentials(const http::Request& request) {
    auto header = request.header("authorization");
    if (!header)
        return std::nullopt;
    std::string_view value = *header;
    constexpr std::string_view kScheme = "basic ";
    if (value.size() <= kScheme.size() ||
        !ascii_iequals(value.substr(0, kScheme.size()), kScheme)) {
        return std::nullopt;
    }
    value.remove_prefix(kScheme.size());
    while (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ')
        value.remove_suffix(1);
    auto decoded = crypto::base64_decode(value);
    if (!decoded)
        return std::nullopt;
    auto colon = decoded->find(':');
    if (colon == std::string::npos)
        return std::nullopt;
    return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

}  // namespace

void NotifyHost::close_streams() {
    if (sse_)
        sse_->shutdown("server stopping");
}

void NotifyHost::serve_sse(const http::Request& request, http::Response& response) {
    if (request.method != "GET") {
        reply_text(response, 405, "only GET opens an event stream", {{"Allow", "GET"}});
        return;
    }
    // Authenticate before anything is looked up, so a stranger learns nothing about topics.
    bool authorized = false;
    if (auto credentials = basic_credentials(request)) {
        auto expected = secret_for_ ? secret_for_(credentials->first) : std::nullopt;
        bool equal = crypto::constant_time_equal(credentials->second, expected.value_or(""));
        authorized = expected.has_value() && equal;
    }
    if (!authorized) {
        reply_text(response, 401,
                   "authentication required: HTTP Basic with the access key id and secret",
                   {{"WWW-Authenticate", "Basic realm=\"photoflux\""}});
        return;
    }

    auto params = aws::parse_query(request.query());
    if (!params) {
        reply_text(response, 400, "malformed query string");
        return;
    }
    std::optional<std::string> topic_arn;
    std::optional<std::string> subscription_arn;
    for (const auto& [key, value] : *params) {
        if (key == "TopicArn")
            topic_arn = value;
        if (key == "SubscriptionArn")
            subscription_arn = value;
    }
    if (topic_arn.has_value() == subscription_arn.has_value() ||
        (topic_arn ? *topic_arn : *subscription_arn).empty()) {
        reply_text(response, 400, "give exactly one of TopicArn and SubscriptionArn");
        return;
    }
    auto scope = topic_arn ? notify::SseScope::Topic : notify::SseScope::Subscription;
    const std::string& arn = topic_arn ? *topic_arn : *subscription_arn;

    // Whether the topic or sse subscription exists; nullopt when the store failed.
    auto exists = [&]() -> std::optional<bool> {
        if (scope == notify::SseScope::Topic) {
            auto topic = store_->get_topic(arn);
            if (!topic) {
                logger()->error("event=sse_lookup_failed arn={} error=\"{}\"", arn,
                                topic.error().message);
                return std::nullopt;
            }
            return topic->has_value();
        }
        auto subscription = store_->get_subscription(arn);
        if (!subscription) {
            logger()->error("event=sse_lookup_failed arn={} error=\"{}\"", arn,
                            subscription.error().message);
            return std::nullopt;
        }
        return subscription->has_value() && (*subscription)->protocol == notify::kProtocolSse;
    };
    auto found = exists();
    if (!found) {
        reply_text(response, 500, "internal error");
        return;
    }
    if (!*found) {
        reply_text(response, 404,
                   topic_arn ? "no such topic" : "no such subscription with protocol sse");
        return;
    }

    auto opened = sse_->open(scope, arn);
    if (!opened) {
        reply_text(response, 503, opened.error().client_message(), {{"Retry-After", "5"}});
        return;
    }
    std::shared_ptr<notify::SseStream> stream = std::move(*opened);
    struct Release {
        notify::SseHub& hub;
        const std::shared_ptr<notify::SseStream>& stream;
        ~Release() { hub.release(stream); }
    } release{*sse_, stream};
    // Removed between the lookup and the registration: its close already went by.
    if (auto still = exists(); !still || !*still) {
        reply_text(response, 404, "no such topic or subscription");
        return;
    }

    response.close_after();  // a stream is the connection's last response
    auto started = response.start(200,
                                  {{"Content-Type", "text/event-stream"},
                                   {"Cache-Control", "no-store"},
                                   {"X-Accel-Buffering", "no"}},
                                  std::nullopt);
    if (!started)
        return;
    auto opened_at = std::chrono::steady_clock::now();
    logger()->info("event=sse_open scope={} arn={} remote={} streams={}",
                   topic_arn ? "topic" : "subscription", arn, request.remote_address,
                   sse_->stream_count());

    // Ends when a write fails (the client left) or the stream is closed (its buffered events and
    // the closing comment written first).
    std::string first = notify::sse_comment("stream open");
    std::uint64_t bytes = first.size();
    bool client_gone = !response.write(first);
    while (!client_gone) {
        auto chunk = stream->next();
        if (chunk.heartbeat) {
            if (auto still = exists(); still && !*still) {
                // Deleted without a close reaching the hub (a topic without subscriptions):
                // close its streams now; the next read returns the closing comment.
                sse_->close(scope, arn, topic_arn ? "topic deleted" : "unsubscribed");
                continue;
            }
        }
        if (!chunk.bytes.empty()) {
            client_gone = !response.write(chunk.bytes);
            bytes += chunk.bytes.size();
        }
        if (chunk.closed)
            break;
    }
    std::string reason = client_gone ? "client gone" : stream->close_reason();
    if (!client_gone)
        (void)response.finish();
    logger()->info("event=sse_close arn={} remote={} reason=\"{}\" bytes={} seconds={}", arn,
                   request.remote_address, reason, bytes,
                   std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::steady_clock::now() - opened_at)
                       .count());
}

}  // namespace pf::app
