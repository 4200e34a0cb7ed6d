// Validation rules of the SNS API that do not need the store: topic names, endpoints per
// protocol, Publish's Subject / Message / MessageStructure / MessageAttributes, and the seam
// through which the policy validators written elsewhere in notify/ are plugged in.
#pragma once

#include "notify/message.h"
#include "notify/sns_error.h"
#include "notify/sns_form.h"
#include "notify/sns_model.h"

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pf::notify {

inline constexpr std::size_t kMaxMessageBytes = 262144;  // Message + attributes, UTF-8
inline constexpr std::size_t kMaxMessageAttributes = 10;
inline constexpr std::size_t kMaxBatchEntries = 10;

// ---------------------------------------------------------------------------------------------
// SEAM: the policy rules owned by other files of notify/ (filter_policy.h, delivery_policy.h).
// SnsService fills every empty member from notify_policy_validators() (sns_policies.cc, the one
// place that calls FilterPolicy::parse and the delivery-policy parsers), so tests and the
// integrator may replace any of them. A validator returns std::nullopt when the document is
// acceptable, else the complete client message in SNS's wording ("Invalid parameter:
// FilterPolicy: ..."), returned as InvalidParameter 400.
// ---------------------------------------------------------------------------------------------
struct PolicyValidators {
    // FilterPolicy under a FilterPolicyScope ("MessageAttributes" | "MessageBody").
    std::function<std::optional<std::string>(std::string_view policy_json, std::string_view scope)>
        filter_policy;
    // FilterPolicyScope value.
    std::function<std::optional<std::string>(std::string_view scope)> filter_policy_scope;
    // Topic DeliveryPolicy ({"http":{"defaultHealthyRetryPolicy":...}}).
    std::function<std::optional<std::string>(std::string_view policy_json)> topic_delivery_policy;
    // Subscription DeliveryPolicy ({"healthyRetryPolicy":...}).
    std::function<std::optional<std::string>(std::string_view policy_json)>
        subscription_delivery_policy;
    // GetTopicAttributes EffectiveDeliveryPolicy, from the topic's DeliveryPolicy ("" = unset).
    std::function<std::string(std::string_view topic_policy_json)> effective_topic_policy;
    // GetSubscriptionAttributes EffectiveDeliveryPolicy of a subscription ("" = unset).
    std::function<std::string(std::string_view protocol, std::string_view topic_policy_json,
                              std::string_view subscription_policy_json)>
        effective_subscription_policy;
};

// The validators of filter_policy.h and delivery_policy.h (defined in sns_policies.cc).
PolicyValidators notify_policy_validators();
// ---------------------------------------------------------------------------------------------

// nullopt when `json` is a JSON object, else why not ("not valid JSON", "not a JSON object").
std::optional<std::string> json_object_check(std::string_view json);

// 1-256 of [A-Za-z0-9_-]; a ".fifo" name is refused as FIFO topics are not supported.
std::optional<SnsError> validate_topic_name(std::string_view name);

// http/https: an absolute URL of that scheme with a host; email/email-json: an address;
// sse: a non-empty printable label. Unknown or unsupported protocols are refused.
std::optional<SnsError> validate_subscription_endpoint(std::string_view protocol,
                                                       std::string_view endpoint);

// < 100 characters, ASCII printable, starts with a letter, digit or punctuation, no line breaks.
std::optional<SnsError> validate_subject(std::string_view subject);

// MessageStructure=json: a JSON object with a string "default" (all values strings).
std::optional<SnsError> validate_json_structure(std::string_view message);

// Names, data types and values; at most 10, unique names. Returns them as MessageAttribute.
SnsResult<std::vector<MessageAttribute>>
validate_message_attributes(const std::vector<RawMessageAttribute>& raw);

// Bytes counted against the 256 KiB limit: the message plus every attribute's name, data type
// and value.
std::size_t publish_size(std::string_view message, const std::vector<MessageAttribute>& attributes);

// RedrivePolicy: {"deadLetterTargetArn": "arn:..."}.
std::optional<std::string> redrive_policy_check(std::string_view json);

}  // namespace pf::notify
