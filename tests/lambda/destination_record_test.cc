// The on-failure destination record (aws-protocols.md §4.5), field by field.
#include "lambda/destination_record.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pf::lambda {
namespace {

using nlohmann::json;

TEST(DestinationRecord, FailedAttemptsRecordHasAwsShape) {
    DestinationRecordInput in;
    in.request_id = "e4b46cbf-b738-4880-8880-a18cdf61200e";
    in.function_arn = "arn:aws:lambda:us-east-1:000000000000:function:photo";
    in.condition = DeadLetterCondition::RetriesExhausted;
    in.approximate_invoke_count = 3;
    in.payload = R"({"Records":[{"s3":{"object":{"key":"a+b.jpg"}}}]})";
    in.timestamp_ms = 1573755365568;  // 2019-11-14T18:16:05.568Z
    in.error = FunctionErrorInfo{"Fake.Failure", "it broke"};
    const json record = json::parse(destination_record(in));
    EXPECT_EQ(record["version"], "1.0");
    EXPECT_EQ(record["timestamp"], "2019-11-14T18:16:05.568Z");
    EXPECT_EQ(record["requestContext"]["requestId"], in.request_id);
    EXPECT_EQ(record["requestContext"]["functionArn"],
              "arn:aws:lambda:us-east-1:000000000000:function:photo:$LATEST");
    EXPECT_EQ(record["requestContext"]["condition"], "RetriesExhausted");
    EXPECT_EQ(record["requestContext"]["approximateInvokeCount"], 3);
    EXPECT_EQ(record["requestPayload"], json::parse(in.payload));
    EXPECT_EQ(record["responseContext"], json({{"statusCode", 200},
                                               {"executedVersion", "$LATEST"},
                                               {"functionError", "Unhandled"}}));
    EXPECT_EQ(record["responsePayload"],
              json({{"errorMessage", "it broke"}, {"errorType", "Fake.Failure"}}));
}

TEST(DestinationRecord, WithoutAnAttemptThereIsNoResponse) {
    DestinationRecordInput in;
    in.request_id = "r";
    in.function_arn = "arn:aws:lambda:us-east-1:000000000000:function:photo";
    in.condition = DeadLetterCondition::RecursionDetected;
    in.payload = "{}";
    const json record = json::parse(destination_record(in));
    EXPECT_EQ(record["requestContext"]["condition"], "RecursionDetected");
    EXPECT_EQ(record["requestContext"]["approximateInvokeCount"], 0);
    EXPECT_FALSE(record.contains("responseContext"));
    EXPECT_FALSE(record.contains("responsePayload"));
}

TEST(DestinationRecord, UnparsablePayloadAndBadUtf8StillGiveValidJson) {
    DestinationRecordInput in;
    in.request_id = "r";
    in.function_arn = "arn";
    in.payload = "not json {";
    in.error = FunctionErrorInfo{"T", std::string("bad \xff\xfe utf8")};
    const json record = json::parse(destination_record(in));
    EXPECT_EQ(record["requestPayload"], "not json {");
    EXPECT_TRUE(record["responsePayload"]["errorMessage"].is_string());
}

TEST(DestinationRecord, ConditionNamesRoundTrip) {
    for (auto c : {DeadLetterCondition::RetriesExhausted, DeadLetterCondition::EventAgeExceeded,
                   DeadLetterCondition::RecursionDetected, DeadLetterCondition::Rejected}) {
        EXPECT_EQ(parse_condition(to_string(c)), c);
    }
    EXPECT_FALSE(parse_condition("Throttled"));
}

}  // namespace
}  // namespace pf::lambda
