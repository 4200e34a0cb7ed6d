#include "notify/fanout.h"

#include "base/clock.h"
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
               std::function<void()> wake_dispatcher)
    : store_(store), signer_(signer), links_(std::move(links)),
      wake_dispatcher_(std::move(wake_dispatcher)) {}

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

void Fanout::on_unsubscribed(const Subscription& subscription, bool /*topic_deleted*/) {
    std::lock_guard lock(filters_mutex_);
    filters_.erase(subscription.arn);
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
    std::string text = message_text_for(message, subscription.protocol);
    auto passes = passes_filter(subscription, message, text);
    if (!passes) return passes.error();
    if (!*passes) return std::optional<Delivery>();

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
    if (deliveries.empty()) {
        return {};
    }
    if (auto queued = store_.enqueue(deliveries); !queued) return queued.error();
    wake_dispatcher_();
    return {};
}

}  // namespace pf::notify
