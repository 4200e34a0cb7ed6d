// Routing an object change through a bucket's configuration: which rules fire, and the event
// message each one gets (§3.3/§3.4), read back with an independent JSON parser.
#include "aws/s3_event.h"
#include "events/event_router.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

namespace pf::events {
namespace {

using nlohmann::json;

constexpr const char* kLambdaArn = "arn:aws:lambda:us-east-1:123456789012:function:thumb";
constexpr const char* kAuditArn = "arn:aws:lambda:us-east-1:123456789012:function:audit";
constexpr const char* kTopicArn = "arn:aws:sns:us-east-1:123456789012:photo-events";

// thumb: created .jpg under uploads/; audit: only Copy and CompleteMultipartUpload anywhere under
// other/; topic: every removal.
const std::string kDocument =
    R"(<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
    R"(<CloudFunctionConfiguration><Id>thumb</Id><CloudFunction>)" +
    std::string(kLambdaArn) +
    R"(</CloudFunction><Event>s3:ObjectCreated:*</Event><Filter><S3Key>)"
    R"(<FilterRule><Name>prefix</Name><Value>uploads/</Value></FilterRule>)"
    R"(<FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter>)"
    R"(</CloudFunctionConfiguration>)"
    R"(<CloudFunctionConfiguration><Id>audit</Id><CloudFunction>)" +
    std::string(kAuditArn) +
    R"(</CloudFunction><Event>s3:ObjectCreated:Copy</Event>)"
    R"(<Event>s3:ObjectCreated:CompleteMultipartUpload</Event><Filter><S3Key>)"
    R"(<FilterRule><Name>Prefix</Name><Value>other/</Value></FilterRule></S3Key></Filter>)"
    R"(</CloudFunctionConfiguration>)"
    R"(<TopicConfiguration><Id>removals</Id><Topic>)" +
    std::string(kTopicArn) +
    R"(</Topic><Event>s3:ObjectRemoved:*</Event></TopicConfiguration>)"
    R"(</NotificationConfiguration>)";

ObjectEvent created(std::string key, std::string name = "ObjectCreated:Put") {
    ObjectEvent e;
    e.bucket = "photos";
    e.key = std::move(key);
    e.event_name = std::move(name);
    e.size = 1024;
    e.etag = "d41d8cd98f00b204e9800998ecf8427e";
    e.request_id = "C3D13FE58DE4C810";
    e.host_id = "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD";
    e.source_ip = "192.0.2.7";
    e.principal_id = "AWS:AKIAIOSFODNN7EXAMPLE";
    e.trace_id = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
    e.event_time_ms = 1795953464123;  // 2026-11-29T11:57:44.123Z
    e.sequencer = "0055AED6DCD90281";
    e.region = "eu-west-1";
    return e;
}

std::vector<std::string> targets(const std::vector<OutboxMessage>& messages) {
    std::vector<std::string> out;
    for (const auto& m : messages) {
        out.push_back(m.target_arn);
    }
    return out;
}

TEST(EventRouter, MessageCarriesTheWholeRecord) {
    EventRouter router;
    auto messages = router.route(created("uploads/cat.jpg"), kDocument);
    ASSERT_TRUE(messages) << messages.error().message;
    ASSERT_EQ(messages->size(), 1u);
    const auto& m = (*messages)[0];
    EXPECT_EQ(m.target_arn, kLambdaArn);
    EXPECT_EQ(m.kind, DestinationKind::Function);
    EXPECT_EQ(m.trace_id, "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1");

    json doc = json::parse(m.payload);
    ASSERT_EQ(doc["Records"].size(), 1u);
    const json& r = doc["Records"][0];
    EXPECT_EQ(r["eventVersion"], "2.1");
    EXPECT_EQ(r["eventSource"], "aws:s3");
    EXPECT_EQ(r["awsRegion"], "eu-west-1");
    EXPECT_EQ(r["eventTime"], "2026-11-29T11:57:44.123Z");
    EXPECT_EQ(r["eventName"], "ObjectCreated:Put");
    EXPECT_EQ(r["userIdentity"]["principalId"], "AWS:AKIAIOSFODNN7EXAMPLE");
    EXPECT_EQ(r["requestParameters"]["sourceIPAddress"], "192.0.2.7");
    EXPECT_EQ(r["responseElements"]["x-amz-request-id"], "C3D13FE58DE4C810");
    EXPECT_EQ(r["responseElements"]["x-amz-id-2"],
              "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD");
    EXPECT_EQ(r["s3"]["s3SchemaVersion"], "1.0");
    EXPECT_EQ(r["s3"]["configurationId"], "thumb");
    EXPECT_EQ(r["s3"]["bucket"]["name"], "photos");
    EXPECT_EQ(r["s3"]["bucket"]["arn"], "arn:aws:s3:::photos");
    EXPECT_EQ(r["s3"]["bucket"]["ownerIdentity"]["principalId"], "photoflux");
    EXPECT_EQ(r["s3"]["object"]["key"], "uploads/cat.jpg");
    EXPECT_EQ(r["s3"]["object"]["size"], 1024);
    EXPECT_EQ(r["s3"]["object"]["eTag"], "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(r["s3"]["object"]["sequencer"], "0055AED6DCD90281");
}

TEST(EventRouter, KeysAreFormEncodedInThePayload) {
    EventRouter router;
    std::string key = "uploads/red flower+1 \xc3\xa9t\xc3\xa9%.jpg";
    auto messages = router.route(created(key), kDocument);
    ASSERT_TRUE(messages);
    ASSERT_EQ(messages->size(), 1u);
    json doc = json::parse((*messages)[0].payload);
    EXPECT_EQ(doc["Records"][0]["s3"]["object"]["key"],
              "uploads/red+flower%2B1+%C3%A9t%C3%A9%25.jpg");
    // A consumer that form-decodes gets the key back.
    auto parsed = aws::parse_s3_event((*messages)[0].payload);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->records[0].key, key);
}

TEST(EventRouter, RemovalsHaveNoSizeOrETag) {
    EventRouter router;
    ObjectEvent e = created("uploads/cat.jpg", "ObjectRemoved:Delete");
    auto messages = router.route(e, kDocument);
    ASSERT_TRUE(messages);
    ASSERT_EQ(targets(*messages), std::vector<std::string>{kTopicArn});
    EXPECT_EQ((*messages)[0].kind, DestinationKind::Topic);
    json object = json::parse((*messages)[0].payload)["Records"][0]["s3"]["object"];
    EXPECT_FALSE(object.contains("size"));
    EXPECT_FALSE(object.contains("eTag"));
    EXPECT_EQ(object["sequencer"], "0055AED6DCD90281");
    EXPECT_EQ(json::parse((*messages)[0].payload)["Records"][0]["s3"]["configurationId"],
              "removals");
}

TEST(EventRouter, WhichRulesFireForWhichEvents) {
    struct Case {
        std::string key;
        std::string event;
        std::vector<std::string> expected;
    };
    const std::vector<Case> cases = {
        {"uploads/a.jpg", "ObjectCreated:Put", {kLambdaArn}},
        {"uploads/a.jpg", "ObjectCreated:Post", {kLambdaArn}},
        {"uploads/a.jpg", "ObjectCreated:Copy", {kLambdaArn}},
        {"uploads/a.jpg", "ObjectCreated:CompleteMultipartUpload", {kLambdaArn}},
        {"uploads/a.png", "ObjectCreated:Put", {}},
        {"thumbs/a.jpg", "ObjectCreated:Put", {}},
        {"other/a.jpg", "ObjectCreated:Put", {}},
        {"other/a.jpg", "ObjectCreated:Copy", {kAuditArn}},
        {"other/x/y.bin", "ObjectCreated:CompleteMultipartUpload", {kAuditArn}},
        {"uploads/a.jpg", "ObjectRemoved:Delete", {kTopicArn}},
        {"anything", "ObjectRemoved:DeleteMarkerCreated", {kTopicArn}},
        {"uploads/a.jpg", "ObjectTagging:Put", {}},
        {"uploads/a.jpg", "", {}},
    };
    EventRouter router;
    for (const auto& c : cases) {
        auto messages = router.route(created(c.key, c.event), kDocument);
        ASSERT_TRUE(messages);
        EXPECT_EQ(targets(*messages), c.expected) << c.event << " " << c.key;
    }
}

// A validated document never has two rules for one event and key (the overlap rule), but a
// document stored before validation existed may: each matching rule gets its message.
TEST(EventRouter, OneMessagePerMatchingRuleEachWithItsId) {
    const std::string doc =
        R"(<NotificationConfiguration><CloudFunctionConfiguration><Id>one</Id><CloudFunction>)" +
        std::string(kLambdaArn) +
        R"(</CloudFunction><Event>s3:ObjectCreated:Put</Event></CloudFunctionConfiguration>)"
        R"(<TopicConfiguration><Id>two</Id><Topic>)" +
        std::string(kTopicArn) +
        R"(</Topic><Event>s3:ObjectCreated:Post</Event><Event>s3:ObjectCreated:Put</Event>)"
        R"(<Filter><S3Key><FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key>)"
        R"(</Filter></TopicConfiguration></NotificationConfiguration>)";
    EventRouter router;
    auto messages = router.route(created("x.jpg"), doc);
    ASSERT_TRUE(messages);
    ASSERT_EQ(messages->size(), 2u);
    // Canonical order: topics first.
    EXPECT_EQ(json::parse((*messages)[0].payload)["Records"][0]["s3"]["configurationId"], "two");
    EXPECT_EQ(json::parse((*messages)[1].payload)["Records"][0]["s3"]["configurationId"], "one");
}

TEST(EventRouter, NoDocumentNoMessagesDamagedDocumentFails) {
    EventRouter router;
    auto none = router.route(created("uploads/a.jpg"), std::optional<std::string>());
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
    auto empty = router.route(created("uploads/a.jpg"), std::string_view());
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->empty());
    auto damaged = router.route(created("uploads/a.jpg"), std::string_view("<Notification"));
    ASSERT_FALSE(damaged);
    EXPECT_EQ(damaged.error().code, ErrorCode::Internal);
}

TEST(EventRouter, StoredQueueConfigurationsStillRoute) {
    const std::string doc =
        R"(<NotificationConfiguration><QueueConfiguration><Id>q</Id><Queue>)"
        R"(arn:aws:sqs:us-east-1:123456789012:q</Queue><Event>s3:ObjectCreated:*</Event>)"
        R"(</QueueConfiguration></NotificationConfiguration>)";
    EventRouter router;
    auto messages = router.route(created("a"), doc);
    ASSERT_TRUE(messages) << messages.error().message;
    ASSERT_EQ(messages->size(), 1u);
    EXPECT_EQ((*messages)[0].kind, DestinationKind::Queue);
}

TEST(EventRouter, DefaultRegionWhenTheBucketHasNone) {
    EventRouterOptions options;
    options.default_region = "ap-south-1";
    options.bucket_owner = "owner-1";
    EventRouter router(options);
    ObjectEvent e = created("uploads/a.jpg");
    e.region.clear();
    auto messages = router.route(e, kDocument);
    ASSERT_TRUE(messages);
    json r = json::parse((*messages)[0].payload)["Records"][0];
    EXPECT_EQ(r["awsRegion"], "ap-south-1");
    EXPECT_EQ(r["s3"]["bucket"]["ownerIdentity"]["principalId"], "owner-1");
}

TEST(EventRouter, ParsedDocumentsAreCached) {
    EventRouterOptions options;
    options.cache_entries = 2;
    EventRouter router(options);
    const std::string other = kDocument + " ";  // different text, same rules
    const std::string third = kDocument + "  ";
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(router.route(created("uploads/a.jpg"), kDocument));
    }
    EXPECT_EQ(router.parses(), 1u);
    ASSERT_TRUE(router.route(created("uploads/a.jpg"), other));
    ASSERT_TRUE(router.route(created("uploads/a.jpg"), kDocument));
    EXPECT_EQ(router.parses(), 2u);
    // A third document evicts the least recently used (other), not kDocument.
    ASSERT_TRUE(router.route(created("uploads/a.jpg"), third));
    ASSERT_TRUE(router.route(created("uploads/a.jpg"), kDocument));
    EXPECT_EQ(router.parses(), 3u);
    ASSERT_TRUE(router.route(created("uploads/a.jpg"), other));
    EXPECT_EQ(router.parses(), 4u);
}

TEST(EventRouter, ConcurrentRoutingIsConsistent) {
    EventRouterOptions options;
    options.cache_entries = 3;
    EventRouter router(options);
    std::vector<std::string> docs;
    for (int i = 0; i < 6; ++i) {
        docs.push_back(kDocument + std::string(static_cast<std::size_t>(i), ' '));
    }
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 300; ++i) {
                const auto& doc = docs[static_cast<std::size_t>((i + t) % 6)];
                auto messages = router.route(created("uploads/a.jpg"), doc);
                if (!messages || targets(*messages) != std::vector<std::string>{kLambdaArn}) {
                    ++wrong;
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace pf::events
