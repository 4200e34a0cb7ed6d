#include "app/notify_host.h"

#include "aws/sigv4.h"
#include "aws/uri_encoding.h"
#include "base/logging.h"
#include "crypto/digest.h"
#include "notify/delivery_policy.h"
#include "s3api/cors.h"

namespace pf::app {
namespace {

std::shared_ptr<spdlog::logger> logger() {
    static auto log = component_logger("notify");
    return log;
}

// The value of `name` in a query string, decoded ('+' is a space), or empty.
std::string query_value(std::string_view query, std::string_view name) {
    auto params = aws::parse_query(query);
    if (!params) return {};
    for (const auto& [key, value] : *params) {
        if (key == name) return value;
    }
    return {};
}

void reply(http::Response& response, int status, const std::string& content_type,
           const std::string& body) {
    if (response.start(status, {{"Content-Type", content_type}, {"Cache-Control", "no-store"}},
                       body.size())) {
        (void)response.write(body);
    }
}

Result<http::StartTls> parse_starttls(const std::string& text) {
    if (text == "off") return http::StartTls::Off;
    if (text == "try" || text.empty()) return http::StartTls::Try;
    if (text == "require") return http::StartTls::Require;
    return make_error(ErrorCode::InvalidArgument,
                      "serve.notify.smtp_starttls must be off, try or require, not " + text);
}

// The effective delivery policy of a delivery's subscription, read when it is attempted (so a
// policy changed meanwhile applies to the next retry).
notify::EffectiveDeliveryPolicy policy_for(notify::SqliteNotifyStore& store,
                                           const notify::Delivery& delivery) {
    std::optional<notify::TopicDeliveryPolicy> topic_policy;
    std::optional<notify::SubscriptionDeliveryPolicy> subscription_policy;
    if (auto topic = store.get_topic(delivery.topic_arn); topic && *topic) {
        auto it = (*topic)->attributes.find("DeliveryPolicy");
        if (it != (*topic)->attributes.end() && !it->second.empty()) {
            if (auto parsed = notify::parse_topic_delivery_policy(it->second)) topic_policy = *parsed;
        }
    }
    if (auto sub = store.get_subscription(delivery.subscription_arn); sub && *sub) {
        auto it = (*sub)->attributes.find("DeliveryPolicy");
        if (it != (*sub)->attributes.end() && !it->second.empty()) {
            if (auto parsed = notify::parse_subscription_delivery_policy(it->second)) {
                subscription_policy = *parsed;
            }
        }
    }
    return notify::effective_delivery_policy(delivery.protocol,
                                             topic_policy ? &*topic_policy : nullptr,
                                             subscription_policy ? &*subscription_policy : nullptr);
}

// serve.notify.topics as the SNS service declares them (labels name the config entries).
std::vector<notify::SnsService::DeclaredTopic>
declared_topics(const std::vector<config::NotifyTopicConfig>& topics) {
    std::vector<notify::SnsService::DeclaredTopic> out;
    for (std::size_t i = 0; i < topics.size(); ++i) {
        const auto& t = topics[i];
        notify::SnsService::DeclaredTopic topic;
        topic.label = "serve.notify.topics[" + std::to_string(i) + "]";
        topic.name = t.name;
        topic.attributes = t.attributes;
        for (std::size_t j = 0; j < t.subscriptions.size(); ++j) {
            const auto& s = t.subscriptions[j];
            notify::SnsService::DeclaredSubscription sub;
            sub.label = topic.label + ".subscriptions[" + std::to_string(j) + "]";
            sub.protocol = s.protocol;
            sub.endpoint = s.endpoint;
            if (s.raw) sub.attributes["RawMessageDelivery"] = *s.raw ? "true" : "false";
            if (s.filter_policy) sub.attributes["FilterPolicy"] = *s.filter_policy;
            if (s.filter_policy_scope) sub.attributes["FilterPolicyScope"] = *s.filter_policy_scope;
            if (s.delivery_policy) sub.attributes["DeliveryPolicy"] = *s.delivery_policy;
            topic.subscriptions.push_back(std::move(sub));
        }
        out.push_back(std::move(topic));
    }
    return out;
}

}  // namespace

// Every message any publisher sends passes through the service's PublishSink once, so this is
// the one place that sees them all (Publish, PublishBatch entries and publish_local alike). The
// observer is read through a shared_ptr taken under a short lock, so a call never runs under it
// and set_publish_observer() may run at any time.
class NotifyHost::ObservedSink final : public notify::PublishSink {
public:
    explicit ObservedSink(notify::PublishSink& inner) : inner_(inner) {}

    Result<void> on_subscribe_pending(const notify::Subscription& subscription,
                                      const notify::ConfirmationRequest& confirmation) override {
        return inner_.on_subscribe_pending(subscription, confirmation);
    }
    void on_confirmed(const notify::Subscription& subscription) override {
        inner_.on_confirmed(subscription);
    }
    void on_unsubscribed(const notify::Subscription& subscription, bool topic_deleted) override {
        inner_.on_unsubscribed(subscription, topic_deleted);
    }
    Result<void> publish(const notify::Topic& topic,
                         const notify::PublishedMessage& message) override {
        auto published = inner_.publish(topic, message);
        if (!published) return published;  // the Publish fails: nothing was sent
        std::shared_ptr<const PublishObserver> observer;
        {
            std::lock_guard lock(mutex_);
            observer = observer_;
        }
        if (observer && *observer) (*observer)(message);
        return published;
    }

    void set(PublishObserver observer) {
        auto shared = observer ? std::make_shared<const PublishObserver>(std::move(observer))
                               : nullptr;
        std::lock_guard lock(mutex_);
        observer_ = std::move(shared);
    }

private:
    notify::PublishSink& inner_;
    std::mutex mutex_;
    std::shared_ptr<const PublishObserver> observer_;
};

Result<std::unique_ptr<NotifyHost>> NotifyHost::open(const config::ServeConfig& serve,
                                                     const std::filesystem::path& data_dir,
                                                     SecretFor secret_for) {
    std::unique_ptr<NotifyHost> host(new NotifyHost());
    host->configured_public_url_ = serve.notify_public_url;
    while (!host->configured_public_url_.empty() && host->configured_public_url_.back() == '/') {
        host->configured_public_url_.pop_back();
    }
    auto notify_dir = data_dir / "notify";

    auto store = notify::SqliteNotifyStore::open(notify_dir / "notify.sqlite");
    if (!store) return store.error();
    host->store_ = std::move(*store);

    auto signer = notify::MessageSigner::load_or_create(notify_dir, "photoflux-sns");
    if (!signer) return signer.error();
    host->signer_ = std::make_unique<notify::MessageSigner>(std::move(*signer));

    auto allowed = http::AddressPolicy::with_allowed(
        s3api::split_list(serve.notify_allowed_destinations));
    if (!allowed) {
        return make_error(ErrorCode::InvalidArgument,
                          "serve.notify.allowed_destinations: " + allowed.error().message);
    }
    http::ClientOptions client;
    client.timeout = std::chrono::seconds(15);
    client.connect_timeout = std::chrono::seconds(15);
    client.user_agent = "Amazon Simple Notification Service Agent";
    client.address_policy = *allowed;
    host->http_transport_ = std::make_unique<notify::HttpTransport>(client);

    std::unique_ptr<http::SmtpClient> smtp;
    if (!serve.notify_smtp_url.empty()) {
        http::SmtpSettings settings;
        settings.server_url = serve.notify_smtp_url;
        settings.username = serve.notify_smtp_username;
        settings.password = serve.notify_smtp_password;
        auto starttls = parse_starttls(serve.notify_smtp_starttls);
        if (!starttls) return starttls.error();
        settings.starttls = *starttls;
        settings.from_address = serve.notify_smtp_from;
        if (auto valid = http::SmtpClient::validate(settings); !valid) {
            return make_error(ErrorCode::InvalidArgument,
                              "serve.notify.smtp_*: " + valid.error().message);
        }
        smtp = std::make_unique<http::SmtpClient>(settings);
    }
    bool have_smtp = smtp != nullptr;
    host->email_transport_ = std::make_unique<notify::EmailTransport>(std::move(smtp));

    NotifyHost* self = host.get();
    host->dispatcher_ = std::make_unique<notify::Dispatcher>(
        *host->store_,
        [self](std::string_view protocol) -> notify::Transport* {
            if (protocol == "http" || protocol == "https") return self->http_transport_.get();
            if (protocol == "email" || protocol == "email-json") return self->email_transport_.get();
            return nullptr;
        },
        [self](const notify::Delivery& delivery) { return policy_for(*self->store_, delivery); },
        notify::DispatcherOptions{}, host->clock_);

    notify::SnsService::Options options;
    options.region = serve.region;
    host->secret_for_ = secret_for;
    options.secret_for = std::move(secret_for);
    options.public_base_url = [self] { return self->base_url(); };
    options.max_clock_skew = serve.max_clock_skew;
    // The resubscribe links' HMAC key: an RSA PKCS#1 v1.5 signature is deterministic, so the
    // signing key's signature of a fixed text is a secret only this server can compute, the same
    // after every restart, with nothing more to store.
    auto link_key = host->signer_->sign_base64(2, "photoflux resubscribe links v1");
    if (!link_key) return link_key.error();
    options.link_secret = crypto::sha256_hex(*link_key);
    options.endpoint_policy = [have_smtp](std::string_view protocol,
                                          std::string_view) -> std::optional<std::string> {
        if ((protocol == "email" || protocol == "email-json") && !have_smtp) {
            return "e-mail subscriptions need an SMTP server: set serve.notify.smtp_url";
        }
        return std::nullopt;
    };

    notify::Fanout::Links links;
    links.signing_cert_url = [self] {
        return self->base_url() + "/_/sns/" + self->signer_->certificate_file_name();
    };
    links.unsubscribe_url = [self](const notify::Subscription& subscription) {
        return self->sns_->unsubscribe_url(subscription);
    };
    links.resubscribe_url = [self](const notify::Subscription& subscription, std::string* token) {
        return self->sns_->resubscribe_url(subscription, token);
    };
    host->sse_ = std::make_unique<notify::SseHub>();
    host->fanout_ = std::make_unique<notify::Fanout>(*host->store_, *host->signer_, links,
                                                     [self] { self->dispatcher_->wake(); },
                                                     host->sse_.get());
    options.on_replayed = [self] { self->dispatcher_->wake(); };
    host->observed_sink_ = std::make_unique<ObservedSink>(*host->fanout_);
    host->sns_ =
        std::make_unique<notify::SnsService>(options, *host->store_, *host->observed_sink_);
    if (!serve.notify_topics.empty()) {
        auto declared = host->sns_->apply_declared(declared_topics(serve.notify_topics));
        if (!declared) return declared.error();
    }
    return host;
}

NotifyHost::~NotifyHost() { stop(); }

Result<std::vector<std::string>> NotifyHost::topic_arns(std::size_t max) const {
    std::vector<std::string> arns;
    std::int64_t after = 0;
    while (arns.size() < max) {
        auto page = store_->list_topics(after, std::min<std::size_t>(100, max - arns.size()));
        if (!page) return page.error();
        for (const auto& topic : page->items) arns.push_back(topic.arn);
        if (!page->next_after) break;
        after = *page->next_after;
    }
    return arns;
}

void NotifyHost::set_publish_observer(PublishObserver observer) {
    observed_sink_->set(std::move(observer));
}

void NotifyHost::start(const std::string& listening_url) {
    {
        std::lock_guard lock(url_mutex_);
        listening_url_ = listening_url;
    }
    auto now = clock_.now_ms();
    if (auto purged = store_->purge_expired(now); purged && !purged->empty()) {
        logger()->info("event=expired_subscriptions_removed count={}", purged->size());
    }
    dispatcher_->start();
    started_ = true;
    if (auto queued = store_->queued_count(); queued && *queued > 0) {
        logger()->info("event=deliveries_resumed queued={}", *queued);
    }
}

void NotifyHost::stop() {
    close_streams();
    if (started_) {
        dispatcher_->stop();
        started_ = false;
    }
}

std::string NotifyHost::base_url() const {
    if (!configured_public_url_.empty()) return configured_public_url_;
    std::lock_guard lock(url_mutex_);
    return listening_url_;
}

bool NotifyHost::is_sns_request(const http::Request& request) {
    if (auto authorization = request.header("authorization")) {
        auto parsed = aws::parse_authorization_header(*authorization);
        return parsed && parsed->scope.service == "sns";
    }
    auto query = request.query();
    auto credential = query_value(query, "X-Amz-Credential");
    return credential.find("/sns/aws4_request") != std::string::npos;
}

void NotifyHost::handle_api(const http::Request& request, http::RequestBody& body,
                            http::Response& response) {
    sns_->handle(request, body, response);
}

bool NotifyHost::handle_link(const http::Request& request, http::Response& response) {
    auto path = request.path();
    if (!path.starts_with("/_/sns/")) return false;
    if (path == kSsePath) {
        serve_sse(request, response);
        return true;
    }
    auto query = request.query();
    notify::SnsReply answer;
    if (path == notify::kConfirmLinkPath) {
        answer = sns_->confirm_by_token(query_value(query, "TopicArn"), query_value(query, "Token"));
    } else if (path == notify::kResubscribeLinkPath) {
        answer = sns_->resubscribe_by_link(
            query_value(query, "TopicArn"), query_value(query, "Protocol"),
            query_value(query, "Endpoint"), query_value(query, "Expires"),
            query_value(query, "Token"));
    } else if (path == notify::kUnsubscribeLinkPath) {
        answer = sns_->unsubscribe_by_link(query_value(query, "SubscriptionArn"),
                                          query_value(query, "Token"));
    } else if (path.substr(std::string_view("/_/sns/").size()) == signer_->certificate_file_name()) {
        reply(response, 200, "application/x-pem-file", signer_->certificate_pem());
        return true;
    } else {
        return false;
    }
    reply(response, answer.status, std::string(notify::SnsReply::content_type), answer.body);
    return true;
}

void NotifyHost::register_metrics(MetricsRegistry& metrics) {
    auto* dispatcher = dispatcher_.get();
    const char* help = "Notification delivery attempts, by result.";
    metrics.counter_callback("photoflux_notify_deliveries_total", help,
                             [dispatcher] { return double(dispatcher->stats().delivered); },
                             {{"result", "delivered"}});
    metrics.counter_callback("photoflux_notify_deliveries_total", help,
                             [dispatcher] { return double(dispatcher->stats().retried); },
                             {{"result", "retried"}});
    metrics.counter_callback("photoflux_notify_deliveries_total", help,
                             [dispatcher] { return double(dispatcher->stats().dead_lettered); },
                             {{"result", "dead_lettered"}});
    metrics.gauge_callback("photoflux_notify_in_flight", "Delivery attempts running now.",
                           [dispatcher] { return double(dispatcher->stats().in_flight); });
    auto* store = store_.get();
    metrics.gauge_callback("photoflux_notify_queue_depth",
                           "Deliveries waiting (due, or for a retry).", [store] {
                               auto queued = store->queued_count();
                               return queued ? double(*queued) : -1.0;
                           });
}

}  // namespace pf::app
