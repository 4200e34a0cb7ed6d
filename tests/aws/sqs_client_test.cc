// SqsClient against an in-test transport: the JSON protocol's request shape (target header, body,
// SigV4 for service sqs), the answers (messages, attributes, MD5 checks), error mapping including
// the x-amzn-query-error header, retries, limits checked before sending; and
// unwrap_queued_s3_event over every shape an S3-events queue can carry.
#include "aws/sqs_client.h"

#include "aws/sigv4.h"
#include "aws/time_format.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "fake_transport.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pf::aws {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using test::answer;
using test::FakeTransport;

const std::string kQueue = "http://127.0.0.1:9324/123456789012/photos";
const std::string kEvent = R"({"Records":[]})";
const std::string kEventMd5 = "4166b95044745e0c1033678bdad8d7de";  // aws-protocols.md §6.3

std::string md5_hex(const std::string& text) {
    const auto d = crypto::md5(text);
    return crypto::hex_encode(std::span<const std::uint8_t>(d.data(), d.size()));
}

std::string sqs_error(const std::string& type, const std::string& message) {
    return json{{"__type", type}, {"message", message}}.dump();
}

json message_json(const std::string& id, const std::string& body, int receive_count,
                  std::optional<std::string> md5 = std::nullopt) {
    return {{"MessageId", id},
            {"ReceiptHandle", "rh-" + id},
            {"MD5OfBody", md5.value_or(md5_hex(body))},
            {"Body", body},
            {"Attributes",
             {{"ApproximateReceiveCount", std::to_string(receive_count)},
              {"SentTimestamp", "1767268800000"}}}};
}

struct SqsSetup {
    FakeTransport transport;
    std::vector<std::chrono::milliseconds> sleeps;
    SqsClientOptions options() {
        SqsClientOptions o;
        o.endpoint = {"http://127.0.0.1:9324", true};
        o.region = "eu-west-1";
        o.credentials = {"AK", "SK", "TOKEN"};
        o.clock = [] { return *parse_amz_date("20260101T120000Z"); };
        o.sleep = [this](std::chrono::milliseconds d) { sleeps.push_back(d); };
        return o;
    }
};

json body_of(const test::RecordedCall& call) { return json::parse(call.request.body); }

TEST(SqsClient, ReceiveIsASignedJsonPostWithTheTargetHeader) {
    SqsSetup setup;
    setup.transport.then(
        answer(200, json{{"Messages", {message_json("m1", kEvent, 1)}}}.dump(),
               {{"content-type", "application/x-amz-json-1.0"}}));
    SqsClient client(setup.transport, setup.options());
    auto messages = client.receive({kQueue, 5, 20s, 120s});
    ASSERT_TRUE(messages.has_value()) << messages.error().message;

    ASSERT_EQ(setup.transport.calls.size(), 1u);
    const auto& call = setup.transport.calls[0];
    EXPECT_EQ(call.request.method, "POST");
    EXPECT_EQ(call.request.url, "http://127.0.0.1:9324/");
    EXPECT_EQ(call.header("x-amz-target"), "AmazonSQS.ReceiveMessage");
    EXPECT_EQ(call.header("content-type"), "application/x-amz-json-1.0");
    EXPECT_EQ(call.header("x-amz-security-token"), "TOKEN");
    EXPECT_FALSE(call.header("x-amz-content-sha256").has_value()) << "S3 only";
    // The server holds a long poll for `wait`: the budget must outlast it.
    ASSERT_TRUE(call.request.timeout.has_value());
    EXPECT_GT(*call.request.timeout, 20'000ms);

    const json body = body_of(call);
    EXPECT_EQ(body["QueueUrl"], kQueue);
    EXPECT_EQ(body["MaxNumberOfMessages"], 5);
    EXPECT_EQ(body["WaitTimeSeconds"], 20);
    EXPECT_EQ(body["VisibilityTimeout"], 120);
    const json names = json::array({"ApproximateReceiveCount", "SentTimestamp"});
    EXPECT_EQ(body["MessageSystemAttributeNames"], names);
    EXPECT_EQ(body["AttributeNames"], names);

    auto auth = parse_authorization_header(*call.header("authorization"));
    ASSERT_TRUE(auth.has_value());
    EXPECT_EQ(auth->scope.to_string(), "20260101/eu-west-1/sqs/aws4_request");
    // x-amz-target is covered by the signature (a proxy must not turn a receive into a delete).
    EXPECT_NE(std::find(auth->signed_headers.begin(), auth->signed_headers.end(), "x-amz-target"),
              auth->signed_headers.end());
    CanonicalRequestInput in;
    in.method = "POST";
    in.path = "/";
    in.s3_path_rules = false;
    in.headers = call.request.headers;
    in.headers.emplace_back("host", "127.0.0.1:9324");
    in.signed_headers = auth->signed_headers;
    in.payload_hash = crypto::sha256_hex(call.request.body);
    EXPECT_EQ(signature(signing_key("SK", auth->scope),
                        string_to_sign("20260101T120000Z", auth->scope, canonical_request(in))),
              auth->signature);

    ASSERT_EQ(messages->size(), 1u);
    const SqsMessage& m = (*messages)[0];
    EXPECT_EQ(m.message_id, "m1");
    EXPECT_EQ(m.receipt_handle, "rh-m1");
    EXPECT_EQ(m.body, kEvent);
    EXPECT_EQ(m.md5_of_body, kEventMd5);
    EXPECT_EQ(m.receive_count(), 1);
    EXPECT_EQ(m.attributes.at("SentTimestamp"), "1767268800000");
}

TEST(SqsClient, ReceiveWithoutMessagesIsEmptyAndTheQueueDefaultVisibilityIsNotSent) {
    SqsSetup setup;
    setup.transport.then(answer(200, "{}"));
    setup.transport.then(answer(200, R"({"Messages":[]})"));
    SqsClient client(setup.transport, setup.options());
    SqsReceive r;
    r.queue_url = kQueue;
    r.wait = 0s;
    auto first = client.receive(r);
    ASSERT_TRUE(first.has_value()) << first.error().message;
    EXPECT_TRUE(first->empty());
    EXPECT_FALSE(body_of(setup.transport.calls[0]).contains("VisibilityTimeout"));
    EXPECT_EQ(body_of(setup.transport.calls[0])["MaxNumberOfMessages"], 10);
    auto second = client.receive(r);
    ASSERT_TRUE(second.has_value()) << second.error().message;
    EXPECT_TRUE(second->empty());
}

TEST(SqsClient, ReceiveRaisesAShortConfiguredTimeoutAboveTheWaitButKeepsALongOne) {
    SqsSetup setup;
    setup.transport.otherwise([](const test::RecordedCall&, ByteSink*) { return answer(200, "{}"); });
    SqsClientOptions options = setup.options();
    options.request_timeout = 5s;
    {
        SqsClient client(setup.transport, options);
        ASSERT_TRUE(client.receive({kQueue, 1, 20s, std::nullopt}).has_value());
        EXPECT_GT(*setup.transport.calls.back().request.timeout, 20s);
        // Other calls keep the configured budget.
        ASSERT_TRUE(client.delete_message(kQueue, "rh").has_value());
        EXPECT_EQ(*setup.transport.calls.back().request.timeout, 5s);
    }
    options.request_timeout = 10min;
    SqsClient client(setup.transport, options);
    ASSERT_TRUE(client.receive({kQueue, 1, 20s, std::nullopt}).has_value());
    EXPECT_EQ(*setup.transport.calls.back().request.timeout, 10min);
}

TEST(SqsClient, AMessageWhoseBodyDoesNotMatchItsMd5IsSkippedAndTheOthersKept) {
    SqsSetup setup;
    json messages = json::array();
    messages.push_back(message_json("good-1", kEvent, 1));
    messages.push_back(message_json("bad", kEvent, 1, md5_hex("something else")));
    messages.push_back(message_json("good-2", "second", 3));
    setup.transport.then(answer(200, json{{"Messages", messages}}.dump()));
    SqsClient client(setup.transport, setup.options());
    auto received = client.receive({kQueue, 10, 0s, std::nullopt});
    ASSERT_TRUE(received.has_value()) << received.error().message;
    std::vector<std::string> ids;
    for (const auto& m : *received) {
        ids.push_back(m.message_id);
    }
    EXPECT_EQ(ids, (std::vector<std::string>{"good-1", "good-2"}));
    EXPECT_EQ((*received)[1].receive_count(), 3);
}

TEST(SqsClient, UppercaseMd5OfBodyIsAccepted) {
    SqsSetup setup;
    std::string upper = kEventMd5;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    setup.transport.then(
        answer(200, json{{"Messages", {message_json("m", kEvent, 2, upper)}}}.dump()));
    SqsClient client(setup.transport, setup.options());
    auto received = client.receive({kQueue, 1, 0s, std::nullopt});
    ASSERT_TRUE(received.has_value());
    ASSERT_EQ(received->size(), 1u);
    EXPECT_EQ((*received)[0].receive_count(), 2);
}

TEST(SqsClient, MessagesWithoutReceiptHandleOrBodyAreSkipped) {
    SqsSetup setup;
    json no_handle = message_json("h", kEvent, 1);
    no_handle.erase("ReceiptHandle");
    json no_body = message_json("b", kEvent, 1);
    no_body.erase("Body");
    setup.transport.then(answer(
        200, json{{"Messages", {no_handle, no_body, message_json("ok", kEvent, 1)}}}.dump()));
    SqsClient client(setup.transport, setup.options());
    auto received = client.receive({kQueue, 10, 0s, std::nullopt});
    ASSERT_TRUE(received.has_value());
    ASSERT_EQ(received->size(), 1u);
    EXPECT_EQ((*received)[0].message_id, "ok");
}

TEST(SqsClient, AnAnswerThatIsNotJsonIsInternal) {
    for (const std::string& body : {std::string("<html>proxy</html>"), std::string("[1,2]"),
                                    std::string(R"({"Messages":"nope"})"),
                                    std::string(100, '[') + std::string(100, ']')}) {
        SCOPED_TRACE(body);
        SqsSetup setup;
        setup.transport.then(answer(200, body));
        SqsClient client(setup.transport, setup.options());
        auto received = client.receive({kQueue, 1, 0s, std::nullopt});
        ASSERT_FALSE(received.has_value());
        EXPECT_EQ(received.error().code, ErrorCode::Internal);
    }
}

TEST(SqsClient, ReceiveCountIsZeroWhenAbsentOrNotANumber) {
    SqsMessage m;
    EXPECT_EQ(m.receive_count(), 0);
    m.attributes["ApproximateReceiveCount"] = "x7";
    EXPECT_EQ(m.receive_count(), 0);
    m.attributes["ApproximateReceiveCount"] = "7";
    EXPECT_EQ(m.receive_count(), 7);
}

TEST(SqsClient, DeleteChangeVisibilitySendAndGetQueueUrlBodies) {
    SqsSetup setup;
    setup.transport.then(answer(200, "{}"));
    setup.transport.then(answer(200, ""));
    const std::string body = "caf\xc3\xa9 \"quoted\"\n";
    setup.transport.then(answer(
        200, json{{"MD5OfMessageBody", md5_hex(body)}, {"MessageId", "sent-1"}}.dump()));
    setup.transport.then(answer(200, json{{"QueueUrl", kQueue}}.dump()));
    SqsClient client(setup.transport, setup.options());

    ASSERT_TRUE(client.delete_message(kQueue, "handle/1+=").has_value());
    ASSERT_TRUE(client.change_visibility(kQueue, "handle-2", 0s).has_value());
    auto id = client.send(kQueue, body);
    ASSERT_TRUE(id.has_value()) << id.error().message;
    EXPECT_EQ(*id, "sent-1");
    auto url = client.queue_url("photos", "123456789012");
    ASSERT_TRUE(url.has_value()) << url.error().message;
    EXPECT_EQ(*url, kQueue);

    const auto& calls = setup.transport.calls;
    ASSERT_EQ(calls.size(), 4u);
    EXPECT_EQ(calls[0].header("x-amz-target"), "AmazonSQS.DeleteMessage");
    EXPECT_EQ(body_of(calls[0]), (json{{"QueueUrl", kQueue}, {"ReceiptHandle", "handle/1+="}}));
    EXPECT_EQ(calls[1].header("x-amz-target"), "AmazonSQS.ChangeMessageVisibility");
    EXPECT_EQ(body_of(calls[1]), (json{{"QueueUrl", kQueue},
                                       {"ReceiptHandle", "handle-2"},
                                       {"VisibilityTimeout", 0}}));
    EXPECT_EQ(calls[2].header("x-amz-target"), "AmazonSQS.SendMessage");
    EXPECT_EQ(body_of(calls[2]), (json{{"QueueUrl", kQueue}, {"MessageBody", body}}));
    EXPECT_EQ(calls[3].header("x-amz-target"), "AmazonSQS.GetQueueUrl");
    EXPECT_EQ(body_of(calls[3]),
              (json{{"QueueName", "photos"}, {"QueueOwnerAWSAccountId", "123456789012"}}));
    for (const auto& call : calls) {
        EXPECT_EQ(call.request.url, "http://127.0.0.1:9324/");
        auto auth = parse_authorization_header(*call.header("authorization"));
        ASSERT_TRUE(auth.has_value());
        EXPECT_EQ(auth->scope.service, "sqs");
    }
}

TEST(SqsClient, SendRefusesAnAnswerWhoseMd5DoesNotMatchTheBody) {
    SqsSetup setup;
    setup.transport.then(
        answer(200, json{{"MD5OfMessageBody", md5_hex("other")}, {"MessageId", "m-9"}}.dump()));
    setup.transport.then(answer(200, json{{"MessageId", "m-10"}}.dump()));
    setup.transport.then(answer(200, json{{"MD5OfMessageBody", md5_hex("x")}}.dump()));
    SqsClient client(setup.transport, setup.options());
    auto mismatch = client.send(kQueue, "hello");
    ASSERT_FALSE(mismatch.has_value());
    EXPECT_EQ(mismatch.error().code, ErrorCode::Internal);
    EXPECT_NE(mismatch.error().message.find("MD5OfMessageBody " + md5_hex("other")),
              std::string::npos)
        << mismatch.error().message;
    EXPECT_NE(mismatch.error().message.find("m-9"), std::string::npos);
    auto missing = client.send(kQueue, "hello");
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ErrorCode::Internal);
    auto no_id = client.send(kQueue, "x");
    ASSERT_FALSE(no_id.has_value());
    EXPECT_EQ(no_id.error().code, ErrorCode::Internal);
    // An answer is never retried into a second copy of the message.
    EXPECT_EQ(setup.transport.calls.size(), 3u);
}

TEST(SqsClient, ErrorsMapToCodesFromTheTypeOrTheQueryErrorHeader) {
    struct Case {
        std::string name;
        std::string body;
        std::vector<std::pair<std::string, std::string>> headers;
        ErrorCode expected;
    };
    const std::vector<Case> cases = {
        {"json type", sqs_error("com.amazonaws.sqs#QueueDoesNotExist", "The specified queue does not exist."),
         {}, ErrorCode::NotFound},
        {"json type and header",
         sqs_error("com.amazonaws.sqs#QueueDoesNotExist", "The specified queue does not exist."),
         {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"}},
         ErrorCode::NotFound},
        {"header only, other type", sqs_error("com.amazonaws.sqs#SomethingNew", "gone"),
         {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"}},
         ErrorCode::NotFound},
        {"header only, no body", "",
         {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"}},
         ErrorCode::NotFound},
        {"query code as type", sqs_error("AWS.SimpleQueueService.NonExistentQueue", "gone"), {},
         ErrorCode::NotFound},
        {"invalid handle", sqs_error("com.amazonaws.sqs#ReceiptHandleIsInvalid", "bad handle"),
         {{"x-amzn-query-error", "ReceiptHandleIsInvalid;Sender"}}, ErrorCode::InvalidArgument},
        {"not in flight", sqs_error("com.amazonaws.sqs#MessageNotInflight", "not in flight"), {},
         ErrorCode::InvalidArgument},
        {"auth", sqs_error("com.amazonaws.sqs#InvalidClientTokenId", "bad key"), {},
         ErrorCode::Forbidden},
        {"access denied", sqs_error("com.amazonaws.sqs#AccessDeniedException", "no"),
         {{"x-amzn-query-error", "AccessDenied;Sender"}}, ErrorCode::Forbidden},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        SqsSetup setup;
        auto headers = c.headers;
        headers.emplace_back("x-amzn-requestid", "req-42");
        setup.transport.then(answer(400, c.body, headers));
        SqsClient client(setup.transport, setup.options());
        auto result = client.delete_message(kQueue, "rh");
        ASSERT_FALSE(result.has_value());
        EXPECT_EQ(result.error().code, c.expected) << result.error().message;
        EXPECT_NE(result.error().message.find("SQS DeleteMessage " + kQueue + ", HTTP 400, request id req-42"),
                  std::string::npos)
            << result.error().message;
        EXPECT_EQ(setup.transport.calls.size(), 1u) << "4xx is not retried";
    }
    // The message starts with the short code and SQS's message.
    SqsSetup setup;
    setup.transport.then(answer(
        400, sqs_error("com.amazonaws.sqs#QueueDoesNotExist", "The specified queue does not exist."),
        {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"}}));
    SqsClient client(setup.transport, setup.options());
    auto url = client.queue_url("missing");
    ASSERT_FALSE(url.has_value());
    EXPECT_EQ(url.error().code, ErrorCode::NotFound);
    EXPECT_EQ(url.error().message.rfind("QueueDoesNotExist: The specified queue does not exist.", 0), 0u)
        << url.error().message;
}

TEST(SqsClient, ThrottlingServerErrorsAndNetworkErrorsAreRetried) {
    SqsSetup setup;
    setup.transport.then(answer(400, sqs_error("com.amazonaws.sqs#ThrottlingException", "slow"),
                                {{"x-amzn-query-error", "ThrottlingException;Sender"}}));
    setup.transport.then(answer(500, sqs_error("com.amazonaws.sqs#InternalError", "oops")));
    setup.transport.then(make_error(ErrorCode::Timeout, "timed out"));
    setup.transport.then(answer(200, json{{"MD5OfMessageBody", md5_hex("m")}, {"MessageId", "id"}}.dump()));
    SqsClientOptions options = setup.options();
    options.retry.max_attempts = 4;
    SqsClient client(setup.transport, options);
    auto id = client.send(kQueue, "m");
    ASSERT_TRUE(id.has_value()) << id.error().message;
    EXPECT_EQ(setup.transport.calls.size(), 4u);
    EXPECT_EQ(setup.sleeps.size(), 3u);

    // Out of attempts: Unavailable, a retryable error for the caller.
    SqsSetup failing;
    failing.transport.otherwise([](const test::RecordedCall&, ByteSink*) {
        return answer(503, sqs_error("com.amazonaws.sqs#ServiceUnavailable", "down"));
    });
    SqsClient down(failing.transport, failing.options());
    auto received = down.receive({kQueue, 1, 0s, std::nullopt});
    ASSERT_FALSE(received.has_value());
    EXPECT_EQ(received.error().code, ErrorCode::Unavailable);
    EXPECT_EQ(failing.transport.calls.size(), 4u);
}

TEST(SqsClient, ClockSkewIsCorrectedFromTheServerDate) {
    SqsSetup setup;
    setup.transport.then(answer(400, sqs_error("com.amazonaws.sqs#RequestExpired", "too old"),
                                {{"date", "Thu, 01 Jan 2026 12:20:00 GMT"}}));
    setup.transport.then(answer(200, "{}"));
    SqsClient client(setup.transport, setup.options());
    ASSERT_TRUE(client.change_visibility(kQueue, "rh", 60s).has_value());
    ASSERT_EQ(setup.transport.calls.size(), 2u);
    EXPECT_EQ(setup.transport.calls[1].header("x-amz-date"), "20260101T122000Z");
    EXPECT_TRUE(setup.sleeps.empty());
}

TEST(SqsClient, LimitsAreCheckedBeforeSending) {
    SqsSetup setup;
    SqsClient client(setup.transport, setup.options());
    auto code = [](const auto& result) {
        return result ? std::optional<ErrorCode>() : std::optional(result.error().code);
    };
    const auto bad = std::optional(ErrorCode::InvalidArgument);
    EXPECT_EQ(code(client.receive({kQueue, 0, 20s, std::nullopt})), bad);
    EXPECT_EQ(code(client.receive({kQueue, 11, 20s, std::nullopt})), bad);
    EXPECT_EQ(code(client.receive({kQueue, 10, 21s, std::nullopt})), bad);
    EXPECT_EQ(code(client.receive({kQueue, 10, -1s, std::nullopt})), bad);
    EXPECT_EQ(code(client.receive({kQueue, 10, 20s, 43'201s})), bad);
    EXPECT_EQ(code(client.receive({kQueue, 10, 20s, -1s})), bad);
    EXPECT_EQ(code(client.receive({"", 10, 20s, std::nullopt})), bad);
    EXPECT_EQ(code(client.change_visibility(kQueue, "rh", 43'201s)), bad);
    EXPECT_EQ(code(client.change_visibility(kQueue, "rh", -1s)), bad);
    EXPECT_EQ(code(client.change_visibility(kQueue, "", 0s)), bad);
    EXPECT_EQ(code(client.delete_message(kQueue, "")), bad);
    EXPECT_EQ(code(client.delete_message(kQueue, "bad\xff")), bad);
    EXPECT_EQ(code(client.send(kQueue, std::string(262'145, 'm'))), bad);
    EXPECT_EQ(code(client.send(kQueue, "")), bad);
    EXPECT_EQ(code(client.send(kQueue, "not utf-8 \xc3")), bad);
    EXPECT_EQ(code(client.send(kQueue, std::string("nul \0 inside", 12))), bad);
    EXPECT_EQ(code(client.send(kQueue, "overlong \xc0\xaf")), bad);
    EXPECT_EQ(code(client.queue_url("")), bad);
    EXPECT_EQ(code(client.queue_url(std::string(81, 'q'))), bad);
    EXPECT_EQ(code(client.queue_url("has space")), bad);
    EXPECT_EQ(code(client.queue_url("q", "12345")), bad);
    EXPECT_TRUE(setup.transport.calls.empty());

    // The edges themselves are sent.
    setup.transport.otherwise([](const test::RecordedCall& call, ByteSink*) {
        const json body = json::parse(call.request.body);
        if (body.contains("MessageBody")) {
            const auto d = crypto::md5(body["MessageBody"].get<std::string>());
            return answer(200, json{{"MessageId", "x"},
                                    {"MD5OfMessageBody",
                                     crypto::hex_encode(std::span<const std::uint8_t>(d.data(), d.size()))}}
                                   .dump());
        }
        if (body.contains("QueueName")) {
            return answer(200, json{{"QueueUrl", kQueue}}.dump());
        }
        return answer(200, "{}");
    });
    EXPECT_EQ(code(client.receive({kQueue, 1, 0s, 0s})), std::nullopt);
    EXPECT_EQ(code(client.receive({kQueue, 10, 20s, 43'200s})), std::nullopt);
    EXPECT_EQ(code(client.change_visibility(kQueue, "rh", 43'200s)), std::nullopt);
    EXPECT_EQ(code(client.send(kQueue, std::string(262'144, 'm'))), std::nullopt);
    EXPECT_EQ(code(client.send(kQueue, "tab\tnewline\n emoji \xf0\x9f\x93\xb7")), std::nullopt);
    EXPECT_EQ(code(client.queue_url(std::string(75, 'q') + ".fifo")), std::nullopt);
    EXPECT_EQ(setup.transport.calls.size(), 6u);
}

TEST(SqsClient, WithoutAnExplicitEndpointTheQueueUrlsHostIsUsed) {
    SqsSetup setup;
    setup.transport.otherwise([](const test::RecordedCall&, ByteSink*) { return answer(200, "{}"); });
    SqsClientOptions options = setup.options();
    options.endpoint = {"https://sqs.eu-west-1.amazonaws.com", false};
    SqsClient client(setup.transport, options);
    ASSERT_TRUE(client.delete_message("http://localhost:4566/000000000000/q", "rh").has_value());
    EXPECT_EQ(setup.transport.calls.back().request.url, "http://localhost:4566/");
    // An explicit endpoint wins over the queue URL's host.
    options.endpoint = {"http://127.0.0.1:9324", true};
    SqsClient explicit_client(setup.transport, options);
    ASSERT_TRUE(
        explicit_client.delete_message("http://localhost:4566/000000000000/q", "rh").has_value());
    EXPECT_EQ(setup.transport.calls.back().request.url, "http://127.0.0.1:9324/");
}

TEST(SqsClient, OptionsFromTheEnvironment) {
    auto environment = AwsEnvironment::from({{"AWS_ACCESS_KEY_ID", "AK"},
                                             {"AWS_SECRET_ACCESS_KEY", "SK"},
                                             {"AWS_REGION", "eu-central-1"},
                                             {"AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9324"}});
    ASSERT_TRUE(environment.has_value());
    const SqsClientOptions options = sqs_client_options(*environment);
    EXPECT_EQ(options.endpoint.url, "http://127.0.0.1:9324");
    EXPECT_TRUE(options.endpoint.custom);
    EXPECT_EQ(options.region, "eu-central-1");
    EXPECT_EQ(options.credentials.access_key_id, "AK");
}

// ---- unwrap_queued_s3_event -------------------------------------------------------------------

const std::string kS3Event =
    R"({"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",)"
    R"("eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"photos"},)"
    R"("object":{"key":"in/a+b.jpg","size":3,"eTag":"abc","sequencer":"0A"}}}]})";
const std::string kTestEvent =
    R"({"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-01T12:00:00.000Z",)"
    R"("Bucket":"photos","RequestId":"R","HostId":"H"})";

std::string sns_envelope(const std::string& message, const std::string& type = "Notification") {
    return json{{"Type", type},
                {"MessageId", "5c0c"},
                {"TopicArn", "arn:aws:sns:us-east-1:123456789012:photos"},
                {"Subject", "Amazon S3 Notification"},
                {"Message", message},
                {"Timestamp", "2026-01-01T12:00:00.000Z"},
                {"SignatureVersion", "1"},
                {"Signature", "c2ln"},
                {"SigningCertURL", "https://sns.us-east-1.amazonaws.com/cert.pem"},
                {"UnsubscribeURL", "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"}}
        .dump();
}

TEST(QueuedS3Event, ARawS3EventIsPassedOnAsIs) {
    const auto e = unwrap_queued_s3_event(kS3Event);
    EXPECT_EQ(e.kind, QueuedS3Event::Kind::S3Event) << e.reason;
    EXPECT_EQ(e.event_json, kS3Event);
    EXPECT_FALSE(e.via_sns);
}

TEST(QueuedS3Event, AnSnsEnvelopeGivesItsMessage) {
    const auto e = unwrap_queued_s3_event(sns_envelope(kS3Event));
    EXPECT_EQ(e.kind, QueuedS3Event::Kind::S3Event) << e.reason;
    EXPECT_EQ(e.event_json, kS3Event);
    EXPECT_TRUE(e.via_sns);
}

TEST(QueuedS3Event, TestEventsRawOrWrapped) {
    const auto raw = unwrap_queued_s3_event(kTestEvent);
    EXPECT_EQ(raw.kind, QueuedS3Event::Kind::TestEvent);
    EXPECT_FALSE(raw.via_sns);
    const auto wrapped = unwrap_queued_s3_event(sns_envelope(kTestEvent));
    EXPECT_EQ(wrapped.kind, QueuedS3Event::Kind::TestEvent);
    EXPECT_TRUE(wrapped.via_sns);
}

TEST(QueuedS3Event, AnythingElseIsUnrecognisedWithAReason) {
    struct Case {
        std::string name;
        std::string body;
        std::string reason_part;
        bool via_sns;
    };
    const std::vector<Case> cases = {
        {"malformed", R"({"Records":[)", "not JSON", false},
        {"empty", "", "not JSON", false},
        {"array", "[1]", "not an object", false},
        {"plain text in SNS", sns_envelope("hello world"), "Message is not JSON", true},
        {"non-S3 JSON in SNS", sns_envelope(R"({"order":42})"), "without Records", true},
        {"subscription confirmation", sns_envelope(kS3Event, "SubscriptionConfirmation"),
         "SubscriptionConfirmation", true},
        {"SNS without Message",
         R"({"Type":"Notification","TopicArn":"arn:aws:sns:us-east-1:1:t"})", "without a Message",
         true},
        {"SNS inside SNS", sns_envelope(sns_envelope(kS3Event)), "another SNS message", true},
        {"no records", R"({"hello":"world"})", "without Records", false},
        {"empty records", R"({"Records":[]})", "non-empty list", false},
        {"records not a list", R"({"Records":{"a":1}})", "non-empty list", false},
        {"a record not an object", R"({"Records":[1]})", "record 0 is not an object", false},
        {"SQS records", R"({"Records":[{"eventSource":"aws:sqs","body":"x"}]})", "aws:sqs", false},
        {"SNS-to-Lambda records",
         R"({"Records":[{"EventSource":"aws:sns","Sns":{"Message":"x"}}]})", "aws:sns", false},
        {"mixed records",
         R"({"Records":[{"eventSource":"aws:s3"},{"eventSource":"aws:dynamodb"}]})",
         "record 1 has eventSource aws:dynamodb", false},
        {"too deep", std::string(40, '[') + std::string(40, ']'), "nested deeper", false},
        {"too large", "{\"Records\":[" + std::string(1 << 20, ' ') + "]}", "larger than 1 MiB",
         false},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const auto e = unwrap_queued_s3_event(c.body);
        EXPECT_EQ(e.kind, QueuedS3Event::Kind::Unrecognised);
        EXPECT_NE(e.reason.find(c.reason_part), std::string::npos) << e.reason;
        EXPECT_EQ(e.via_sns, c.via_sns);
        EXPECT_TRUE(e.event_json.empty());
    }
}

TEST(QueuedS3Event, ATypeFieldWithoutTopicArnIsNotTakenForSns) {
    // An S3 event that happens to carry a top-level "Type" is still the event.
    const std::string body =
        R"({"Type":"Notification","Records":[{"eventSource":"aws:s3","s3":{}}]})";
    const auto e = unwrap_queued_s3_event(body);
    EXPECT_EQ(e.kind, QueuedS3Event::Kind::S3Event) << e.reason;
    EXPECT_FALSE(e.via_sns);
}

}  // namespace
}  // namespace pf::aws
