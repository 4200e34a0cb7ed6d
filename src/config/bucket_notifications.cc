#include "config/bucket_notifications.h"

#include <yaml-cpp/yaml.h>

#include <set>

namespace pf::config {
namespace {

bool is_name(const std::string& name, std::size_t max) {
    if (name.empty() || name.size() > max) return false;
    for (char c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
            return false;
        }
    }
    return true;
}

// Reads a scalar member; empty when absent. A non-scalar is a problem.
std::string scalar(const YAML::Node& item, const char* name, const std::string& where,
                   std::vector<std::string>& problems) {
    YAML::Node value = item[name];
    if (!value) return {};
    if (!value.IsScalar()) {
        problems.push_back(where + "." + name + ": must be a single value");
        return {};
    }
    return value.Scalar();
}

// arn:<partition>:sqs:<region>:<account>:<name>, roughly: the S3 API's validation at start says
// precisely what is wrong with one that passes this.
bool looks_like_queue_arn(const std::string& arn) {
    if (arn.size() > 2048 || !arn.starts_with("arn:")) return false;
    std::size_t colons = 0;
    for (char c : arn) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
        colons += c == ':';
    }
    auto service = arn.find(':', 4);
    return colons == 5 && service != std::string::npos &&
           arn.compare(service + 1, 4, "sqs:") == 0 && !arn.ends_with(":");
}

}  // namespace

void parse_bucket_notifications(const YAML::Node& node, const std::string& path,
                                std::vector<BucketNotificationRule>& out,
                                std::vector<std::string>& problems) {
    if (!node || node.IsNull()) return;
    if (!node.IsSequence()) {
        problems.push_back(path + ": must be a list of rules");
        return;
    }
    static const std::set<std::string> known = {"bucket", "id",     "function", "topic",
                                                 "queue",  "events", "prefix", "suffix"};
    for (std::size_t i = 0; i < node.size(); ++i) {
        std::string where = path + "[" + std::to_string(i) + "]";
        const YAML::Node item = node[i];
        if (!item.IsMap()) {
            problems.push_back(where + ": must be a mapping (bucket, function, topic or queue, "
                                       "events, prefix, suffix)");
            continue;
        }
        for (const auto& entry : item) {
            auto key = entry.first.as<std::string>("");
            if (!known.contains(key)) {
                problems.push_back(where + "." + key + ": unknown setting (known: bucket, id, "
                                                       "function, topic, queue, events, prefix, "
                                                       "suffix)");
            }
        }
        BucketNotificationRule rule;
        rule.bucket = scalar(item, "bucket", where, problems);
        rule.id = scalar(item, "id", where, problems);
        rule.function = scalar(item, "function", where, problems);
        rule.topic = scalar(item, "topic", where, problems);
        rule.queue = scalar(item, "queue", where, problems);
        rule.prefix = scalar(item, "prefix", where, problems);
        rule.suffix = scalar(item, "suffix", where, problems);
        if (!is_name(rule.bucket, 63)) {
            problems.push_back(where + ".bucket: must name a bucket");
        }
        if (rule.id.size() > 255) {
            problems.push_back(where + ".id: must be at most 255 characters");
        }
        const int targets = !rule.function.empty() + !rule.topic.empty() + !rule.queue.empty();
        if (targets != 1) {
            problems.push_back(where + ": must name exactly one target: function, topic or queue");
        } else if (!rule.queue.empty()) {
            if (!looks_like_queue_arn(rule.queue)) {
                problems.push_back(where + ".queue: must be an SQS queue ARN "
                                           "(arn:aws:sqs:<region>:<account>:<name>)");
            }
        } else if (!rule.function.empty() && !is_name(rule.function, 64)) {
            problems.push_back(where + ".function: must be a function name (letters, digits, - _)");
        } else if (!rule.topic.empty() && !is_name(rule.topic, 256)) {
            problems.push_back(where + ".topic: must be a topic name (letters, digits, - _)");
        }
        if (rule.prefix.size() > 1024 || rule.suffix.size() > 1024) {
            problems.push_back(where + ": prefix and suffix must be at most 1024 bytes");
        }
        YAML::Node events = item["events"];
        if (!events) {
            rule.events = {"s3:ObjectCreated:*"};
        } else if (events.IsScalar()) {
            rule.events = {events.Scalar()};
        } else if (events.IsSequence() && events.size() > 0) {
            for (const auto& e : events) {
                rule.events.push_back(e.IsScalar() ? e.Scalar() : std::string());
            }
        } else {
            problems.push_back(where + ".events: must be a non-empty list of event types");
        }
        for (const auto& e : rule.events) {
            if (!e.starts_with("s3:")) {
                problems.push_back(where + ".events: \"" + e +
                                   "\" is not an S3 event type (e.g. s3:ObjectCreated:*)");
            }
        }
        out.push_back(std::move(rule));
    }
}

std::string summarize_bucket_notifications(const std::vector<BucketNotificationRule>& rules) {
    std::string text = std::to_string(rules.size()) + (rules.size() == 1 ? " rule:" : " rules:");
    for (std::size_t i = 0; i < rules.size(); ++i) {
        const auto& r = rules[i];
        text += (i ? ", " : " ") + r.bucket + "/" + r.prefix + "*" + r.suffix + " -> " +
                (!r.queue.empty()   ? "queue " + r.queue
                 : r.function.empty() ? "topic " + r.topic
                                      : r.function);
    }
    return text;
}

}  // namespace pf::config
