// The SNS resources as the notify store keeps them and the SNS API returns them: topics and
// subscriptions. Plain values; validation happens at the API edge (sns_service) before they are
// stored, and the store only refuses what would break its own invariants.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace pf::notify {

// Protocols the service accepts in Subscribe.
inline constexpr const char* kProtocolHttp = "http";
inline constexpr const char* kProtocolHttps = "https";
inline constexpr const char* kProtocolEmail = "email";
inline constexpr const char* kProtocolEmailJson = "email-json";
inline constexpr const char* kProtocolSse = "sse";

struct Topic {
    std::int64_t seq = 0;  // creation order (store-assigned); ListTopics pages by it
    std::string name;
    std::string arn;  // arn:aws:sns:<region>:<account>:<name>
    // Settable attributes as stored: DisplayName, DeliveryPolicy, Policy, SignatureVersion.
    // Absent = never set (GetTopicAttributes fills in defaults).
    std::map<std::string, std::string> attributes;
    std::vector<std::pair<std::string, std::string>> tags;  // Key -> Value, in the order given
    std::int64_t created_ms = 0;
    std::int64_t subscriptions_deleted = 0;  // SubscriptionsDeleted
};

struct Subscription {
    std::int64_t seq = 0;  // creation order (store-assigned)
    std::string arn;       // <topic arn>:<uuid>
    std::string topic_arn;
    std::string protocol;  // http, https, email, email-json, sse
    std::string endpoint;
    std::string owner;  // account id
    // FilterPolicy, FilterPolicyScope, RawMessageDelivery, DeliveryPolicy, RedrivePolicy.
    // Absent = not set.
    std::map<std::string, std::string> attributes;
    bool pending = true;                       // waiting for ConfirmSubscription
    bool confirmed_by_config = false;          // created confirmed from the config file
    bool confirmation_authenticated = false;   // confirmed by a signed ConfirmSubscription
    bool authenticate_on_unsubscribe = false;  // unsubscribe links refused; API only
    // Secret of the UnsubscribeURL (minted at creation, never changes).
    std::string unsubscribe_token;
    std::int64_t created_ms = 0;
    std::int64_t confirmed_ms = 0;  // 0 while pending

    bool raw_message_delivery() const {
        auto it = attributes.find("RawMessageDelivery");
        return it != attributes.end() && it->second == "true";
    }
};

// Subscription counts of one topic, for GetTopicAttributes.
struct SubscriptionCounts {
    std::int64_t pending = 0;
    std::int64_t confirmed = 0;
    std::int64_t deleted = 0;
};

}  // namespace pf::notify
