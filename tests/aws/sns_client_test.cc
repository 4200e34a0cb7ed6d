// SnsClient against an in-test transport: the Publish form body, its SigV4 signature (service
// sns, no x-amz-content-sha256), the answer and error documents, retries and local limits.
#include "aws/sns_client.h"

#include "aws/sigv4.h"
#include "aws/time_format.h"
#include "aws/uri_encoding.h"
#include "crypto/digest.h"
#include "fake_transport.h"

#include <gtest/gtest.h>

namespace pf::aws {
namespace {

using namespace std::chrono_literals;
using test::answer;
using test::FakeTransport;

const char* const kTopic = "arn:aws:sns:us-east-1:123456789012:photos";

std::string publish_ok(const std::string& id) {
    return "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult>"
           "<MessageId>" + id + "</MessageId></PublishResult><ResponseMetadata><RequestId>r1"
           "</RequestId></ResponseMetadata></PublishResponse>";
}

std::string sns_error(const std::string& type, const std::string& code, const std::string& message) {
    return "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>" + type +
           "</Type><Code>" + code + "</Code><Message>" + message +
           "</Message></Error><RequestId>rq-7</RequestId></ErrorResponse>";
}

struct SnsSetup {
    FakeTransport transport;
    std::vector<std::chrono::milliseconds> sleeps;
    SnsClientOptions options() {
        SnsClientOptions o;
        o.endpoint = {"http://127.0.0.1:9000", true};
        o.region = "eu-west-1";
        o.credentials = {"AK", "SK", "TOKEN"};
        o.clock = [] { return *parse_amz_date("20260101T120000Z"); };
        o.sleep = [this](std::chrono::milliseconds d) { sleeps.push_back(d); };
        return o;
    }
};

TEST(SnsClient, PublishFormEncodesLikeTheQueryApi) {
    SnsPublish p;
    p.topic_arn = kTopic;
    p.subject = "Photo processed";
    p.message = "{\"key\":\"in/a b+c.jpg\"}";
    p.string_attributes = {{"kind", "thumb nail"}, {"status", "ok"}};
    EXPECT_EQ(publish_form(p),
              "Action=Publish&Version=2010-03-31"
              "&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Aphotos"
              "&Message=%7B%22key%22%3A%22in%2Fa+b%2Bc.jpg%22%7D"
              "&Subject=Photo+processed"
              "&MessageAttributes.entry.1.Name=kind"
              "&MessageAttributes.entry.1.Value.DataType=String"
              "&MessageAttributes.entry.1.Value.StringValue=thumb+nail"
              "&MessageAttributes.entry.2.Name=status"
              "&MessageAttributes.entry.2.Value.DataType=String"
              "&MessageAttributes.entry.2.Value.StringValue=ok");
    // And it decodes back to the same values (what the server does).
    auto decoded = parse_query(publish_form(p));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ((*decoded)[3], (std::pair<std::string, std::string>{"Message", p.message}));
}

TEST(SnsClient, PublishIsASignedFormPostAndReturnsTheMessageId) {
    SnsSetup setup;
    setup.transport.then(answer(200, publish_ok("3f0a1b2c-0000-4c2c-8f9d-bdfb0c7bf324")));
    SnsClient client(setup.transport, setup.options());
    auto id = client.publish({kTopic, "", "hello world", {}});
    ASSERT_TRUE(id.has_value()) << id.error().message;
    EXPECT_EQ(*id, "3f0a1b2c-0000-4c2c-8f9d-bdfb0c7bf324");

    const auto& call = setup.transport.calls.at(0);
    EXPECT_EQ(call.request.method, "POST");
    EXPECT_EQ(call.request.url, "http://127.0.0.1:9000/");
    EXPECT_EQ(call.header("content-type"), "application/x-www-form-urlencoded; charset=utf-8");
    EXPECT_FALSE(call.header("x-amz-content-sha256").has_value()) << "S3 only";
    EXPECT_EQ(call.header("x-amz-security-token"), "TOKEN");

    // Recompute as the server does: the signed headers named, body hash as the payload line.
    auto auth = parse_authorization_header(*call.header("authorization"));
    ASSERT_TRUE(auth.has_value());
    EXPECT_EQ(auth->scope.to_string(), "20260101/eu-west-1/sns/aws4_request");
    CanonicalRequestInput in;
    in.method = "POST";
    in.path = "/";
    in.s3_path_rules = false;
    in.headers = call.request.headers;
    in.headers.emplace_back("host", "127.0.0.1:9000");
    in.signed_headers = auth->signed_headers;
    in.payload_hash = crypto::sha256_hex(call.request.body);
    EXPECT_EQ(signature(signing_key("SK", auth->scope),
                        string_to_sign("20260101T120000Z", auth->scope, canonical_request(in))),
              auth->signature);
}

TEST(SnsClient, ErrorResponsesMapToCodes) {
    struct Case {
        int status;
        std::string code;
        ErrorCode expected;
    };
    for (const Case& c : std::vector<Case>{{404, "NotFound", ErrorCode::NotFound},
                                           {400, "InvalidParameter", ErrorCode::InvalidArgument},
                                           {403, "AuthorizationError", ErrorCode::Forbidden}}) {
        SCOPED_TRACE(c.code);
        SnsSetup setup;
        setup.transport.then(answer(c.status, sns_error("Sender", c.code, "Topic does not exist")));
        SnsClient client(setup.transport, setup.options());
        auto id = client.publish({kTopic, "", "m", {}});
        ASSERT_FALSE(id.has_value());
        EXPECT_EQ(id.error().code, c.expected);
        EXPECT_EQ(id.error().message.rfind(c.code + ": Topic does not exist (SNS Publish " +
                                               std::string(kTopic) + ", HTTP " +
                                               std::to_string(c.status) + ", request id rq-7)",
                                           0),
                  0u)
            << id.error().message;
        EXPECT_EQ(setup.transport.calls.size(), 1u);
    }
}

TEST(SnsClient, ThrottlingAndServerErrorsAreRetried) {
    SnsSetup setup;
    setup.transport.then(answer(429, sns_error("Sender", "Throttled", "slow down")));
    setup.transport.then(answer(500, sns_error("Receiver", "InternalError", "oops")));
    setup.transport.then(make_error(ErrorCode::Unavailable, "connection reset"));
    setup.transport.then(answer(200, publish_ok("m-1")));
    SnsClientOptions options = setup.options();
    options.retry.max_attempts = 5;
    SnsClient client(setup.transport, options);
    auto id = client.publish({kTopic, "", "m", {}});
    ASSERT_TRUE(id.has_value()) << id.error().message;
    EXPECT_EQ(*id, "m-1");
    EXPECT_EQ(setup.transport.calls.size(), 4u);
    EXPECT_EQ(setup.sleeps.size(), 3u);
}

TEST(SnsClient, AnAnswerWithoutMessageIdIsAnError) {
    SnsSetup setup;
    setup.transport.then(answer(200, "<html>proxy page</html>"));
    SnsClient client(setup.transport, setup.options());
    auto id = client.publish({kTopic, "", "m", {}});
    ASSERT_FALSE(id.has_value());
    EXPECT_EQ(id.error().code, ErrorCode::Internal);
}

TEST(SnsClient, LimitsAreCheckedBeforeSending) {
    SnsSetup setup;
    SnsClient client(setup.transport, setup.options());
    auto code = [&](SnsPublish p) {
        auto r = client.publish(p);
        return r ? std::optional<ErrorCode>() : r.error().code;
    };
    EXPECT_EQ(code({"", "", "m", {}}), ErrorCode::InvalidArgument);
    EXPECT_EQ(code({kTopic, "", "", {}}), ErrorCode::InvalidArgument);
    EXPECT_EQ(code({kTopic, "two\nlines", "m", {}}), ErrorCode::InvalidArgument);
    EXPECT_EQ(code({kTopic, std::string(100, 's'), "m", {}}), ErrorCode::InvalidArgument);
    EXPECT_EQ(code({kTopic, "", std::string(262'145, 'm'), {}}), ErrorCode::InvalidArgument);
    std::vector<std::pair<std::string, std::string>> many;
    for (int i = 0; i < 11; ++i) {
        many.emplace_back("a" + std::to_string(i), "v");
    }
    EXPECT_EQ(code({kTopic, "", "m", many}), ErrorCode::InvalidArgument);
    EXPECT_TRUE(setup.transport.calls.empty());
    // 99 characters of multi-byte UTF-8 are fine.
    setup.transport.then(answer(200, publish_ok("x")));
    std::string subject;
    for (int i = 0; i < 99; ++i) {
        subject += "\xc3\xa9";
    }
    EXPECT_FALSE(code({kTopic, subject, "m", {}}).has_value());
}

}  // namespace
}  // namespace pf::aws
