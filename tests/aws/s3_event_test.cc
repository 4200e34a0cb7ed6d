// The S3 event message (aws-protocols.md §3.3/§3.4): written exactly as S3 writes it, keys
// form-encoded with '/' literal, read back from S3's, moto's and our own messages, and hostile
// or malformed input refused with a message that says what is wrong.
#include "aws/s3_event.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

namespace pf::aws {
namespace {

S3EventRecord sample() {
    S3EventRecord r;
    r.event_time = "2026-11-29T11:57:44.123Z";
    r.event_name = "ObjectCreated:Put";
    r.principal_id = "AWS:AIDAJDPLRKLG7UEXAMPLE";
    r.source_ip = "127.0.0.1";
    r.request_id = "C3D13FE58DE4C810";
    r.host_id = "FMyUVURIY8/IgAtTv8x";
    r.configuration_id = "thumb";
    r.bucket = "photos";
    r.bucket_owner = "A3NL1KOZZKExample";
    r.key = "uploads/red flower+1.jpg";
    r.size = 1024;
    r.etag = "d41d8cd98f00b204e9800998ecf8427e";
    r.sequencer = "0055AED6DCD90281E5";
    return r;
}

TEST(S3Event, WritesTheMessageExactlyAsS3Does) {
    EXPECT_EQ(
        to_event_json({sample()}),
        R"({"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",)"
        R"("eventTime":"2026-11-29T11:57:44.123Z","eventName":"ObjectCreated:Put",)"
        R"("userIdentity":{"principalId":"AWS:AIDAJDPLRKLG7UEXAMPLE"},)"
        R"("requestParameters":{"sourceIPAddress":"127.0.0.1"},)"
        R"("responseElements":{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8/IgAtTv8x"},)"
        R"("s3":{"s3SchemaVersion":"1.0","configurationId":"thumb",)"
        R"("bucket":{"name":"photos","ownerIdentity":{"principalId":"A3NL1KOZZKExample"},"arn":"arn:aws:s3:::photos"},)"
        R"("object":{"key":"uploads/red+flower%2B1.jpg","size":1024,"eTag":"d41d8cd98f00b204e9800998ecf8427e",)"
        R"("sequencer":"0055AED6DCD90281E5"}}}]})");
}

TEST(S3Event, RemovalsCarryNoSizeOrEtagAndVersionsOnlyWhenSet) {
    S3EventRecord r = sample();
    r.event_name = "ObjectRemoved:Delete";
    r.size.reset();
    r.etag.clear();
    const std::string json = to_event_json({r});
    EXPECT_EQ(json.find("\"size\""), std::string::npos);
    EXPECT_EQ(json.find("\"eTag\""), std::string::npos);
    EXPECT_EQ(json.find("\"versionId\""), std::string::npos);
    r.version_id = "096fKKXTRTtl3on89fVO.nfljtsv6qko";
    EXPECT_NE(to_event_json({r}).find(R"("versionId":"096fKKXTRTtl3on89fVO.nfljtsv6qko")"),
              std::string::npos);
    auto parsed = parse_s3_event(json);
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    EXPECT_FALSE(parsed->records.at(0).size.has_value());
    EXPECT_TRUE(parsed->records.at(0).etag.empty());
}

TEST(S3Event, KeysRoundTripWhateverTheyHold) {
    const std::vector<std::pair<std::string, std::string>> keys = {
        {"a b.jpg", "a+b.jpg"},
        {"a+b.jpg", "a%2Bb.jpg"},
        {"in/2024/x.jpg", "in/2024/x.jpg"},
        {"caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.jpg", "caf%C3%A9/%E6%97%A5%E6%9C%AC.jpg"},
        {"100% & more?#=.jpg", "100%25+%26+more%3F%23%3D.jpg"},
        {"~-_.", "~-_."},
        {"//double//slash/", "//double//slash/"},
    };
    for (const auto& [key, encoded] : keys) {
        SCOPED_TRACE(key);
        S3EventRecord r = sample();
        r.key = key;
        const std::string json = to_event_json({r});
        EXPECT_NE(json.find("\"key\":\"" + encoded + "\""), std::string::npos) << json;
        auto parsed = parse_s3_event(json);
        ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
        ASSERT_EQ(parsed->records.size(), 1u);
        EXPECT_EQ(parsed->records[0].key, key);
    }
}

TEST(S3Event, ParsesEveryFieldBack) {
    S3EventRecord second = sample();
    second.key = "b.jpg";
    second.size = 0;
    auto parsed = parse_s3_event(to_event_json({sample(), second}));
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    EXPECT_FALSE(parsed->test_event);
    ASSERT_EQ(parsed->records.size(), 2u);
    const S3EventRecord& r = parsed->records[0];
    const S3EventRecord e = sample();
    EXPECT_EQ(r.event_version, e.event_version);
    EXPECT_EQ(r.event_source, e.event_source);
    EXPECT_EQ(r.aws_region, e.aws_region);
    EXPECT_EQ(r.event_time, e.event_time);
    EXPECT_EQ(r.event_name, e.event_name);
    EXPECT_EQ(r.principal_id, e.principal_id);
    EXPECT_EQ(r.source_ip, e.source_ip);
    EXPECT_EQ(r.request_id, e.request_id);
    EXPECT_EQ(r.host_id, e.host_id);
    EXPECT_EQ(r.configuration_id, e.configuration_id);
    EXPECT_EQ(r.bucket, e.bucket);
    EXPECT_EQ(r.bucket_owner, e.bucket_owner);
    EXPECT_EQ(r.key, e.key);
    EXPECT_EQ(r.size, e.size);
    EXPECT_EQ(r.etag, e.etag);
    EXPECT_EQ(r.sequencer, e.sequencer);
    EXPECT_EQ(parsed->records[1].size, 0u);
}

TEST(S3Event, ReadsMessagesFromOtherEmittersAndIgnoresUnknownFields) {
    // moto encodes '/' as %2F (quote_plus), writes no userIdentity or sequencer; newer S3 uses
    // later 2.x versions and extra blocks.
    const std::string message = R"({"Records":[{"eventVersion":"2.6","eventSource":"aws:s3",
        "awsRegion":"eu-west-1","eventTime":"2026-11-29T11:57:44.123","eventName":"ObjectCreated:CompleteMultipartUpload",
        "glacierEventData":{"restoreEventData":{}},"futureField":[1,2,3],
        "s3":{"s3SchemaVersion":"1.0","configurationId":"c",
              "bucket":{"name":"photos","arn":"arn:aws:s3:::photos"},
              "object":{"key":"photos%2F2024%2Fred+flower.jpg","size":9000000,"eTag":"b1c546a652bb49cc9ed554d897ddfb60-2"}}}]})";
    auto parsed = parse_s3_event(message);
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    ASSERT_EQ(parsed->records.size(), 1u);
    EXPECT_EQ(parsed->records[0].key, "photos/2024/red flower.jpg");
    EXPECT_EQ(parsed->records[0].size, 9000000u);
    EXPECT_EQ(parsed->records[0].event_version, "2.6");
    EXPECT_EQ(parsed->records[0].aws_region, "eu-west-1");
    EXPECT_TRUE(parsed->records[0].principal_id.empty());
}

TEST(S3Event, TheTestEventIsRecognisedAndCarriesNoRecords) {
    auto parsed = parse_s3_event(
        R"({"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2014-10-13T15:57:02.089Z",)"
        R"("Bucket":"bucketname","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"})");
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    EXPECT_TRUE(parsed->test_event);
    EXPECT_TRUE(parsed->records.empty());
}

TEST(S3Event, RefusesMalformedMessagesSayingWhy) {
    const std::string good_record =
        R"({"eventVersion":"2.1","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}})";
    auto wrap = [](const std::string& record) { return "{\"Records\":[" + record + "]}"; };
    ASSERT_TRUE(parse_s3_event(wrap(good_record)).has_value());

    const std::vector<std::pair<std::string, std::string>> cases = {
        {"not json", "not valid JSON"},
        {"[1,2]", "not a JSON object"},
        {"{}", "no Records"},
        {R"({"Event":"s3:Other"})", "no Records"},
        {R"({"Records":{}})", "Records is not an array"},
        {wrap("42"), "Records[0] is not an object"},
        {wrap(R"({"eventVersion":"1.0","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}})"),
         "eventVersion \"1.0\" is not 2.x"},
        {wrap(R"({"eventVersion":"3.0","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}})"),
         "is not 2.x"},
        {wrap(R"({"s3":{"bucket":{"name":"b"},"object":{"key":"k"}}})"), "eventVersion \"\""},
        {wrap(R"({"eventVersion":"2.1"})"), "Records[0].s3 is missing"},
        {wrap(R"({"eventVersion":"2.1","s3":{"object":{"key":"k"}}})"), "bucket.name is missing"},
        {wrap(R"({"eventVersion":"2.1","s3":{"bucket":{"name":"b"},"object":{}}})"), "key is missing"},
        {wrap(R"({"eventVersion":"2.1","s3":{"bucket":{"name":"b"},"object":{"key":"a%G1"}}})"),
         "malformed %-escape"},
        {wrap(R"({"eventVersion":"2.1","s3":{"bucket":{"name":"b"},"object":{"key":"k","size":-1}}})"),
         "size is not a non-negative integer"},
        {wrap(R"({"eventVersion":"2.1","s3":{"bucket":{"name":"b"},"object":{"key":"k","size":"12"}}})"),
         "size is not a non-negative integer"},
        {wrap(R"({"eventVersion":"2.1","eventName":7,"s3":{"bucket":{"name":"b"},"object":{"key":"k"}}})"),
         "Records[0].eventName is not a string"},
        {wrap(R"({"eventVersion":"2.1","s3":{"bucket":"b","object":{"key":"k"}}})"),
         "Records[0].s3.bucket is not an object"},
        {wrap(good_record + "," + R"({"eventVersion":"2.1","s3":{"bucket":{"name":"b"},"object":{"key":")" +
              std::string(1025, 'k') + "\"}}}"),
         "Records[1].s3.object.key is longer than 1024 bytes"},
    };
    for (const auto& [message, expected] : cases) {
        SCOPED_TRACE(message.substr(0, 120));
        auto parsed = parse_s3_event(message);
        ASSERT_FALSE(parsed.has_value());
        EXPECT_EQ(parsed.error().code, ErrorCode::InvalidArgument);
        EXPECT_NE(parsed.error().message.find(expected), std::string::npos) << parsed.error().message;
    }
}

TEST(S3Event, RefusesOversizedAndDeeplyNestedInput) {
    std::string big = R"({"Records":[],"pad":")" + std::string(1u << 20, 'x') + "\"}";
    auto parsed = parse_s3_event(big);
    ASSERT_FALSE(parsed.has_value());
    EXPECT_NE(parsed.error().message.find("over the 1 MiB limit"), std::string::npos);

    std::string deep = R"({"Records":[],"x":)" + std::string(10'000, '[') + std::string(10'000, ']') + "}";
    parsed = parse_s3_event(deep);
    ASSERT_FALSE(parsed.has_value());
    EXPECT_NE(parsed.error().message.find("nests deeper"), std::string::npos);

    // Just under the limit is fine.
    std::string fits = R"({"Records":[],"pad":")" + std::string((1u << 20) - 30, 'x') + "\"}";
    EXPECT_TRUE(parse_s3_event(fits).has_value());
}

TEST(S3Event, SequencersAreFixedWidthUppercaseHexAndStrictlyIncreasing) {
    std::string previous = next_sequencer();
    for (int i = 0; i < 10'000; ++i) {
        const std::string s = next_sequencer();
        ASSERT_EQ(s.size(), 16u);
        ASSERT_EQ(s.find_first_not_of("0123456789ABCDEF"), std::string::npos) << s;
        ASSERT_GT(s, previous);  // fixed width: string order is numeric order
        previous = s;
    }
}

TEST(S3Event, SequencersAreUniqueAcrossThreads) {
    std::vector<std::vector<std::string>> seen(4);
    std::vector<std::thread> threads;
    for (auto& out : seen) {
        threads.emplace_back([&out] {
            for (int i = 0; i < 5'000; ++i) {
                out.push_back(next_sequencer());
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    std::set<std::string> all;
    for (const auto& out : seen) {
        all.insert(out.begin(), out.end());
    }
    EXPECT_EQ(all.size(), 20'000u);
}

}  // namespace
}  // namespace pf::aws
