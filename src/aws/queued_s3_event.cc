// unwrap_queued_s3_event (declared in sqs_client.h): what an S3-events queue carries, told apart
// in the order of aws-protocols.md §6.3 (SNS envelope, TestEvent, Records).
#include "aws/sqs_client.h"

#include "base/json_depth.h"

#include <nlohmann/json.hpp>

namespace pf::aws {
namespace {

using json = nlohmann::json;

// SQS bodies are at most 1 MiB; an S3 event nests 5 deep, an SNS envelope 3 (its attributes).
constexpr std::size_t kMaxBodyBytes = 1u << 20;
constexpr std::size_t kMaxDepth = 16;

QueuedS3Event unrecognised(std::string reason, bool via_sns) {
    QueuedS3Event event;
    event.kind = QueuedS3Event::Kind::Unrecognised;
    event.reason = std::move(reason);
    event.via_sns = via_sns;
    return event;
}

const json* member(const json& object, const char* name) {
    const auto it = object.find(name);
    return it == object.end() ? nullptr : &*it;
}

bool string_is(const json* value, std::string_view expected) {
    return value != nullptr && value->is_string() && value->get_ref<const std::string&>() == expected;
}

std::optional<json> parse_object(std::string_view text, std::string& problem) {
    if (text.size() > kMaxBodyBytes) {
        problem = "larger than 1 MiB (" + std::to_string(text.size()) + " bytes)";
        return std::nullopt;
    }
    if (json_nesting_exceeds(text, kMaxDepth)) {
        problem = "JSON nested deeper than 16 levels";
        return std::nullopt;
    }
    json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (document.is_discarded()) {
        problem = "not JSON";
        return std::nullopt;
    }
    if (!document.is_object()) {
        problem = "JSON but not an object";
        return std::nullopt;
    }
    return document;
}

// The event itself (S3 -> SQS, or what an SNS envelope's Message holds).
QueuedS3Event classify_event(const json& document, std::string_view text, bool via_sns) {
    const std::string where = via_sns ? "the SNS message" : "the body";
    if (string_is(member(document, "Event"), "s3:TestEvent")) {
        QueuedS3Event event;
        event.kind = QueuedS3Event::Kind::TestEvent;
        event.via_sns = via_sns;
        return event;
    }
    const json* records = member(document, "Records");
    if (records == nullptr) {
        return unrecognised(where + " is JSON without Records (not an S3 event)", via_sns);
    }
    if (!records->is_array() || records->empty()) {
        return unrecognised(where + ": Records is not a non-empty list", via_sns);
    }
    for (std::size_t i = 0; i < records->size(); ++i) {
        const json& record = (*records)[i];
        if (!record.is_object()) {
            return unrecognised(where + ": record " + std::to_string(i) + " is not an object",
                                via_sns);
        }
        const json* source = member(record, "eventSource");
        if (source == nullptr) {
            source = member(record, "EventSource");  // SNS -> Lambda spells it this way
        }
        if (!string_is(source, "aws:s3")) {
            const std::string named = source != nullptr && source->is_string()
                                          ? source->get<std::string>()
                                          : std::string("none");
            return unrecognised(where + ": record " + std::to_string(i) + " has eventSource " +
                                    named.substr(0, 64) + ", not aws:s3",
                                via_sns);
        }
    }
    QueuedS3Event event;
    event.kind = QueuedS3Event::Kind::S3Event;
    event.event_json = std::string(text);
    event.via_sns = via_sns;
    return event;
}

QueuedS3Event unwrap(std::string_view body) {
    std::string problem;
    auto document = parse_object(body, problem);
    if (!document) {
        return unrecognised("the body is " + problem, false);
    }
    const json* type = member(*document, "Type");
    if (type != nullptr && type->is_string() && member(*document, "TopicArn") != nullptr) {
        if (!string_is(type, "Notification")) {
            return unrecognised("an SNS " + type->get<std::string>().substr(0, 64) +
                                    ", not a Notification",
                                true);
        }
        const json* message = member(*document, "Message");
        if (message == nullptr || !message->is_string()) {
            return unrecognised("an SNS Notification without a Message string", true);
        }
        const std::string& text = message->get_ref<const std::string&>();
        auto inner = parse_object(text, problem);
        if (!inner) {
            return unrecognised("an SNS Notification whose Message is " + problem, true);
        }
        if (const json* inner_type = member(*inner, "Type");
            inner_type != nullptr && member(*inner, "TopicArn") != nullptr) {
            return unrecognised("an SNS Notification wrapping another SNS message", true);
        }
        return classify_event(*inner, text, true);
    }
    return classify_event(*document, body, false);
}

}  // namespace

QueuedS3Event unwrap_queued_s3_event(std::string_view body) {
    try {
        return unwrap(body);
    } catch (const std::exception& e) {
        // Only allocation can throw here; the message must still be answered, not crash a worker.
        return unrecognised(std::string("could not be read: ") + e.what(), false);
    }
}

}  // namespace pf::aws
