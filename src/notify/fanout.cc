#include "notify/fanout.h"

#include "base/clock.h"
#include "base/logging.h"
#include "notify/delivery_policy.h"
#include "notify/envelope.h"
#include "notify/sns_service.h"

#include <nlohmann/json.hpp>

#include <chrono>

namespace pf::notify {
namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void log_failure(std::string_view what, const std::string& error) {
    static auto log = component_logger("notify");
    log->error("event=delivery_not_queued kind={} error=\"{}\"", what, error);
}

bool is_http(std::string_view protocol) {
    return protocol == "http" || protocol == "https";
}

bool is_email(std::string_view protocol) {
    return protocol == "email" || protocol == "email-json";
}

std::string attribute(const std::map<std::string, std::string>& attributes, const char* name) {
    auto it = attributes.find(name);
    return it == attributes.end() ? std::string() : it->second;
}

// The Content-Type of HTTP deliveries: the subscription's (or topic's) requestPolicy, else
// SNS's text/plain; charset=UTF-8.
std::string content_type_for(const Topic& topic, const Subscription& subscription) {
    std::optional<TopicDeliveryPolicy> topic_policy;
    if (auto text = attribute(topic.attributes, "DeliveryPolicy"); !text.empty()) {
        if (auto parsed = parse_topic_delivery_policy(text)) topic_policy = *parsed;
    }
    std::optional<SubscriptionDeliveryPolicy> subscription_policy;
    if (auto text = attribute(subscription.attributes, "DeliveryPolicy"); !text.empty()) {
        if (auto parsed = parse_subscription_delivery_policy(text)) subscription_policy = *parsed;
    }
    return effective_delivery_policy(subscription.protocol,
                                     topic_policy ? &*topic_policy : nullptr,
                                     subscription_policy ? &*subscription_policy : nullptr)
        .header_content_type;
}

Delivery base_delivery(const Subscription& subscription, std::string message_id,
                       std::string message_type) {
    Delivery d;
    d.id = new_uuid();
    d.message_id = std::move(message_id);
    d.topic_arn = subscription.topic_arn;
    d.subscription_arn = subscription.arn;
    d.protocol = subscription.protocol;
    d.endpoint = subscription.endpoint;
    d.message_type = std::move(message_type);
    d.created_ms = now_ms();
    d.next_attempt_ms = d.created_ms;
    return d;
}

// The envelope JSON on one line, for an SSE data field (the deliveries' JSON is indented). Same
// fields, values and order; the signature covers values, not whitespace.
Result<std::string> one_line_json(const std::string& text) {
    auto parsed = nlohmann::ordered_json::parse(text, nullptr, false);
    if (parsed.is_discarded()) {
        return make_error(ErrorCode::Internal, "notification JSON does not parse");
    }
    return parsed.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

std::string message_text_for(const PublishedMessage& message, std::string_view protocol) {
    if (!message.json_structure) {
        return message.message;
    }
    auto parsed = nlohmann::json::parse(message.message, nullptr, false);
    if (!parsed.is_object()) {
        return message.message;
    }
    auto pick = [&](std::string_view key) -> std::optional<std::string> {
        auto it = parsed.find(std::string(key));
        if (it != parsed.end() && it->is_string()) return it->get<std::string>();
        return std::nullopt;
    };
    if (auto text = pick(protocol)) return *text;
    if (auto text = pick("default")) return *text;
    return message.message;
}

int signature_version_of(const Topic& topic) {
    return attribute(topic.attributes, "SignatureVersion") == "2" ? 2 : 1;
}

Fanout::Fanout(SqliteNotifyStore& store, const MessageSigner& signer, Links links,
               std::function<void()> wake_dispatcher, SseHub* sse)
    : store_(store), signer_(signer), links_(std::move(links)),
      wake_dispatcher_(std::move(wake_dispatcher)), sse_(sse) {}

Result<void> Fanout::on_subscribe_pending(const Subscription& subscription,
                                          const ConfirmationRequest& confirmation) {
    if (!is_http(subscription.protocol) && !is_email(subscription.protocol)) {
        return {};  // sse needs no confirmation
    }
    auto topic = store_.get_topic(subscription.topic_arn);
    if (!topic) return topic.error();
    int version = *topic ? signature_version_of(**topic) : 1;

    Delivery d = base_delivery(subscription, confirmation.message_id, "SubscriptionConfirmation");
    ConfirmationFields fields;
    fields.kind = ConfirmationKind::Subscribe;
    fields.message_id = confirmation.message_id;
    fields.token = confirmation.token;
    fields.topic_arn = subscription.topic_arn;
    fields.subscribe_url = confirmation.subscribe_url;
    fields.timestamp = confirmation.timestamp;
    fields.signing_cert_url = links_.signing_cert_url();
    if (subscription.protocol == "email") {
        d.subject = confirmation_email_subject();
        d.body = confirmation_email_body(subscription.topic_arn, confirmation.subscribe_url);
    } else {
        auto json = confirmation_json(fields, version, signer_);
        if (!json) return json.error();
        d.body = std::move(*json);
        d.subject = confirmation_email_subject();
        d.headers = {{"x-amz-sns-message-type", "SubscriptionConfirmation"},
                     {"x-amz-sns-message-id", d.message_id},
                     {"x-amz-sns-topic-arn", subscription.topic_arn},
                     {"Content-Type", std::string(kDefaultHeaderContentType)},
                     {"User-Agent", "Amazon Simple Notification Service Agent"}};
    }
    if (auto queued = store_.enqueue({d}); !queued) return queued.error();
    wake_dispatcher_();
    return {};
}

void Fanout::on_unsubscribed(const Subscription& subscription, bool topic_deleted) {
    {
        std::lock_guard lock(filters_mutex_);
        filters_.erase(subscription.arn);
    }
    if (sse_) {
        sse_->close(SseScope::Subscription, subscription.arn,
                    topic_deleted ? "topic deleted" : "unsubscribed");
        if (topic_deleted) sse_->close(SseScope::Topic, subscription.topic_arn, "topic deleted");
    }
    // An HTTP/HTTPS endpoint hears that it was unsubscribed (as on SNS), with a link that restores
    // the subscription; not when the whole topic went away.
    if (topic_deleted || !is_http(subscription.protocol) || !links_.resubscribe_url) {
        return;
    }
    ConfirmationFields fields;
    fields.kind = ConfirmationKind::Unsubscribe;
    fields.message_id = new_uuid();
    fields.subscribe_url = links_.resubscribe_url(subscription, &fields.token);
    if (fields.subscribe_url.empty()) {
        return;
    }
    fields.topic_arn = subscription.topic_arn;
    fields.subscription_arn = subscription.arn;
    fields.timestamp = sns_timestamp(std::chrono::system_clock::now());
    fields.signing_cert_url = links_.signing_cert_url();
    int version = 1;
    if (auto topic = store_.get_topic(subscription.topic_arn); topic && *topic) {
        version = signature_version_of(**topic);
    }
    auto json = confirmation_json(fields, version, signer_);
    if (!json) {
        log_failure("unsubscribe_confirmation", json.error().message);
        return;
    }
    Delivery d = base_delivery(subscription, fields.message_id, "UnsubscribeConfirmation");
    d.body = std::move(*json);
    d.headers = {{"x-amz-sns-message-type", "UnsubscribeConfirmation"},
                 {"x-amz-sns-message-id", d.message_id},
                 {"x-amz-sns-topic-arn", subscription.topic_arn},
                 {"x-amz-sns-subscription-arn", subscription.arn},
                 {"Content-Type", std::string(kDefaultHeaderContentType)},
                 {"User-Agent", "Amazon Simple Notification Service Agent"}};
    if (auto queued = store_.enqueue({d}); !queued) {
        log_failure("unsubscribe_confirmation", queued.error().message);
        return;
    }
    wake_dispatcher_();
}

Result<std::optional<std::string>> Fanout::filtered_text(const Subscription& subscription,
                                                         const PublishedMessage& message) {
    std::string text = message_text_for(message, subscription.protocol);
    auto passes = passes_filter(subscription, message, text);
    if (!passes) return passes.error();
    if (!*passes) return std::optional<std::string>();
    return std::optional<std::string>(std::move(text));
}

Result<bool> Fanout::passes_filter(const Subscription& subscription,
                                   const PublishedMessage& message, std::string_view text) {
    std::string policy_text = attribute(subscription.attributes, "FilterPolicy");
    if (policy_text.empty()) {
        return true;
    }
    std::string scope_text = attribute(subscription.attributes, "FilterPolicyScope");
    std::string key = scope_text + "\n" + policy_text;
    std::lock_guard lock(filters_mutex_);
    auto it = filters_.find(subscription.arn);
    if (it == filters_.end() || it->second.first != key) {
        auto scope = scope_text.empty() ? Result<FilterScope>(FilterScope::MessageAttributes)
                                        : parse_filter_scope(scope_text);
        if (!scope) return scope.error();
        auto policy = FilterPolicy::parse(policy_text, *scope);
        if (!policy) return policy.error();
        it = filters_.insert_or_assign(subscription.arn, std::make_pair(key, *policy)).first;
    }
    return it->second.second.matches(message.attributes, text);
}

Result<std::optional<Delivery>> Fanout::notification_for(const Topic& topic,
                                                         const Subscription& subscription,
                                                         const PublishedMessage& message,
                                                         SignatureCache* signatures) {
    if (!is_http(subscription.protocol) && !is_email(subscription.protocol)) {
        return std::optional<Delivery>();  // sse streams are fed live, not queued
    }
    auto filtered = filtered_text(subscription, message);
    if (!filtered) return filtered.error();
    if (!*filtered) return std::optional<Delivery>();
    const std::string& text = **filtered;

    Delivery d = base_delivery(subscription, message.message_id, "Notification");
    EnvelopeUrls urls{links_.signing_cert_url(), links_.unsubscribe_url(subscription)};
    int version = signature_version_of(topic);
    if (subscription.protocol == "email") {
        d.subject = email_subject(message);
        d.body = email_text_body(text, urls.unsubscribe_url);
        return std::optional<Delivery>(std::move(d));
    }
    if (subscription.protocol == "email-json") {
        auto json = notification_json(message, text, urls, version, signer_, signatures);
        if (!json) return json.error();
        d.subject = email_subject(message);
        d.body = std::move(*json);
        return std::optional<Delivery>(std::move(d));
    }
    d.headers = {{"x-amz-sns-message-type", "Notification"},
                 {"x-amz-sns-message-id", message.message_id},
                 {"x-amz-sns-topic-arn", topic.arn},
                 {"x-amz-sns-subscription-arn", subscription.arn},
                 {"Content-Type", content_type_for(topic, subscription)},
                 {"User-Agent", "Amazon Simple Notification Service Agent"}};
    if (subscription.raw_message_delivery()) {
        d.headers.emplace_back("x-amz-sns-rawdelivery", "true");
        d.body = text;
    } else {
        auto json = notification_json(message, text, urls, version, signer_, signatures);
        if (!json) return json.error();
        d.body = std::move(*json);
    }
    return std::optional<Delivery>(std::move(d));
}

Result<void> Fanout::publish(const Topic& topic, const PublishedMessage& message) {
    auto subscriptions = store_.confirmed_subscriptions(topic.arn);
    if (!subscriptions) return subscriptions.error();
    std::vector<Delivery> deliveries;
    SignatureCache signatures;
    for (const auto& subscription : *subscriptions) {
        auto delivery = notification_for(topic, subscription, message, &signatures);
        if (!delivery) return delivery.error();
        if (*delivery) deliveries.push_back(std::move(**delivery));
    }
    if (!deliveries.empty()) {
        if (auto queued = store_.enqueue(deliveries); !queued) return queued.error();
        wake_dispatcher_();
    }
    if (sse_) push_to_streams(topic, message, *subscriptions, signatures);
    return {};
}

Result<std::optional<std::string>> Fanout::sse_data_for(const Topic& topic,
                                                       const Subscription& subscription,
                                                       const PublishedMessage& message,
                                                       SignatureCache* signatures) {
    auto filtered = filtered_text(subscription, message);
    if (!filtered || !*filtered || subscription.raw_message_delivery()) return filtered;
    EnvelopeUrls urls{links_.signing_cert_url(), links_.unsubscribe_url(subscription)};
    auto json = notification_json(message, **filtered, urls, signature_version_of(topic), signer_,
                                  signatures);
    if (!json) return json.error();
    auto line = one_line_json(*json);
    if (!line) return line.error();
    return std::optional<std::string>(std::move(*line));
}

void Fanout::push_to_streams(const Topic& topic, const PublishedMessage& message,
                             const std::vector<Subscription>& subscriptions,
                             SignatureCache& signatures) {
    static auto log = component_logger("notify");
    if (sse_->has_streams(SseScope::Topic, topic.arn)) {
        // A topic stream has no subscription: no UnsubscribeURL, the text of protocol "sse".
        EnvelopeUrls urls{links_.signing_cert_url(), ""};
        auto json = notification_json(message, message_text_for(message, kProtocolSse), urls,
                                      signature_version_of(topic), signer_, &signatures);
        if (json) json = one_line_json(*json);
        if (json) {
            sse_->publish(SseScope::Topic, topic.arn, message.message_id, "Notification", *json);
        } else {
            log->error("event=sse_event_failed topic={} message_id={} error=\"{}\"", topic.arn,
                       message.message_id, json.error().message);
        }
    }
    for (const auto& subscription : subscriptions) {
        if (subscription.protocol != kProtocolSse ||
            !sse_->has_streams(SseScope::Subscription, subscription.arn)) {
            continue;
        }
        auto data = sse_data_for(topic, subscription, message, &signatures);
        if (!data) {
            log->error("event=sse_event_failed subscription={} message_id={} error=\"{}\"",
                       subscription.arn, message.message_id, data.error().message);
        } else if (*data) {
            sse_->publish(SseScope::Subscription, subscription.arn, message.message_id,
                          "Notification", **data);
        }
    }
}

}  // namespace pf::notify
