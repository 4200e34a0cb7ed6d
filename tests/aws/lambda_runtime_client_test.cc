// LambdaRuntimeClient against an in-test transport: the Runtime API's paths, headers and bodies
// (aws-protocols.md §4.1), the long poll without a timeout, and 500 meaning "exit".
#include "aws/lambda_runtime_client.h"

#include "fake_transport.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pf::aws {
namespace {

using test::answer;
using test::FakeTransport;

TEST(LambdaRuntimeClient, NextLongPollsAndReadsTheInvocation) {
    FakeTransport transport;
    transport.then(answer(200, "{\"Records\":[]}",
                          {{"lambda-runtime-aws-request-id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd"},
                           {"lambda-runtime-deadline-ms", "1542409706888"},
                           {"lambda-runtime-invoked-function-arn",
                            "arn:aws:lambda:us-east-1:123456789012:function:photo"},
                           {"lambda-runtime-trace-id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700"}}));
    LambdaRuntimeClient client(transport, "127.0.0.1:9001");
    auto invocation = client.next();
    ASSERT_TRUE(invocation.has_value()) << invocation.error().message;
    EXPECT_EQ(invocation->request_id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
    EXPECT_EQ(invocation->deadline_ms, 1542409706888);
    EXPECT_EQ(invocation->function_arn, "arn:aws:lambda:us-east-1:123456789012:function:photo");
    EXPECT_EQ(invocation->trace_id, "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700");
    EXPECT_EQ(invocation->payload, "{\"Records\":[]}");

    const auto& call = transport.calls.at(0);
    EXPECT_EQ(call.request.method, "GET");
    EXPECT_EQ(call.request.url, "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next");
    ASSERT_TRUE(call.request.timeout.has_value());
    EXPECT_EQ(call.request.timeout->count(), 0) << "zero: no timeout";
}

TEST(LambdaRuntimeClient, AServerErrorMeansTheRuntimeMustExit) {
    FakeTransport transport;
    transport.then(answer(500, "{\"errorMessage\":\"container broken\"}"));
    LambdaRuntimeClient client(transport, "127.0.0.1:9001");
    auto invocation = client.next();
    ASSERT_FALSE(invocation.has_value());
    EXPECT_EQ(invocation.error().code, ErrorCode::Unavailable);
    EXPECT_EQ(invocation.error().message.rfind("runtime API reports ", 0), 0u);
    EXPECT_NE(invocation.error().message.find("the runtime must exit"), std::string::npos);
}

TEST(LambdaRuntimeClient, NextWithoutRequestIdOrWithABadDeadlineIsAnError) {
    FakeTransport transport;
    transport.then(answer(200, "{}"));
    transport.then(answer(200, "{}", {{"lambda-runtime-aws-request-id", "r"},
                                      {"lambda-runtime-deadline-ms", "soon"}}));
    LambdaRuntimeClient client(transport, "127.0.0.1:9001");
    EXPECT_EQ(client.next().error().code, ErrorCode::Internal);
    EXPECT_EQ(client.next().error().code, ErrorCode::Internal);
}

TEST(LambdaRuntimeClient, RespondPostsTheResult) {
    FakeTransport transport;
    transport.then(answer(202, "{\"status\":\"OK\"}"));
    transport.then(answer(413, "{\"errorMessage\":\"too large\"}"));
    LambdaRuntimeClient client(transport, "localhost:9001");
    ASSERT_TRUE(client.respond("req/1", "{\"ok\":true}"));
    const auto& call = transport.calls.at(0);
    EXPECT_EQ(call.request.method, "POST");
    EXPECT_EQ(call.request.url, "http://localhost:9001/2018-06-01/runtime/invocation/req%2F1/response");
    EXPECT_EQ(call.request.body, "{\"ok\":true}");
    auto too_large = client.respond("req-2", std::string(10, 'x'));
    ASSERT_FALSE(too_large.has_value());
    EXPECT_EQ(too_large.error().code, ErrorCode::TooLarge);
}

TEST(LambdaRuntimeClient, FailAndInitErrorPostTheErrorDocument) {
    FakeTransport transport;
    transport.then(answer(202));
    transport.then(answer(202));
    transport.then(answer(500));
    LambdaRuntimeClient client(transport, "127.0.0.1:9001");
    ASSERT_TRUE(client.fail("abc", {"Photoflux.PhotoRejected", "too many pixels: 1e9 > 1e8"}));
    ASSERT_TRUE(client.init_error({"Runtime.InitError\r\nX-Injected: 1", "bad config"}));
    auto broken = client.fail("abc", {"Unhandled", "x"});
    ASSERT_FALSE(broken.has_value());
    EXPECT_NE(broken.error().message.find("the runtime must exit"), std::string::npos);

    const auto& fail = transport.calls.at(0);
    EXPECT_EQ(fail.request.url, "http://127.0.0.1:9001/2018-06-01/runtime/invocation/abc/error");
    EXPECT_EQ(fail.header("lambda-runtime-function-error-type"), "Photoflux.PhotoRejected");
    const auto body = nlohmann::json::parse(fail.request.body);
    EXPECT_EQ(body["errorType"], "Photoflux.PhotoRejected");
    EXPECT_EQ(body["errorMessage"], "too many pixels: 1e9 > 1e8");
    EXPECT_TRUE(body["stackTrace"].is_array());
    EXPECT_TRUE(body["stackTrace"].empty());

    const auto& init = transport.calls.at(1);
    EXPECT_EQ(init.request.url, "http://127.0.0.1:9001/2018-06-01/runtime/init/error");
    const std::string type = *init.header("lambda-runtime-function-error-type");
    EXPECT_EQ(type.find_first_of("\r\n"), std::string::npos) << "no header injection";
}

TEST(LambdaRuntimeClient, TransportErrorsAreReturnedWithTheCall) {
    FakeTransport transport;
    transport.then(make_error(ErrorCode::Unavailable, "connection refused"));
    LambdaRuntimeClient client(transport, "127.0.0.1:9001");
    auto invocation = client.next();
    ASSERT_FALSE(invocation.has_value());
    EXPECT_EQ(invocation.error().code, ErrorCode::Unavailable);
    EXPECT_EQ(invocation.error().message, "GET /runtime/invocation/next: connection refused");
}

}  // namespace
}  // namespace pf::aws
