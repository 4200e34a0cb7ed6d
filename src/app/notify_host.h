// The notification service of `photoflux serve`, wired: its store (<data>/notify/), the signing key
// and certificate, the HTTP and SMTP transports with the destination rules from config, the
// dispatcher, the fan-out and the SNS API. serve_command routes to it: SNS API requests (SigV4
// credential scope service "sns") and the links under /_/sns/ (confirmation, unsubscribe, the
// signing certificate, the server-sent-event streams of /_/sns/sse).
#pragma once

#include "base/metrics.h"
#include "config/serve_config.h"
#include "http/server.h"
#include "notify/dispatcher.h"
#include "notify/fanout.h"
#include "notify/message_signer.h"
#include "notify/notify_store.h"
#include "notify/sns_service.h"
#include "notify/sse_hub.h"
#include "notify/transports.h"

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

namespace pf::app {

// Server-sent events of a topic or an sse subscription (notify_sse.cc).
inline constexpr std::string_view kSsePath = "/_/sns/sse";

class NotifyHost {
public:
    using SecretFor = std::function<std::optional<std::string>(std::string_view)>;
    static Result<std::unique_ptr<NotifyHost>> open(const config::ServeConfig& serve,
                                                    const std::filesystem::path& data_dir,
                                                    SecretFor secret_for);
    ~NotifyHost();

    // Once the server listens: the base URL links point at (unless serve.notify.public_url is
    // set); then deliveries start.
    void start(const std::string& listening_url);
    void stop();

    // A request for the SNS API: signed for service "sns" (header or query credential).
    static bool is_sns_request(const http::Request& request);
    void handle_api(const http::Request& request, http::RequestBody& body, http::Response& response);
    // GET /_/sns/...: true when the path was ours. GET /_/sns/sse streams server-sent events
    // (notify_sse.cc) and blocks until the client leaves or the stream is closed.
    bool handle_link(const http::Request& request, http::Response& response);
    // Ends every open event stream (their requests then finish) and refuses new ones. Called when
    // the server begins to stop, so in-flight SSE requests do not hold up the shutdown.
    void close_streams();

    // Publishes from inside serve (S3 event notifications to a topic); see SnsService.
    Result<std::string> publish_local(const std::string& topic_arn,
                                      const std::optional<std::string>& subject,
                                      const std::string& message) {
        return sns_->publish_local(topic_arn, subject, message);
    }
    std::string topic_arn(std::string_view name) const { return sns_->topic_arn(name); }

    // One SNS Query API request (form body) of a caller serve already authenticated: the web
    // console's signed-in session. The reply is the service's own XML.
    notify::SnsReply handle_console_sns(std::string_view form_body) {
        return sns_->handle_trusted(form_body);
    }

    // Called once for every message published on any topic (API Publish and PublishBatch
    // entries, publish_local, hence S3 event envelopes too), after its deliveries are persisted,
    // on the publishing thread: it must be thread-safe and quick. Replaces any previous observer;
    // an empty function removes it.
    using PublishObserver = std::function<void(const notify::PublishedMessage&)>;
    void set_publish_observer(PublishObserver observer);
    // Delivery counters and queue gauges on /_/metrics.
    void register_metrics(MetricsRegistry& metrics);
    // The ARNs of the topics, in creation order (at most `max`).
    Result<std::vector<std::string>> topic_arns(std::size_t max) const;
    // Whether a topic exists (the destination check of bucket notification configurations).
    bool has_topic(const std::string& arn) const {
        auto topic = store_->get_topic(arn);
        return topic && topic->has_value();
    }

private:
    NotifyHost() = default;
    std::string base_url() const;
    // GET /_/sns/sse?TopicArn=... | ?SubscriptionArn=... (HTTP Basic with the API key pair).
    void serve_sse(const http::Request& request, http::Response& response);

    std::string configured_public_url_;
    mutable std::mutex url_mutex_;
    std::string listening_url_;
    std::unique_ptr<notify::SqliteNotifyStore> store_;
    std::unique_ptr<notify::MessageSigner> signer_;
    std::unique_ptr<notify::HttpTransport> http_transport_;
    std::unique_ptr<notify::EmailTransport> email_transport_;
    SystemClock clock_;
    std::unique_ptr<notify::Dispatcher> dispatcher_;
    SecretFor secret_for_;
    std::unique_ptr<notify::SseHub> sse_;  // before fanout_, which points at it
    std::unique_ptr<notify::Fanout> fanout_;
    // The sink the SNS service publishes to: the fan-out, then the publish observer.
    class ObservedSink;
    std::unique_ptr<ObservedSink> observed_sink_;
    std::unique_ptr<notify::SnsService> sns_;
    bool started_ = false;
};

}  // namespace pf::app
