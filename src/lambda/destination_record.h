// The on-failure destination record of an asynchronous invocation (aws-protocols.md §4.5), as
// Lambda sends it to an SQS/SNS/Lambda destination and as the host keeps it with a dead letter:
//
//   {"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z",
//    "requestContext":{"requestId":"…","functionArn":"arn:…:function:photo:$LATEST",
//                      "condition":"RetriesExhausted","approximateInvokeCount":3},
//    "requestPayload":{…the original event…},
//    "responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},
//    "responsePayload":{"errorMessage":"…","errorType":"…"}}
//
// functionArn carries the ":$LATEST" qualifier, as AWS's records do. When the event never reached
// the function (RecursionDetected, or EventAgeExceeded before any attempt) there was no response:
// responseContext and responsePayload are left out, and approximateInvokeCount is 0.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pf::lambda {

// Why an event ended up as a dead letter. The first two are AWS's; RecursionDetected is what
// Lambda's recursive-loop detection reports; Rejected is a Photoflux extension: the function said
// the event can never succeed (a non-retryable error type), so it is not retried.
enum class DeadLetterCondition { RetriesExhausted, EventAgeExceeded, RecursionDetected, Rejected };

std::string_view to_string(DeadLetterCondition condition);
std::optional<DeadLetterCondition> parse_condition(std::string_view text);

struct FunctionErrorInfo {
    std::string error_type;
    std::string error_message;
};

struct DestinationRecordInput {
    std::string request_id;
    std::string function_arn;  // unqualified; ":$LATEST" is appended
    DeadLetterCondition condition = DeadLetterCondition::RetriesExhausted;
    int approximate_invoke_count = 0;
    std::string payload;  // the event; embedded as JSON (as a JSON string if it does not parse)
    std::int64_t timestamp_ms = 0;           // Unix ms
    std::optional<FunctionErrorInfo> error;  // the last attempt's error, if there was an attempt
};

std::string destination_record(const DestinationRecordInput& input);

}  // namespace pf::lambda
