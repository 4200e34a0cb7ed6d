// The one place the SNS API calls the policy parsers of filter_policy.h and delivery_policy.h
// (see the seam in sns_validation.h).
#include "notify/delivery_policy.h"
#include "notify/filter_policy.h"
#include "notify/sns_validation.h"

namespace pf::notify {

PolicyValidators notify_policy_validators() {
    PolicyValidators v;
    v.filter_policy = [](std::string_view json,
                         std::string_view scope_text) -> std::optional<std::string> {
        auto scope = parse_filter_scope(scope_text);
        if (!scope) {
            return scope.error().client_message();
        }
        auto policy = FilterPolicy::parse(json, *scope);
        if (!policy) {
            return policy.error().client_message();
        }
        return std::nullopt;
    };
    v.filter_policy_scope = [](std::string_view scope_text) -> std::optional<std::string> {
        auto scope = parse_filter_scope(scope_text);
        if (!scope) {
            return scope.error().client_message();
        }
        return std::nullopt;
    };
    v.topic_delivery_policy = [](std::string_view json) -> std::optional<std::string> {
        auto policy = parse_topic_delivery_policy(json);
        if (!policy) {
            return policy.error().client_message();
        }
        return std::nullopt;
    };
    v.subscription_delivery_policy = [](std::string_view json) -> std::optional<std::string> {
        auto policy = parse_subscription_delivery_policy(json);
        if (!policy) {
            return policy.error().client_message();
        }
        return std::nullopt;
    };
    v.effective_topic_policy = [](std::string_view topic_json) {
        auto policy = parse_topic_delivery_policy(topic_json);
        return effective_topic_delivery_policy_json(policy ? &*policy : nullptr);
    };
    v.effective_subscription_policy = [](std::string_view protocol, std::string_view topic_json,
                                         std::string_view subscription_json) {
        auto topic = parse_topic_delivery_policy(topic_json);
        auto subscription = parse_subscription_delivery_policy(subscription_json);
        return effective_delivery_policy(protocol, topic ? &*topic : nullptr,
                                         subscription ? &*subscription : nullptr)
            .to_json();
    };
    return v;
}

}  // namespace pf::notify
