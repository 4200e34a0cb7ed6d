#include "function/photo_messages.h"
#include "function/runtime_loop.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>

namespace pf::function {
namespace {

using std::chrono::milliseconds;

// The Runtime API as AWS documents it (aws-protocols.md §4.1), in memory: queued invocations,
// then 500 ("the runtime must exit") once they run out.
class FakeRuntimeApi final : public aws::HttpTransport {
public:
    struct Queued {
        std::string request_id;
        std::string payload;
        std::string trace_id;
        std::string deadline_ms;
    };
    std::deque<Queued> queue;
    int next_status_when_empty = 500;
    std::vector<aws::TransportRequest> requests;

    Result<aws::TransportResponse> send(const aws::TransportRequest& request,
                                        ByteSink* sink) override {
        requests.push_back(request);
        aws::TransportResponse response;
        if (request.method == "GET" &&
            request.url == "http://runtime:9001/2018-06-01/runtime/invocation/next") {
            if (queue.empty()) {
                response.status = next_status_when_empty;
                return response;
            }
            Queued q = queue.front();
            queue.pop_front();
            response.status = 200;
            response.headers = {
                {"lambda-runtime-aws-request-id", q.request_id},
                {"lambda-runtime-trace-id", q.trace_id},
                {"lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:1:function:f"}};
            if (!q.deadline_ms.empty()) {
                response.headers.emplace_back("lambda-runtime-deadline-ms", q.deadline_ms);
            }
            if (sink != nullptr) {
                if (auto w = sink->write(q.payload); !w) {
                    return w.error();
                }
            } else {
                response.body = q.payload;
            }
            return response;
        }
        response.status = request.method == "POST" ? 202 : 404;
        return response;
    }

    std::vector<const aws::TransportRequest*> posts() const {
        std::vector<const aws::TransportRequest*> out;
        for (const auto& r : requests) {
            if (r.method == "POST") {
                out.push_back(&r);
            }
        }
        return out;
    }
};

std::string header(const aws::TransportRequest& request, const std::string& name) {
    for (const auto& [n, v] : request.headers) {
        if (n == name) {
            return v;
        }
    }
    return {};
}

class FixedClock final : public Clock {
public:
    explicit FixedClock(std::int64_t ms) : ms_(ms) {}
    std::int64_t now_ms() const override { return ms_; }

private:
    std::int64_t ms_;
};

TEST(RuntimeLoop, MarginIsATenthWithinBounds) {
    EXPECT_EQ(deadline_margin(milliseconds(3'000)), milliseconds(500));
    EXPECT_EQ(deadline_margin(milliseconds(20'000)), milliseconds(2'000));
    EXPECT_EQ(deadline_margin(milliseconds(900'000)), milliseconds(5'000));
    EXPECT_EQ(deadline_margin(milliseconds(-10)), milliseconds(500));
}

TEST(RuntimeLoop, DeadlineFromEpochMilliseconds) {
    EXPECT_EQ(invocation_deadline(0, 1'000).at(), Deadline::never().at());
    const auto before = SteadyClock::now();
    Deadline d = invocation_deadline(1'000'000 + 20'000, 1'000'000);  // 20 s left, 2 s kept back
    const auto left = std::chrono::duration_cast<milliseconds>(d.at() - before);
    EXPECT_GE(left.count(), 17'900);
    EXPECT_LE(left.count(), 18'000);
    EXPECT_TRUE(invocation_deadline(1'000, 2'000).expired());  // already past
}

TEST(RuntimeLoop, RespondsFailsAndExitsWhenTheApiGoesAway) {
    FakeRuntimeApi api;
    api.queue.push_back({"req-1", R"({"n":1})", "Root=1-abc;Sampled=1", "1020000"});
    api.queue.push_back({"req/2", R"({"n":2})", "", ""});
    aws::LambdaRuntimeClient runtime(api, "runtime:9001");
    FixedClock clock(1'000'000);
    std::vector<std::string> payloads;
    std::vector<std::string> trace_env;
    std::vector<Deadline> deadlines;
    ::setenv("_X_AMZN_TRACE_ID", "stale", 1);
    int code = serve_invocations(
        runtime,
        [&](const std::string& payload, const std::string& trace_id, Deadline deadline) {
            payloads.push_back(payload);
            const char* env = std::getenv("_X_AMZN_TRACE_ID");
            trace_env.push_back(env ? env : "<unset>");
            EXPECT_EQ(trace_id, env ? env : "");
            deadlines.push_back(deadline);
            if (payload == R"({"n":1})") {
                return HandleOutcome{R"({"records":[]})", std::nullopt};
            }
            return HandleOutcome{{},
                                 aws::FunctionError{std::string(kPhotoRejected), "Broken image"}};
        },
        clock);
    EXPECT_EQ(code, 0);  // a 500 from next(): the environment is going away
    EXPECT_EQ(payloads, (std::vector<std::string>{R"({"n":1})", R"({"n":2})"}));
    EXPECT_EQ(trace_env, (std::vector<std::string>{"Root=1-abc;Sampled=1", "<unset>"}));
    EXPECT_EQ(std::getenv("_X_AMZN_TRACE_ID"), nullptr);
    ASSERT_EQ(deadlines.size(), 2u);
    EXPECT_FALSE(deadlines[0].expired());
    EXPECT_LT(deadlines[0].at(), SteadyClock::now() + std::chrono::seconds(20));
    EXPECT_EQ(deadlines[1].at(), Deadline::never().at());

    auto posts = api.posts();
    ASSERT_EQ(posts.size(), 2u);
    EXPECT_EQ(posts[0]->url, "http://runtime:9001/2018-06-01/runtime/invocation/req-1/response");
    EXPECT_EQ(posts[0]->body, R"({"records":[]})");
    EXPECT_EQ(posts[1]->url, "http://runtime:9001/2018-06-01/runtime/invocation/req%2F2/error");
    EXPECT_EQ(header(*posts[1], "lambda-runtime-function-error-type"), "Photoflux.PhotoRejected");
    EXPECT_NE(posts[1]->body.find("Broken image"), std::string::npos);
}

TEST(RuntimeLoop, OtherNextFailuresExitWithOne) {
    FakeRuntimeApi api;
    api.next_status_when_empty = 403;
    aws::LambdaRuntimeClient runtime(api, "runtime:9001");
    FixedClock clock(0);
    int calls = 0;
    EXPECT_EQ(serve_invocations(
                  runtime,
                  [&](const std::string&, const std::string&, Deadline) {
                      ++calls;
                      return HandleOutcome{};
                  },
                  clock),
              1);
    EXPECT_EQ(calls, 0);
}

TEST(RuntimeLoop, WithoutARuntimeApiThereIsNothingToServe) {
    FakeRuntimeApi api;
    EXPECT_EQ(run_runtime({{"AWS_ACCESS_KEY_ID", "AK"}, {"AWS_SECRET_ACCESS_KEY", "SK"}}, api), 1);
    EXPECT_TRUE(api.requests.empty());
}

TEST(RuntimeLoop, BadSettingsArePostedAsAnInitError) {
    FakeRuntimeApi api;
    api.queue.push_back({"req-1", "{}", "", ""});
    int code = run_runtime({{"AWS_LAMBDA_RUNTIME_API", "runtime:9001"},
                            {"AWS_ACCESS_KEY_ID", "AK"},
                            {"AWS_SECRET_ACCESS_KEY", "SK"},
                            {"PF_TOPIC_ARN", "not-an-arn"},
                            {"PF_MAX_PHOTO_BYTES", "lots"}},
                           api);
    EXPECT_EQ(code, 1);
    ASSERT_EQ(api.requests.size(), 1u);  // no next(): an environment that cannot start stops
    const auto& posted = api.requests[0];
    EXPECT_EQ(posted.url, "http://runtime:9001/2018-06-01/runtime/init/error");
    EXPECT_EQ(header(posted, "lambda-runtime-function-error-type"), "Runtime.InitError");
    EXPECT_NE(posted.body.find("PF_TOPIC_ARN"), std::string::npos) << posted.body;
    EXPECT_NE(posted.body.find("PF_MAX_PHOTO_BYTES"), std::string::npos) << posted.body;
}

TEST(RuntimeLoop, MissingCredentialsAreAnInitError) {
    FakeRuntimeApi api;
    EXPECT_EQ(run_runtime({{"AWS_LAMBDA_RUNTIME_API", "runtime:9001"}}, api), 1);
    ASSERT_EQ(api.requests.size(), 1u);
    EXPECT_EQ(api.requests[0].url, "http://runtime:9001/2018-06-01/runtime/init/error");
    EXPECT_NE(api.requests[0].body.find("AWS_ACCESS_KEY_ID"), std::string::npos);
}

}  // namespace
}  // namespace pf::function
