// What happens after the SNS API accepted a Subscribe or a Publish: the confirmation and
// notification deliveries are built (signed envelopes, raw bodies, e-mails), persisted in the
// delivery queue, and the dispatcher is woken. Implements the API's PublishSink.
//
// Everything a delivery sends is fixed here, once, so a retry sends the very same bytes with the
// same MessageId and signature. Once the deliveries are persisted, the message also goes to the
// live SSE streams (SseHub): the topic's streams and those of its matching sse subscriptions.
#pragma once

#include "notify/envelope.h"
#include "notify/filter_policy.h"
#include "notify/message_signer.h"
#include "notify/notify_store.h"
#include "notify/publish_sink.h"
#include "notify/sse_hub.h"

#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace pf::notify {

class Fanout final : public PublishSink {
public:
    struct Links {
        // The certificate's URL (…/_/sns/SimpleNotificationService-<hex>.pem).
        std::function<std::string()> signing_cert_url;
        // A subscription's one-click unsubscribe link.
        std::function<std::string(const Subscription&)> unsubscribe_url;
        // The SubscribeURL of an UnsubscribeConfirmation (restores the subscription) and its
        // token; empty when there is none.
        std::function<std::string(const Subscription&, std::string* token)> resubscribe_url;
    };

    // `sse` (optional, outlives the fan-out) receives published messages for live streams.
    Fanout(SqliteNotifyStore& store, const MessageSigner& signer, Links links,
           std::function<void()> wake_dispatcher, SseHub* sse = nullptr);

    Result<void> on_subscribe_pending(const Subscription& subscription,
                                      const ConfirmationRequest& confirmation) override;
    void on_unsubscribed(const Subscription& subscription, bool topic_deleted) override;
    Result<void> publish(const Topic& topic, const PublishedMessage& message) override;

    // The deliveries a message makes for one subscription (none when its filter policy does not
    // match or its protocol is not delivered through the queue). Public for tests.
    // `signatures` lets the subscribers of one Publish share signatures (envelope.h).
    Result<std::optional<Delivery>> notification_for(const Topic& topic,
                                                     const Subscription& subscription,
                                                     const PublishedMessage& message,
                                                     SignatureCache* signatures = nullptr);

    // The `data` of the event an sse subscription's streams get: the message text with
    // RawMessageDelivery, else the Notification JSON (one line); nullopt when its filter policy
    // does not match. Public for tests.
    Result<std::optional<std::string>> sse_data_for(const Topic& topic,
                                                   const Subscription& subscription,
                                                   const PublishedMessage& message,
                                                   SignatureCache* signatures = nullptr);

private:
    // The text `subscription` gets (MessageStructure=json resolved), or nullopt when its filter
    // policy does not match.
    Result<std::optional<std::string>> filtered_text(const Subscription& subscription,
                                                     const PublishedMessage& message);
    // Hands a persisted message to the SSE streams; failures are logged, never returned (the
    // Publish already succeeded).
    void push_to_streams(const Topic& topic, const PublishedMessage& message,
                         const std::vector<Subscription>& subscriptions,
                         SignatureCache& signatures);

    // Subscriptions' filter policies, compiled once per (subscription, policy text).
    Result<bool> passes_filter(const Subscription& subscription, const PublishedMessage& message,
                               std::string_view text);

    SqliteNotifyStore& store_;
    const MessageSigner& signer_;
    Links links_;
    std::function<void()> wake_dispatcher_;
    SseHub* sse_;
    std::mutex filters_mutex_;
    std::map<std::string, std::pair<std::string, FilterPolicy>> filters_;  // arn -> (text, policy)
};

// The text a subscriber of `protocol` gets: the message itself, or with MessageStructure=json its
// protocol's entry (else "default"; the API validated that "default" exists).
std::string message_text_for(const PublishedMessage& message, std::string_view protocol);

// SignatureVersion of a topic: 2 when its attribute says so, else 1 (SNS's default).
int signature_version_of(const Topic& topic);

}  // namespace pf::notify
