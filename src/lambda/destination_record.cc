#include "lambda/destination_record.h"

#include "aws/time_format.h"
#include "base/json_depth.h"

#include <nlohmann/json.hpp>

#include <chrono>

namespace pf::lambda {
namespace {

// Stored payloads were validated at enqueue; the bound only protects the record builder should a
// row have been written by something else.
constexpr std::size_t kMaxPayloadDepth = 64;

nlohmann::ordered_json payload_json(const std::string& payload) {
    if (!json_nesting_exceeds(payload, kMaxPayloadDepth)) {
        auto parsed = nlohmann::ordered_json::parse(payload, nullptr, /*allow_exceptions=*/false);
        if (!parsed.is_discarded()) {
            return parsed;
        }
    }
    return nlohmann::ordered_json(payload);
}

}  // namespace

std::string_view to_string(DeadLetterCondition condition) {
    switch (condition) {
    case DeadLetterCondition::RetriesExhausted:
        return "RetriesExhausted";
    case DeadLetterCondition::EventAgeExceeded:
        return "EventAgeExceeded";
    case DeadLetterCondition::RecursionDetected:
        return "RecursionDetected";
    case DeadLetterCondition::Rejected:
        return "Rejected";
    }
    return "RetriesExhausted";
}

std::optional<DeadLetterCondition> parse_condition(std::string_view text) {
    for (auto c : {DeadLetterCondition::RetriesExhausted, DeadLetterCondition::EventAgeExceeded,
                   DeadLetterCondition::RecursionDetected, DeadLetterCondition::Rejected}) {
        if (to_string(c) == text) {
            return c;
        }
    }
    return std::nullopt;
}

std::string destination_record(const DestinationRecordInput& input) {
    nlohmann::ordered_json record;
    record["version"] = "1.0";
    record["timestamp"] =
        aws::format_iso8601_millis(aws::SystemTime(std::chrono::milliseconds(input.timestamp_ms)));
    record["requestContext"] = {
        {"requestId", input.request_id},
        {"functionArn", input.function_arn + ":$LATEST"},
        {"condition", std::string(to_string(input.condition))},
        {"approximateInvokeCount", input.approximate_invoke_count},
    };
    record["requestPayload"] = payload_json(input.payload);
    if (input.error) {
        record["responseContext"] = {
            {"statusCode", 200},
            {"executedVersion", "$LATEST"},
            {"functionError", "Unhandled"},
        };
        record["responsePayload"] = {
            {"errorMessage", input.error->error_message},
            {"errorType", input.error->error_type},
        };
    }
    // Invalid UTF-8 from a function's error message must not make dump() throw.
    return record.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace pf::lambda
