#include "config/notify_topics.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <set>
#include <string_view>
#include <utility>

namespace pf::config {
namespace {

constexpr std::array<std::string_view, 4> kTopicAttributes = {"DisplayName", "DeliveryPolicy",
                                                              "Policy", "SignatureVersion"};
constexpr std::array<std::string_view, 4> kProtocols = {"http", "https", "email", "email-json"};

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& names, std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

std::string lowercase(std::string text) {
    for (char& c : text) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return text;
}

bool is_topic_name(std::string_view name) {
    return !name.empty() && name.size() <= 256 && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
}

// Code points of UTF-8 text (bytes that do not continue a sequence).
std::size_t utf8_chars(std::string_view text) {
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char escaped[8];
                std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
                out += escaped;
            } else {
                out.push_back(c);
            }
        }
    }
    return out + "\"";
}

// A JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view s) {
    std::size_t i = 0;
    auto digits = [&] {
        std::size_t start = i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
            ++i;
        }
        return i - start;
    };
    if (i < s.size() && s[i] == '-') {
        ++i;
    }
    if (i < s.size() && s[i] == '0') {
        ++i;
    } else if (digits() == 0) {
        return false;
    }
    if (i < s.size() && s[i] == '.') {
        ++i;
        if (digits() == 0) {
            return false;
        }
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
            ++i;
        }
        if (digits() == 0) {
            return false;
        }
    }
    return i == s.size();
}

// A YAML value as JSON text. Plain (unquoted) scalars that read as JSON literals or numbers stay
// so; every other scalar is a string.
std::string yaml_to_json(const YAML::Node& node) {
    if (node.IsMap()) {
        std::string out = "{";
        bool first = true;
        for (const auto& kv : node) {
            out +=
                (first ? "" : ",") + json_string(kv.first.Scalar()) + ":" + yaml_to_json(kv.second);
            first = false;
        }
        return out + "}";
    }
    if (node.IsSequence()) {
        std::string out = "[";
        for (std::size_t i = 0; i < node.size(); ++i) {
            out += (i ? "," : "") + yaml_to_json(node[i]);
        }
        return out + "]";
    }
    if (node.IsScalar()) {
        const std::string& value = node.Scalar();
        if (node.Tag() != "!") {  // plain, not quoted
            if (value == "true" || value == "false" || value == "null" || is_json_number(value)) {
                return value;
            }
        }
        return json_string(value);
    }
    return "null";
}

class Reader {
public:
    explicit Reader(std::vector<std::string>& problems) : problems_(problems) {}

    void problem(const std::string& where, const std::string& what) {
        problems_.push_back(where + ": " + what);
    }

    std::optional<std::string> scalar(const YAML::Node& node, const std::string& where) {
        if (!node.IsScalar()) {
            problem(where, "must be a single value");
            return std::nullopt;
        }
        return node.Scalar();
    }

    // A policy document: JSON in a (quoted) string, or a YAML mapping turned into JSON.
    std::optional<std::string> policy(const YAML::Node& node, const std::string& where) {
        if (node.IsScalar()) {
            return node.Scalar();
        }
        if (node.IsMap()) {
            return yaml_to_json(node);
        }
        problem(where, "must be a JSON document in a quoted string, or a mapping");
        return std::nullopt;
    }

    std::optional<NotifySubscriptionConfig> subscription(const YAML::Node& node,
                                                         const std::string& at) {
        if (!node.IsMap()) {
            problem(at, "must be a mapping with protocol and endpoint");
            return std::nullopt;
        }
        NotifySubscriptionConfig out;
        const std::size_t before = problems_.size();
        bool has_protocol = false, has_endpoint = false;
        for (const auto& kv : node) {
            const std::string key = kv.first.Scalar();
            const YAML::Node& value = kv.second;
            const std::string where = at + "." + key;
            if (key == "protocol") {
                auto text = scalar(value, where);
                if (!text)
                    continue;
                has_protocol = true;
                out.protocol = lowercase(*text);
                if (out.protocol == "sse") {
                    problem(where, "sse subscriptions are opened by browsers; they cannot be "
                                   "declared");
                } else if (!one_of(kProtocols, out.protocol)) {
                    problem(where, "must be one of http, https, email, email-json");
                }
            } else if (key == "endpoint") {
                auto text = scalar(value, where);
                if (!text)
                    continue;
                has_endpoint = true;
                out.endpoint = *text;
            } else if (key == "raw") {
                auto text = scalar(value, where);
                if (!text)
                    continue;
                const std::string flag = lowercase(*text);
                if (flag != "true" && flag != "false") {
                    problem(where, "must be true or false");
                    continue;
                }
                out.raw = flag == "true";
            } else if (key == "filter_policy") {
                out.filter_policy = policy(value, where);
            } else if (key == "filter_policy_scope") {
                auto text = scalar(value, where);
                if (!text)
                    continue;
                if (*text != "MessageAttributes" && *text != "MessageBody") {
                    problem(where, "must be MessageAttributes or MessageBody");
                    continue;
                }
                out.filter_policy_scope = *text;
            } else if (key == "delivery_policy") {
                out.delivery_policy = policy(value, where);
            } else {
                problem(where, "unknown key (a subscription has protocol, endpoint, raw, "
                               "filter_policy, filter_policy_scope, delivery_policy)");
            }
        }
        if (!has_protocol) {
            problem(at + ".protocol", "required");
        }
        if (!has_endpoint) {
            problem(at + ".endpoint", "required");
        } else if (out.endpoint.empty()) {
            problem(at + ".endpoint", "must not be empty");
        }
        const bool web = out.protocol == "http" || out.protocol == "https";
        const bool mail = out.protocol == "email" || out.protocol == "email-json";
        if (has_endpoint && !out.endpoint.empty()) {
            if (web) {
                const std::string scheme = out.protocol + "://";
                const std::string start = lowercase(out.endpoint.substr(0, scheme.size()));
                if (start != scheme || out.endpoint.size() == scheme.size() ||
                    out.endpoint[scheme.size()] == '/') {
                    problem(at + ".endpoint", "must be an " + out.protocol + ":// URL with a host");
                }
            } else if (mail) {
                auto at_sign = out.endpoint.find('@');
                if (at_sign == std::string::npos || at_sign == 0 ||
                    at_sign + 1 == out.endpoint.size() ||
                    out.endpoint.find_first_of(" \t\r\n") != std::string::npos) {
                    problem(at + ".endpoint", "must be an e-mail address");
                }
            }
        }
        if (mail && out.raw.value_or(false)) {
            problem(at + ".raw", "e-mail subscriptions cannot use raw delivery");
        }
        if (out.delivery_policy && has_protocol && !web) {
            problem(at + ".delivery_policy", "only http and https subscriptions have one");
        }
        if (problems_.size() != before) {
            return std::nullopt;
        }
        return out;
    }

    std::optional<NotifyTopicConfig> topic(const YAML::Node& node, const std::string& at) {
        if (!node.IsMap()) {
            problem(at, "must be a mapping with name, attributes and subscriptions");
            return std::nullopt;
        }
        NotifyTopicConfig out;
        const std::size_t before = problems_.size();
        bool has_name = false;
        for (const auto& kv : node) {
            const std::string key = kv.first.Scalar();
            const YAML::Node& value = kv.second;
            const std::string where = at + "." + key;
            if (key == "name") {
                auto text = scalar(value, where);
                if (!text)
                    continue;
                has_name = true;
                out.name = *text;
                if (!is_topic_name(out.name)) {
                    problem(where, "must be 1 to 256 letters, digits, hyphens or underscores "
                                   "(FIFO topics are not supported)");
                }
            } else if (key == "attributes") {
                attributes(value, where, out.attributes);
            } else if (key == "subscriptions") {
                if (value.IsNull())
                    continue;
                if (!value.IsSequence()) {
                    problem(where, "must be a list of subscriptions (- protocol: ...)");
                    continue;
                }
                std::set<std::pair<std::string, std::string>> seen;
                for (std::size_t i = 0; i < value.size(); ++i) {
                    const std::string sub_at = where + "[" + std::to_string(i) + "]";
                    auto sub = subscription(value[i], sub_at);
                    if (!sub)
                        continue;
                    if (!seen.insert({sub->protocol, sub->endpoint}).second) {
                        problem(sub_at, sub->protocol + " " + sub->endpoint +
                                            " is declared twice for this topic");
                        continue;
                    }
                    out.subscriptions.push_back(std::move(*sub));
                }
            } else {
                problem(where, "unknown key (a topic has name, attributes, subscriptions)");
            }
        }
        if (!has_name) {
            problem(at + ".name", "required");
        }
        if (problems_.size() != before) {
            return std::nullopt;
        }
        return out;
    }

    void attributes(const YAML::Node& node, const std::string& at,
                    std::map<std::string, std::string>& out) {
        if (node.IsNull()) {
            return;
        }
        if (!node.IsMap()) {
            problem(at, "must be a mapping of attribute names to values");
            return;
        }
        for (const auto& kv : node) {
            const std::string key = kv.first.Scalar();
            const std::string where = at + "." + key;
            if (!one_of(kTopicAttributes, key)) {
                problem(where, "unknown topic attribute (DisplayName, DeliveryPolicy, Policy, "
                               "SignatureVersion)");
                continue;
            }
            std::optional<std::string> value = key == "DeliveryPolicy" || key == "Policy"
                                                   ? policy(kv.second, where)
                                                   : scalar(kv.second, where);
            if (!value)
                continue;
            if (key == "DisplayName" && utf8_chars(*value) > 100) {
                problem(where, "must be at most 100 characters");
                continue;
            }
            if (key == "SignatureVersion" && *value != "1" && *value != "2") {
                problem(where, "must be 1 or 2");
                continue;
            }
            out[key] = *value;
        }
    }

private:
    std::vector<std::string>& problems_;
};

}  // namespace

void parse_notify_topics(const YAML::Node& node, const std::string& path,
                         std::vector<NotifyTopicConfig>& out, std::vector<std::string>& problems) {
    if (!node.IsDefined() || node.IsNull()) {
        return;
    }
    Reader reader(problems);
    if (!node.IsSequence()) {
        reader.problem(path, "must be a list of topics (- name: ...)");
        return;
    }
    std::map<std::string, std::string> declared;  // name -> where
    for (std::size_t i = 0; i < node.size(); ++i) {
        const std::string at = path + "[" + std::to_string(i) + "]";
        auto topic = reader.topic(node[i], at);
        if (!topic)
            continue;
        auto [it, inserted] = declared.emplace(topic->name, at);
        if (!inserted) {
            reader.problem(at + ".name",
                           topic->name + " is declared twice (also " + it->second + ")");
            continue;
        }
        out.push_back(std::move(*topic));
    }
}

std::string summarize_notify_topics(const std::vector<NotifyTopicConfig>& topics) {
    std::size_t subscriptions = 0;
    std::string names;
    for (const auto& t : topics) {
        subscriptions += t.subscriptions.size();
        names += (names.empty() ? "" : ", ") + t.name;
        if (!t.subscriptions.empty()) {
            names += " (";
            for (std::size_t i = 0; i < t.subscriptions.size(); ++i) {
                names += (i ? ", " : "") + t.subscriptions[i].protocol;
            }
            names += ")";
        }
    }
    std::string out =
        std::to_string(topics.size()) + (topics.size() == 1 ? " topic, " : " topics, ") +
        std::to_string(subscriptions) + (subscriptions == 1 ? " subscription" : " subscriptions");
    return names.empty() ? out : out + ": " + names;
}

}  // namespace pf::config
