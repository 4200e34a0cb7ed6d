// Topics and subscriptions declared in the config file (serve.notify.topics), created by `photoflux
// serve` at start with its subscriptions already confirmed. Only in the file: a list has no
// environment variable.
//
//   serve:
//     notify:
//       topics:
//         - name: photos-done
//           attributes: {DisplayName: Photos, SignatureVersion: "2"}
//           subscriptions:
//             - {protocol: https, endpoint: "https://hooks.example.com/photoflux", raw: false,
//                filter_policy: '{"kind":["thumb"]}'}
//             - {protocol: email, endpoint: ops@example.com}
//
// The loader checks the shape and what needs no knowledge of notify/ (names, protocols, endpoints'
// form, booleans, duplicates); policy documents (FilterPolicy, DeliveryPolicy) are checked at
// start by the SNS API's own validators. A policy may be written as a JSON string or as a YAML
// mapping, which is turned into JSON.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace pf::config {

struct NotifySubscriptionConfig {
    std::string protocol;  // http, https, email, email-json (lowercase)
    std::string endpoint;
    // Unset: the attribute is left as it is (a subscription that exists keeps what the API set).
    std::optional<bool> raw;                         // RawMessageDelivery
    std::optional<std::string> filter_policy;        // JSON
    std::optional<std::string> filter_policy_scope;  // MessageAttributes | MessageBody
    std::optional<std::string> delivery_policy;      // JSON; http/https only
};

struct NotifyTopicConfig {
    std::string name;
    // DisplayName, DeliveryPolicy, Policy, SignatureVersion (the CreateTopic attributes).
    std::map<std::string, std::string> attributes;
    std::vector<NotifySubscriptionConfig> subscriptions;
};

// Reads the list at `path` ("serve.notify.topics") into `out`, adding one line per problem to
// `problems` ("serve.notify.topics[0].subscriptions[1].protocol: must be one of ...").
void parse_notify_topics(const YAML::Node& node, const std::string& path,
                         std::vector<NotifyTopicConfig>& out, std::vector<std::string>& problems);

// One line for `photoflux config`: "2 topics, 3 subscriptions: photos-done (https, email), audit".
std::string summarize_notify_topics(const std::vector<NotifyTopicConfig>& topics);

}  // namespace pf::config
