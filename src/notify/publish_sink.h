// The SNS API's hooks into the rest of notify: what happens after a Subscribe, an Unsubscribe or a
// Publish has been validated and recorded. The integrator (app/ wiring the dispatcher, envelopes
// and SSE) implements it; sns_service only calls it. Calls come from API request threads, after
// the store's transaction committed, and may block briefly (an enqueue).
#pragma once

#include "base/result.h"
#include "notify/message.h"
#include "notify/sns_model.h"

#include <string>

namespace pf::notify {

// What a SubscriptionConfirmation (or a re-sent one) needs.
struct ConfirmationRequest {
    std::string token;          // the secret the endpoint must present (only its hash is stored)
    std::string subscribe_url;  // <base>/_/sns/confirm?TopicArn=...&Token=... (GET confirms)
    std::string message_id;     // a fresh uuid for the confirmation message
    std::string timestamp;      // "2012-05-02T00:54:06.655Z"
};

class PublishSink {
public:
    virtual ~PublishSink() = default;

    // A pending subscription was created, or Subscribe was repeated for one still pending: send
    // the SubscriptionConfirmation (http/https: POST; email/email-json: a mail with the link). An
    // error fails the Subscribe call (500); the subscription stays recorded, and a retried
    // Subscribe mints a new token and calls this again.
    virtual Result<void> on_subscribe_pending(const Subscription& subscription,
                                              const ConfirmationRequest& confirmation) = 0;

    // A subscription became active: confirmed (API or link), or created already confirmed (sse,
    // config). Default: nothing (the fan-out reads subscriptions from the store).
    virtual void on_confirmed(const Subscription& /*subscription*/) {}

    // A subscription was removed: Unsubscribe (API or link) or the deletion of its topic. Its
    // queued deliveries are already gone from the store. The integrator may send an
    // UnsubscribeConfirmation (Unsubscribe only: `topic_deleted` false) and close SSE streams.
    virtual void on_unsubscribed(const Subscription& subscription, bool topic_deleted) = 0;

    // A validated message for `topic` (MessageId and Timestamp already minted): fan it out to the
    // topic's confirmed subscriptions whose filter policy matches. Must persist the deliveries
    // before returning success; an error fails the Publish (500) or that batch entry.
    virtual Result<void> publish(const Topic& topic, const PublishedMessage& message) = 0;
};

}  // namespace pf::notify
