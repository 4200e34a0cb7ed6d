// A bucket's S3 NotificationConfiguration (aws-protocols.md §3.1): the model, the XML a client
// PUTs (parsed and validated with S3's rules and wording) and the canonical XML that is stored
// and returned by GET. Event names follow §3.2; "s3:ObjectCreated:*" style wildcards cover every
// event of their family.
//
// Untrusted input: the document size, nesting depth, number of configurations, events per
// configuration and every string length are bounded, DOCTYPEs are refused.
#pragma once

#include "base/result.h"

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::events {

enum class DestinationKind { Function, Topic, Queue };

// "function" | "topic" | "queue": for logs and for the outbox consumer's dispatch.
std::string_view to_string(DestinationKind kind);
// The kind an ARN names by its service (lambda, sns, sqs); nullopt for anything else.
std::optional<DestinationKind> destination_kind_of_arn(std::string_view arn);

// The parts of a queue ARN (arn:aws:sqs:us-east-1:123456789012:photo-events) a sender needs:
// the region (which endpoint), the owner account and the name (GetQueueUrl). nullopt when the
// ARN is not a well-formed SQS ARN.
struct QueueAddress {
    std::string region;
    std::string account;
    std::string name;
    bool operator==(const QueueAddress&) const = default;
};
std::optional<QueueAddress> queue_address_of_arn(std::string_view arn);

// One CloudFunctionConfiguration / TopicConfiguration / QueueConfiguration.
struct NotificationRule {
    DestinationKind kind = DestinationKind::Function;
    std::string id;                   // given, or generated when the document had none
    std::string arn;                  // CloudFunction / Topic / Queue
    std::vector<std::string> events;  // as given: "s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"
    // Key filters (FilterRule prefix / suffix); absent = no condition on that end of the key.
    std::optional<std::string> prefix;
    std::optional<std::string> suffix;

    bool operator==(const NotificationRule&) const = default;
};

struct NotificationConfiguration {
    std::vector<NotificationRule> rules;  // in canonical order: topics, queues, functions
    bool event_bridge = false;  // <EventBridgeConfiguration/> present (stored, not acted on)

    bool operator==(const NotificationConfiguration&) const = default;
};

// Decides whether a destination exists and accepts events from this bucket.
using DestinationCheck = std::function<bool(DestinationKind kind, const std::string& arn)>;

struct ParseOptions {
    // Empty: every destination is accepted (x-amz-skip-destination-validation, stored documents).
    DestinationCheck check_destination;
    // QueueConfiguration (SQS destinations) accepted. False refuses them ("QueueConfiguration
    // destinations are not supported by this server"), for a host that cannot deliver to SQS.
    bool allow_queue = true;
    // The overlap rule. Off for documents already stored: routing follows what is there.
    bool check_overlap = true;
};

// Limits on what a client may send.
inline constexpr std::size_t kMaxDocumentBytes = 256 * 1024;
inline constexpr int kMaxDepth = 8;
inline constexpr std::size_t kMaxRules = 100;
inline constexpr std::size_t kMaxEventsPerRule = 32;
inline constexpr std::size_t kMaxIdBytes = 255;
inline constexpr std::size_t kMaxArnBytes = 2048;
inline constexpr std::size_t kMaxFilterValueBytes = 1024;

// The extra elements of an S3 error document (ArgumentName / ArgumentValue, or the numbered
// ArgumentName1 / ArgumentValue1 ... pairs of a destination validation failure), in order.
using ErrorArguments = std::vector<std::pair<std::string, std::string>>;

// Parses and validates a PUT body. On failure the Error's code says which S3 error it is:
// CorruptInput = MalformedXML (not XML, wrong root, a required element missing, a DOCTYPE),
// InvalidArgument = InvalidArgument, with S3's message as the public message. `arguments`, when
// given, receives the extra elements S3 adds to that error.
//
// Checks: event names (§3.2), FilterRule names prefix/suffix (any case, at most one of each,
// values non-empty and at most 1024 bytes), ARNs of the right service, unique ids (missing ones
// are generated), no two rules sharing an event type with overlapping prefixes and suffixes, then
// the destination check for every rule.
Result<NotificationConfiguration>
parse_notification_configuration(std::string_view xml, const ParseOptions& options,
                                 ErrorArguments* arguments = nullptr);

// The canonical document: what is stored and what GET returns. An empty configuration is
// <NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>.
std::string to_xml(const NotificationConfiguration& configuration);

// Whether an event name from a configuration ("s3:ObjectCreated:*", "s3:ObjectRemoved:Delete")
// covers an event that happened ("ObjectCreated:Put", as in the event record: no "s3:" prefix).
bool event_matches(std::string_view configured, std::string_view event_name);
// Whether `name` is a configurable event name of §3.2 (wildcards included).
bool is_known_event(std::string_view name);
// Whether a key passes the rule's filters.
bool key_matches(const NotificationRule& rule, std::string_view key);

}  // namespace pf::events
