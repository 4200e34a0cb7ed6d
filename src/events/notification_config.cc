#include "events/notification_config.h"

#include "base/ascii.h"
#include "crypto/encoding.h"
#include "crypto/random.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <pugixml.hpp>
#include <set>

namespace pf::events {
namespace {

constexpr std::string_view kS3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

// Every concrete event type of §3.2 (the botocore Event enum without its wildcards). A wildcard
// "s3:<Family>:*" stands for every entry that starts with "<Family>:".
constexpr std::array<std::string_view, 21> kConcreteEvents = {
    "ObjectCreated:Put",
    "ObjectCreated:Post",
    "ObjectCreated:Copy",
    "ObjectCreated:CompleteMultipartUpload",
    "ObjectRemoved:Delete",
    "ObjectRemoved:DeleteMarkerCreated",
    "ObjectRestore:Post",
    "ObjectRestore:Completed",
    "ObjectRestore:Delete",
    "ReducedRedundancyLostObject",
    "Replication:OperationFailedReplication",
    "Replication:OperationMissedThreshold",
    "Replication:OperationReplicatedAfterThreshold",
    "Replication:OperationNotTracked",
    "LifecycleTransition",
    "IntelligentTiering",
    "ObjectAcl:Put",
    "LifecycleExpiration:Delete",
    "LifecycleExpiration:DeleteMarkerCreated",
    "ObjectTagging:Put",
    "ObjectTagging:Delete",
};

// The families that have a "s3:<Family>:*" wildcard in the enum (ObjectAcl has none).
constexpr std::array<std::string_view, 6> kWildcardFamilies = {
    "ObjectCreated", "ObjectRemoved",       "ObjectRestore",
    "Replication",   "LifecycleExpiration", "ObjectTagging"};

using EventSet = std::bitset<kConcreteEvents.size()>;

// The concrete events a configured name covers (empty for an unknown name).
EventSet expand(std::string_view configured) {
    EventSet set;
    if (!configured.starts_with("s3:")) {
        return set;
    }
    std::string_view name = configured.substr(3);
    if (name.ends_with(":*")) {
        std::string_view family = name.substr(0, name.size() - 2);
        if (std::find(kWildcardFamilies.begin(), kWildcardFamilies.end(), family) ==
            kWildcardFamilies.end()) {
            return set;
        }
        for (std::size_t i = 0; i < kConcreteEvents.size(); ++i) {
            std::string_view e = kConcreteEvents[i];
            if (e.size() > family.size() && e.starts_with(family) && e[family.size()] == ':') {
                set.set(i);
            }
        }
        return set;
    }
    for (std::size_t i = 0; i < kConcreteEvents.size(); ++i) {
        if (kConcreteEvents[i] == name) {
            set.set(i);
        }
    }
    return set;
}

// What a failed parse reports: the S3 code (as an ErrorCode), S3's message, and the extra
// elements of the error document.
struct Failure {
    ErrorCode code;
    std::string message;  // S3's wording (the public message)
    std::string detail;   // for logs
    ErrorArguments arguments;
};

Failure malformed(std::string detail) {
    return {ErrorCode::CorruptInput,
            "The XML you provided was not well-formed or did not validate against our published "
            "schema.",
            std::move(detail),
            {}};
}

// S3's ArgumentName / ArgumentValue pair naming what was refused.
ErrorArguments argument(std::string name, std::string value) {
    return {{"ArgumentName", std::move(name)}, {"ArgumentValue", std::move(value)}};
}

Failure invalid(std::string message, ErrorArguments arguments = {}) {
    std::string detail = message;
    for (const auto& [name, value] : arguments) {
        detail += " " + name + "=" + value;
    }
    return {ErrorCode::InvalidArgument, std::move(message), std::move(detail),
            std::move(arguments)};
}

std::string_view local_name(const pugi::xml_node& node) {
    std::string_view name = node.name();
    auto colon = name.find(':');
    return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

// The deepest element nesting of the document, walked without recursion.
int max_element_depth(const pugi::xml_node& root) {
    int deepest = 0;
    int depth = 0;
    pugi::xml_node node = root.first_child();
    while (node) {
        if (node.type() == pugi::node_element) {
            deepest = std::max(deepest, depth + 1);
        }
        if (node.first_child()) {
            node = node.first_child();
            ++depth;
            continue;
        }
        while (node && !node.next_sibling()) {
            node = node.parent();
            --depth;
            if (node == root) {
                return deepest;
            }
        }
        if (node) {
            node = node.next_sibling();
        }
    }
    return deepest;
}

// Text of an element that must hold text only.
std::optional<std::string> text_of(const pugi::xml_node& element) {
    for (pugi::xml_node c : element.children()) {
        if (c.type() == pugi::node_element) {
            return std::nullopt;
        }
    }
    return std::string(element.child_value());
}

struct ParsedRule {
    NotificationRule rule;
    std::string_view arn_element;  // "CloudFunction" | "Topic" | "Queue"
    bool id_given = false;
};

std::optional<Failure> parse_filter(const pugi::xml_node& filter, NotificationRule& rule) {
    bool seen_key = false;
    for (pugi::xml_node child : filter.children()) {
        if (child.type() != pugi::node_element) {
            continue;
        }
        if (local_name(child) != "S3Key" || seen_key) {
            return malformed("unexpected element " + std::string(child.name()) + " in Filter");
        }
        seen_key = true;
        for (pugi::xml_node fr : child.children()) {
            if (fr.type() != pugi::node_element) {
                continue;
            }
            if (local_name(fr) != "FilterRule") {
                return malformed("unexpected element " + std::string(fr.name()) + " in S3Key");
            }
            std::optional<std::string> name;
            std::optional<std::string> value;
            for (pugi::xml_node part : fr.children()) {
                if (part.type() != pugi::node_element) {
                    continue;
                }
                auto which = local_name(part);
                auto& slot = which == "Name" ? name : value;
                if ((which != "Name" && which != "Value") || slot) {
                    return malformed("unexpected element " + std::string(part.name()) +
                                     " in FilterRule");
                }
                slot = text_of(part);
                if (!slot) {
                    return malformed("FilterRule " + std::string(which) + " holds elements");
                }
            }
            if (!name || !value) {
                return malformed("FilterRule without Name or Value");
            }
            // The model's enum is lowercase; S3 accepts any case ("Prefix" is common).
            std::string lowered = ascii_lowercase(*name);
            if (lowered != "prefix" && lowered != "suffix") {
                return invalid("filter rule name must be either prefix or suffix",
                               argument("FilterRule.Name", *name));
            }
            auto& slot = lowered == "prefix" ? rule.prefix : rule.suffix;
            if (slot) {
                return invalid("Cannot specify more than one " + lowered + " rule in a filter.",
                               argument("FilterRule.Name", *name));
            }
            if (value->empty()) {
                return invalid("filter value cannot be empty", argument("FilterRule.Name", *name));
            }
            if (value->size() > kMaxFilterValueBytes) {
                return invalid(
                    "Size of filter rule value cannot exceed 1024 bytes in UTF-8 representation",
                    argument("FilterRule.Name", *name));
            }
            slot = std::move(*value);
        }
    }
    return std::nullopt;
}

std::optional<Failure> parse_rule(const pugi::xml_node& element, DestinationKind kind,
                                  ParsedRule& out) {
    out.rule.kind = kind;
    out.arn_element = kind == DestinationKind::Function ? "CloudFunction"
                      : kind == DestinationKind::Topic  ? "Topic"
                                                        : "Queue";
    bool seen_id = false;
    bool seen_arn = false;
    bool seen_filter = false;
    for (pugi::xml_node child : element.children()) {
        if (child.type() != pugi::node_element) {
            continue;
        }
        auto name = local_name(child);
        if (name == "Id" && !seen_id) {
            seen_id = true;
            auto text = text_of(child);
            if (!text) {
                return malformed("Id holds elements");
            }
            out.rule.id = std::move(*text);
            out.id_given = !out.rule.id.empty();
        } else if (name == out.arn_element && !seen_arn) {
            seen_arn = true;
            auto text = text_of(child);
            if (!text) {
                return malformed(std::string(out.arn_element) + " holds elements");
            }
            out.rule.arn = std::move(*text);
        } else if (name == "Event") {
            auto text = text_of(child);
            if (!text) {
                return malformed("Event holds elements");
            }
            out.rule.events.push_back(std::move(*text));
        } else if (name == "Filter" && !seen_filter) {
            seen_filter = true;
            if (auto failure = parse_filter(child, out.rule)) {
                return failure;
            }
        } else {
            return malformed("unexpected or repeated element " + std::string(child.name()) +
                             " in " + std::string(element.name()));
        }
    }
    if (!seen_arn || out.rule.events.empty()) {
        return malformed(std::string(element.name()) + " needs " + std::string(out.arn_element) +
                         " and at least one Event");
    }
    return std::nullopt;
}

// arn:<partition>:<service>:<region>:<account>:<resource...>, with the resource shape each
// destination service uses.
bool is_region(std::string_view region) {
    return !region.empty() && region.size() <= 64 &&
           std::all_of(region.begin(), region.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
           });
}

// SQS queue names: 1-80 of letters, digits, '-' and '_' (".fifo" aside).
bool is_queue_name(std::string_view name) {
    return !name.empty() && name.size() <= 80 &&
           std::all_of(name.begin(), name.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_';
           });
}

bool well_formed_arn(std::string_view arn, DestinationKind kind) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        auto colon = arn.find(':', start);
        parts.push_back(
            arn.substr(start, colon == std::string_view::npos ? arn.npos : colon - start));
        if (colon == std::string_view::npos) {
            break;
        }
        start = colon + 1;
    }
    if (parts.size() < 6 || parts[0] != "arn" || parts[1].empty() || parts[3].empty() ||
        parts[4].empty()) {
        return false;
    }
    for (char c : arn) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
            return false;
        }
    }
    switch (kind) {
    case DestinationKind::Function:
        // function:<name>[:<version or alias>]
        return parts[2] == "lambda" && parts[5] == "function" && parts.size() >= 7 &&
               parts.size() <= 8 && !parts[6].empty() && (parts.size() == 7 || !parts[7].empty());
    case DestinationKind::Topic:
        return parts[2] == "sns" && parts.size() == 6 && !parts[5].empty();
    case DestinationKind::Queue:
        // The region ends up in a host name (sqs.<region>.amazonaws.com) and the name in a
        // GetQueueUrl request: both must have SQS's shape (a ".fifo" name is refused apart).
        return parts[2] == "sqs" && parts.size() == 6 && is_region(parts[3]) &&
               is_queue_name(parts[5].ends_with(".fifo")
                                 ? parts[5].substr(0, parts[5].size() - 5)
                                 : parts[5]);
    }
    return false;
}

bool prefixes_overlap(const std::optional<std::string>& a, const std::optional<std::string>& b) {
    return !a || !b || a->starts_with(*b) || b->starts_with(*a);
}
bool suffixes_overlap(const std::optional<std::string>& a, const std::optional<std::string>& b) {
    return !a || !b || a->ends_with(*b) || b->ends_with(*a);
}

// Ids as S3 makes them: base64 of a random UUID's text.
std::string generate_id() {
    std::string hex = crypto::random_hex(16);
    hex[12] = '4';  // version 4
    hex[16] = "89ab"[crypto::hex_digit_value(hex[16]) & 3];
    std::string uuid = hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
                       hex.substr(16, 4) + "-" + hex.substr(20);
    return crypto::base64_encode(uuid);
}

std::string destination_reason(DestinationKind kind, const std::string& arn) {
    switch (kind) {
    case DestinationKind::Function:
        return "Not authorized to invoke function [" + arn +
               "]: it does not exist or does not "
               "allow S3 to invoke it";
    case DestinationKind::Topic:
        return "The destination topic does not exist or does not allow S3 to publish "
               "notifications from this bucket";
    case DestinationKind::Queue:
        return "The destination queue does not exist or does not allow S3 to send notifications "
               "from this bucket";
    }
    return {};
}

std::optional<Failure> validate(std::vector<ParsedRule>& parsed, const ParseOptions& options) {
    if (parsed.size() > kMaxRules) {
        return invalid("A bucket can have at most " + std::to_string(kMaxRules) +
                       " notification configurations.");
    }
    for (auto& p : parsed) {
        NotificationRule& rule = p.rule;
        if (rule.events.size() > kMaxEventsPerRule) {
            return invalid("A notification configuration can list at most " +
                           std::to_string(kMaxEventsPerRule) + " events.");
        }
        for (const auto& e : rule.events) {
            if (!is_known_event(e)) {
                return invalid("The event is not supported for notifications",
                               argument("Event", e));
            }
        }
        if (rule.kind == DestinationKind::Queue && !options.allow_queue) {
            return invalid("QueueConfiguration destinations are not supported by this server",
                           argument("Queue", rule.arn));
        }
        if (rule.arn.size() > kMaxArnBytes || !well_formed_arn(rule.arn, rule.kind)) {
            return invalid("The ARN is not well formed",
                           argument(std::string(p.arn_element), rule.arn.substr(0, kMaxArnBytes)));
        }
        // S3 delivers to standard queues only (aws-protocols.md §3.5).
        if (rule.kind == DestinationKind::Queue && rule.arn.ends_with(".fifo")) {
            return invalid("FIFO queues are not supported as S3 event notification destinations",
                           argument("Queue", rule.arn));
        }
        if (rule.id.size() > kMaxIdBytes) {
            return invalid("The configuration Id is longer than " + std::to_string(kMaxIdBytes) +
                               " bytes.",
                           argument("Id", rule.id.substr(0, kMaxIdBytes) + "..."));
        }
        for (char c : rule.id) {
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                return invalid("The configuration Id contains control characters.");
            }
        }
    }

    // Ids: the ones given must be unique; the missing ones are generated, unique as well.
    std::set<std::string> ids;
    for (const auto& p : parsed) {
        if (p.id_given && !ids.insert(p.rule.id).second) {
            return invalid("The configuration Id '" + p.rule.id +
                               "' is used by more than one configuration; Ids must be unique.",
                           argument("Id", p.rule.id));
        }
    }
    for (auto& p : parsed) {
        if (!p.id_given) {
            do {
                p.rule.id = generate_id();
            } while (!ids.insert(p.rule.id).second);
        }
    }

    // Two rules that could both fire for one event on one key (§3.1).
    std::vector<EventSet> covered;
    covered.reserve(parsed.size());
    for (const auto& p : parsed) {
        EventSet set;
        for (const auto& e : p.rule.events) {
            set |= expand(e);
        }
        covered.push_back(set);
    }
    for (std::size_t i = 0; options.check_overlap && i < parsed.size(); ++i) {
        for (std::size_t j = i + 1; j < parsed.size(); ++j) {
            const auto& a = parsed[i].rule;
            const auto& b = parsed[j].rule;
            if ((covered[i] & covered[j]).none() || !prefixes_overlap(a.prefix, b.prefix) ||
                !suffixes_overlap(a.suffix, b.suffix)) {
                continue;
            }
            // The pair of configured names that share an event type, as S3 reports it.
            std::string shared;
            for (const auto& ea : a.events) {
                for (const auto& eb : b.events) {
                    if (shared.empty() && (expand(ea) & expand(eb)).any()) {
                        shared = ea + ", " + eb;
                    }
                }
            }
            bool unfiltered = !a.prefix && !a.suffix && !b.prefix && !b.suffix;
            // S3 words the two cases differently: plain duplicates vs filters that overlap.
            return invalid(unfiltered ? "Configurations overlap. Configurations on the same "
                                        "bucket cannot share a common event type."
                                      : "Configuration is ambiguously defined. Cannot have "
                                        "overlapping suffixes in two rules if the prefixes are "
                                        "overlapping for the same event type.",
                           argument("Event", shared));
        }
    }

    if (options.check_destination) {
        ErrorArguments failed;
        std::set<std::string> checked;
        for (const auto& p : parsed) {
            if (!checked.insert(p.rule.arn).second) {
                continue;
            }
            if (!options.check_destination(p.rule.kind, p.rule.arn)) {
                std::string n = std::to_string(failed.size() / 2 + 1);
                failed.emplace_back("ArgumentName" + n, p.rule.arn);
                failed.emplace_back("ArgumentValue" + n,
                                    destination_reason(p.rule.kind, p.rule.arn));
            }
        }
        if (!failed.empty()) {
            return invalid("Unable to validate the following destination configurations",
                           std::move(failed));
        }
    }
    return std::nullopt;
}

}  // namespace

std::string_view to_string(DestinationKind kind) {
    switch (kind) {
    case DestinationKind::Function:
        return "function";
    case DestinationKind::Topic:
        return "topic";
    case DestinationKind::Queue:
        return "queue";
    }
    return "unknown";
}

std::optional<DestinationKind> destination_kind_of_arn(std::string_view arn) {
    if (arn.starts_with("arn:")) {
        auto service_start = arn.find(':', 4);
        if (service_start != std::string_view::npos) {
            auto service_end = arn.find(':', service_start + 1);
            auto service = arn.substr(service_start + 1, service_end == std::string_view::npos
                                                             ? arn.npos
                                                             : service_end - service_start - 1);
            if (service == "lambda")
                return DestinationKind::Function;
            if (service == "sns")
                return DestinationKind::Topic;
            if (service == "sqs")
                return DestinationKind::Queue;
        }
    }
    return std::nullopt;
}

std::optional<QueueAddress> queue_address_of_arn(std::string_view arn) {
    if (arn.size() > kMaxArnBytes || !well_formed_arn(arn, DestinationKind::Queue)) {
        return std::nullopt;
    }
    // arn:<partition>:sqs:<region>:<account>:<name>, six parts (checked above).
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (int i = 0; i < 5; ++i) {
        auto colon = arn.find(':', start);
        parts.push_back(arn.substr(start, colon - start));
        start = colon + 1;
    }
    return QueueAddress{std::string(parts[3]), std::string(parts[4]),
                        std::string(arn.substr(start))};
}

bool is_known_event(std::string_view name) {
    return expand(name).any();
}

bool event_matches(std::string_view configured, std::string_view event_name) {
    if (!configured.starts_with("s3:") || event_name.empty()) {
        return false;
    }
    std::string_view name = configured.substr(3);
    if (name == event_name) {
        return true;
    }
    if (!name.ends_with(":*")) {
        return false;
    }
    // "ObjectCreated:*" covers "ObjectCreated:<anything>", including types added after this
    // table was written.
    std::string_view family = name.substr(0, name.size() - 1);  // keeps the ':'
    return event_name.size() > family.size() && event_name.starts_with(family);
}

bool key_matches(const NotificationRule& rule, std::string_view key) {
    return (!rule.prefix || key.starts_with(*rule.prefix)) &&
           (!rule.suffix || key.ends_with(*rule.suffix));
}

Result<NotificationConfiguration> parse_notification_configuration(std::string_view xml,
                                                                   const ParseOptions& options,
                                                                   ErrorArguments* arguments) {
    auto fail = [&](Failure failure) -> Error {
        if (arguments) {
            *arguments = std::move(failure.arguments);
        }
        return make_error(failure.code, "notification configuration refused: " + failure.detail,
                          failure.message);
    };
    if (xml.size() > kMaxDocumentBytes) {
        return fail({ErrorCode::TooLarge,
                     "Your request was too big.",
                     "document of " + std::to_string(xml.size()) + " bytes (limit " +
                         std::to_string(kMaxDocumentBytes) + ")",
                     {}});
    }
    // No DTD is ever read: a document that declares one (and with it entity tricks) is refused.
    if (xml.find("<!DOCTYPE") != std::string_view::npos ||
        xml.find("<!ENTITY") != std::string_view::npos) {
        return fail(malformed("DOCTYPE or ENTITY declaration"));
    }
    pugi::xml_document doc;
    auto loaded = doc.load_buffer(xml.data(), xml.size(),
                                  pugi::parse_default & ~pugi::parse_doctype, pugi::encoding_utf8);
    if (!loaded) {
        return fail(malformed(std::string("not well-formed: ") + loaded.description()));
    }
    if (int depth = max_element_depth(doc); depth > kMaxDepth) {
        return fail(malformed("nested " + std::to_string(depth) + " levels deep (limit " +
                              std::to_string(kMaxDepth) + ")"));
    }
    pugi::xml_node root = doc.document_element();
    if (!root || local_name(root) != "NotificationConfiguration") {
        return fail(malformed("the root element is not NotificationConfiguration"));
    }

    NotificationConfiguration config;
    std::vector<ParsedRule> topics, queues, functions;
    bool seen_event_bridge = false;
    for (pugi::xml_node child : root.children()) {
        if (child.type() != pugi::node_element) {
            continue;
        }
        auto name = local_name(child);
        std::vector<ParsedRule>* list = nullptr;
        DestinationKind kind = DestinationKind::Function;
        if (name == "CloudFunctionConfiguration") {
            list = &functions;
        } else if (name == "TopicConfiguration") {
            list = &topics;
            kind = DestinationKind::Topic;
        } else if (name == "QueueConfiguration") {
            list = &queues;
            kind = DestinationKind::Queue;
        } else if (name == "EventBridgeConfiguration" && !seen_event_bridge) {
            seen_event_bridge = true;
            config.event_bridge = true;
            continue;
        } else {
            // Includes "LambdaFunctionConfiguration": the SDK member name, not the wire name.
            return fail(malformed("unexpected element " + std::string(child.name())));
        }
        if (topics.size() + queues.size() + functions.size() >= kMaxRules) {
            return fail(invalid("A bucket can have at most " + std::to_string(kMaxRules) +
                                " notification configurations."));
        }
        ParsedRule parsed;
        if (auto failure = parse_rule(child, kind, parsed)) {
            return fail(std::move(*failure));
        }
        list->push_back(std::move(parsed));
    }
    // Canonical order, the one S3's GET uses: topics, queues, functions.
    std::vector<ParsedRule> all;
    for (auto* list : {&topics, &queues, &functions}) {
        for (auto& p : *list) {
            all.push_back(std::move(p));
        }
    }
    if (auto failure = validate(all, options)) {
        return fail(std::move(*failure));
    }
    for (auto& p : all) {
        config.rules.push_back(std::move(p.rule));
    }
    return config;
}

std::string to_xml(const NotificationConfiguration& configuration) {
    pugi::xml_document doc;
    pugi::xml_node root = doc.append_child("NotificationConfiguration");
    root.append_attribute("xmlns").set_value(std::string(kS3Namespace).c_str());
    for (const auto& rule : configuration.rules) {
        const char* element = rule.kind == DestinationKind::Function ? "CloudFunctionConfiguration"
                              : rule.kind == DestinationKind::Topic  ? "TopicConfiguration"
                                                                     : "QueueConfiguration";
        const char* arn_element = rule.kind == DestinationKind::Function ? "CloudFunction"
                                  : rule.kind == DestinationKind::Topic  ? "Topic"
                                                                         : "Queue";
        pugi::xml_node node = root.append_child(element);
        node.append_child("Id").text().set(rule.id.c_str());
        node.append_child(arn_element).text().set(rule.arn.c_str());
        for (const auto& e : rule.events) {
            node.append_child("Event").text().set(e.c_str());
        }
        if (rule.prefix || rule.suffix) {
            pugi::xml_node key = node.append_child("Filter").append_child("S3Key");
            // S3 returns the names capitalised, whatever case the PUT used.
            auto add = [&](const char* name, const std::string& value) {
                pugi::xml_node fr = key.append_child("FilterRule");
                fr.append_child("Name").text().set(name);
                fr.append_child("Value").text().set(value.c_str());
            };
            if (rule.prefix)
                add("Prefix", *rule.prefix);
            if (rule.suffix)
                add("Suffix", *rule.suffix);
        }
    }
    if (configuration.event_bridge) {
        root.append_child("EventBridgeConfiguration");
    }
    struct Writer : pugi::xml_writer {
        std::string out;
        void write(const void* data, std::size_t size) override {
            out.append(static_cast<const char*>(data), size);
        }
    } writer;
    writer.out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    doc.save(writer, "", pugi::format_raw | pugi::format_no_declaration, pugi::encoding_utf8);
    return writer.out;
}

}  // namespace pf::events
