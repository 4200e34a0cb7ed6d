// RuntimeApiServer over real HTTP (the project's libcurl client plays the runtime): the /next
// long poll and its headers, response and error posts, stale ids, init errors, limits.
#include "http/client.h"
#include "lambda/runtime_api_server.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace pf::lambda {
namespace {

using namespace std::chrono_literals;

class RuntimeApiServerTest : public ::testing::Test {
protected:
    void SetUp() override { start({}); }
    void start(RuntimeApiLimits limits) {
        server_.reset();
        auto started = RuntimeApiServer::start(limits, [this] { ++changes_; });
        ASSERT_TRUE(started) << started.error().message;
        server_ = std::move(*started);
        server_->begin_worker();
        http::ClientOptions options;
        options.address_policy = http::AddressPolicy::allow_all();
        options.max_response_bytes = 1024 * 1024;
        client_ = std::make_unique<http::HttpClient>(options);
    }
    std::string url(const std::string& path) const {
        return "http://" + server_->address() + "/2018-06-01" + path;
    }
    std::future<Result<http::ClientResponse>> next_async() {
        return std::async(std::launch::async, [this] {
            http::ClientRequest request;
            request.method = "GET";
            request.url = url("/runtime/invocation/next");
            request.no_timeout = true;
            return client_->send(request);
        });
    }
    Result<http::ClientResponse>
    post(const std::string& path, std::string body,
         std::vector<std::pair<std::string, std::string>> headers = {}) {
        http::ClientRequest request;
        request.method = "POST";
        request.url = url(path);
        request.body = std::move(body);
        request.headers = std::move(headers);
        request.timeout = 10s;
        return client_->send(request);
    }
    // Waits until a /next is parked in the server.
    void wait_for_poll() {
        for (int i = 0; i < 500 && !server_->next_waiting(); ++i) {
            std::this_thread::sleep_for(5ms);
        }
        ASSERT_TRUE(server_->next_waiting());
    }
    // Assigns an invocation and returns the /next answer.
    http::ClientResponse deliver(const std::string& id, const std::string& payload = "{\"a\":1}") {
        auto polled = next_async();
        wait_for_poll();
        EXPECT_TRUE(server_->assign(InvocationRequest{id, payload, 1700000000123,
                                                      "arn:aws:lambda:us-east-1:000000000000:"
                                                      "function:photo",
                                                      "Root=1-a-b;Lineage=abcdef01:1"}));
        auto response = polled.get();
        EXPECT_TRUE(response) << response.error().message;
        return response ? *response : http::ClientResponse{};
    }

    std::atomic<int> changes_{0};
    std::unique_ptr<RuntimeApiServer> server_;
    std::unique_ptr<http::HttpClient> client_;
};

TEST_F(RuntimeApiServerTest, NextBlocksUntilAssignedAndCarriesTheInvocationHeaders) {
    auto polled = next_async();
    wait_for_poll();
    EXPECT_TRUE(server_->ready());
    EXPECT_EQ(polled.wait_for(200ms), std::future_status::timeout);  // still blocked
    ASSERT_TRUE(server_->assign(InvocationRequest{
        "11111111-2222-4333-8444-555555555555", R"({"Records":[]})", 1700000000123,
        "arn:aws:lambda:us-east-1:000000000000:function:photo", "Root=1-a-b;Lineage=abcdef01:1"}));
    auto response = polled.get();
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, R"({"Records":[]})");
    EXPECT_EQ(response->header("lambda-runtime-aws-request-id"),
              "11111111-2222-4333-8444-555555555555");
    EXPECT_EQ(response->header("lambda-runtime-deadline-ms"), "1700000000123");
    EXPECT_EQ(response->header("lambda-runtime-invoked-function-arn"),
              "arn:aws:lambda:us-east-1:000000000000:function:photo");
    EXPECT_EQ(response->header("lambda-runtime-trace-id"), "Root=1-a-b;Lineage=abcdef01:1");
    EXPECT_TRUE(server_->delivered());
    EXPECT_FALSE(server_->next_waiting());
    EXPECT_FALSE(server_->assign(InvocationRequest{"other", "{}", 0, "", ""}));  // one at a time
}

TEST_F(RuntimeApiServerTest, ResponseIsAcceptedOnceAndStaleIdsAreRefused) {
    deliver("req-1");
    auto stale = post("/runtime/invocation/req-0/response", "{}");
    ASSERT_TRUE(stale);
    EXPECT_EQ(stale->status, 400);
    EXPECT_FALSE(server_->has_outcome());

    const int before = changes_.load();
    auto ok = post("/runtime/invocation/req-1/response", "{\"done\":true}");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 202);
    EXPECT_GT(changes_.load(), before);
    auto outcome = server_->take_outcome();
    ASSERT_TRUE(outcome);
    EXPECT_EQ(outcome->kind, RuntimeOutcome::Kind::Success);
    EXPECT_EQ(outcome->response_bytes, 13u);

    auto again = post("/runtime/invocation/req-1/response", "{}");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 400);
    auto bad_id = post("/runtime/invocation/..%2f/response", "{}");
    ASSERT_TRUE(bad_id);
    EXPECT_EQ(bad_id->status, 400);
}

TEST_F(RuntimeApiServerTest, CancelledInvocationCannotBeAnsweredAnyMore) {
    deliver("req-1");
    server_->cancel();
    auto late = post("/runtime/invocation/req-1/response", "{}");
    ASSERT_TRUE(late);
    EXPECT_EQ(late->status, 400);
    EXPECT_FALSE(server_->has_outcome());
}

TEST_F(RuntimeApiServerTest, ErrorTypeComesFromTheBodyThenTheHeader) {
    deliver("req-1");
    auto posted = post("/runtime/invocation/req-1/error",
                       R"({"errorMessage":"bad photo","errorType":"Photoflux.PhotoRejected",
                           "stackTrace":[]})",
                       {{"Lambda-Runtime-Function-Error-Type", "Unhandled"}});
    ASSERT_TRUE(posted);
    EXPECT_EQ(posted->status, 202);
    auto outcome = server_->take_outcome();
    ASSERT_TRUE(outcome);
    EXPECT_EQ(outcome->kind, RuntimeOutcome::Kind::FunctionError);
    EXPECT_EQ(outcome->error_type, "Photoflux.PhotoRejected");
    EXPECT_EQ(outcome->error_message, "bad photo");

    deliver("req-2");
    auto broken = post("/runtime/invocation/req-2/error", "not json at all",
                       {{"Lambda-Runtime-Function-Error-Type", "Runtime.Custom"}});
    ASSERT_TRUE(broken);
    EXPECT_EQ(broken->status, 202);
    outcome = server_->take_outcome();
    ASSERT_TRUE(outcome);
    EXPECT_EQ(outcome->error_type, "Runtime.Custom");
    EXPECT_EQ(outcome->error_message, "not json at all");

    deliver("req-3");
    auto empty = post("/runtime/invocation/req-3/error", "");
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->status, 202);
    EXPECT_EQ(server_->take_outcome()->error_type, "Unhandled");
}

TEST(ParseFunctionError, OversizedFieldsAreCut) {
    RuntimeApiLimits limits;
    limits.max_error_type_bytes = 8;
    limits.max_error_message_bytes = 10;
    nlohmann::json body = {{"errorType", std::string(100, 'T')},
                           {"errorMessage", std::string(100, 'm')}};
    RuntimeOutcome out = parse_function_error("", body.dump(), false, limits);
    EXPECT_EQ(out.error_type.substr(0, 8), "TTTTTTTT");
    EXPECT_NE(out.error_type.find("92 bytes cut"), std::string::npos);
    EXPECT_EQ(out.error_message.substr(0, 11), "mmmmmmmmmm ");
    RuntimeOutcome truncated = parse_function_error("Fn.Err", "{\"errorType\":", true, limits);
    EXPECT_EQ(truncated.error_type, "Fn.Err");
    EXPECT_NE(truncated.error_message.find("ignored"), std::string::npos);
}

TEST_F(RuntimeApiServerTest, OversizedResponseGets413AndFailsTheInvocation) {
    RuntimeApiLimits limits;
    limits.max_response_bytes = 1000;
    start(limits);
    deliver("req-1");
    auto big = post("/runtime/invocation/req-1/response", std::string(1001, 'x'));
    ASSERT_TRUE(big) << big.error().message;
    EXPECT_EQ(big->status, 413);
    auto outcome = server_->take_outcome();
    ASSERT_TRUE(outcome);
    EXPECT_EQ(outcome->kind, RuntimeOutcome::Kind::FunctionError);
    EXPECT_EQ(outcome->error_type, "Function.ResponseSizeTooLarge");

    deliver("req-2");
    auto fits = post("/runtime/invocation/req-2/response", std::string(1000, 'x'));
    ASSERT_TRUE(fits);
    EXPECT_EQ(fits->status, 202);
    EXPECT_EQ(server_->take_outcome()->kind, RuntimeOutcome::Kind::Success);
}

TEST_F(RuntimeApiServerTest, InitErrorMarksTheEnvironmentFailedOnlyBeforeNext) {
    auto posted = post("/runtime/init/error", R"({"errorMessage":"no config","errorType":"X"})",
                       {{"Lambda-Runtime-Function-Error-Type", "Runtime.InitError"}});
    ASSERT_TRUE(posted);
    EXPECT_EQ(posted->status, 202);
    auto failure = server_->init_failure();
    ASSERT_TRUE(failure);
    EXPECT_EQ(failure->error_type, "X");
    EXPECT_EQ(failure->error_message, "no config");

    server_->begin_worker();  // a new worker: the old failure is gone
    EXPECT_FALSE(server_->init_failure());
    deliver("req-1");
    auto late = post("/runtime/init/error", "{}");
    ASSERT_TRUE(late);
    EXPECT_EQ(late->status, 403);
    EXPECT_FALSE(server_->init_failure());
}

TEST_F(RuntimeApiServerTest, NewWorkerEndsTheOldWorkersPoll) {
    auto polled = next_async();
    wait_for_poll();
    server_->begin_worker();
    auto response = polled.get();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 500);
    EXPECT_FALSE(server_->next_waiting());
    EXPECT_FALSE(server_->ready());
}

TEST_F(RuntimeApiServerTest, UnknownPathsAndMethods) {
    auto unknown = post("/runtime/something", "");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, 404);
    auto wrong = post("/runtime/invocation/next", "");
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 405);
}

TEST_F(RuntimeApiServerTest, StopAnswersAWaitingPoll) {
    auto polled = next_async();
    wait_for_poll();
    server_->stop();
    auto response = polled.get();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 500);
}

}  // namespace
}  // namespace pf::lambda
