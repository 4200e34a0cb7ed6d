// HttpClientTransport (and the streaming it needs from http::HttpClient) against a real local
// server on 127.0.0.1: streamed request bodies, 2xx bodies into a sink, bounded error bodies,
// "no timeout" long polls, and the Lambda Runtime API client over it.
#include "function/http_client_transport.h"

#include "aws/lambda_runtime_client.h"
#include "http/server.h"

#include <gtest/gtest.h>

#include <functional>
#include <mutex>
#include <thread>

namespace pf::function {
namespace {

using namespace std::chrono_literals;

struct Seen {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string header(const std::string& name) const {
        for (const auto& [n, v] : headers) {
            if (n == name) {
                return v;
            }
        }
        return "<absent>";
    }
};

// pf::http::Server on its own thread; records requests, answers with `respond`.
class LocalServer {
public:
    using Respond = std::function<void(const Seen&, http::Response&)>;
    explicit LocalServer(Respond respond) : respond_(std::move(respond)) {
        http::ServerLimits limits;
        limits.shutdown_grace = 5s;
        auto server = http::Server::listen(
            "127.0.0.1", 0, limits,
            [this](const http::Request& req, http::RequestBody& body, http::Response& res) {
                Seen seen{req.method, req.target, req.headers, {}};
                std::vector<char> buffer(256 * 1024);
                while (true) {
                    auto n = body.read(buffer);
                    if (!n || *n == 0) {
                        break;
                    }
                    seen.body.append(buffer.data(), *n);
                }
                {
                    std::lock_guard lock(mutex_);
                    seen_.push_back(seen);
                }
                respond_(seen, res);
            });
        if (!server) {
            ADD_FAILURE() << server.error().message;
            std::abort();
        }
        server_ = std::move(*server);
        thread_ = std::thread([this] { server_->run(); });
    }
    ~LocalServer() {
        server_->stop();
        thread_.join();
    }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
    }
    std::string authority() const { return "127.0.0.1:" + std::to_string(server_->port()); }
    std::vector<Seen> seen() const {
        std::lock_guard lock(mutex_);
        return seen_;
    }

private:
    Respond respond_;
    std::unique_ptr<http::Server> server_;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<Seen> seen_;
};

void reply(http::Response& res, int status, const std::string& body,
           std::vector<std::pair<std::string, std::string>> headers = {}) {
    (void)res.start(status, std::move(headers), body.size());
    if (!body.empty()) {
        (void)res.write(std::span<const char>(body.data(), body.size()));
    }
}

class PatternSource final : public ByteSource {
public:
    explicit PatternSource(std::uint64_t length) : length_(length) {}
    Result<std::size_t> read(std::span<char> out) override {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), length_ - offset_));
        for (std::size_t i = 0; i < n; ++i) {
            out[i] = static_cast<char>('a' + (offset_ + i) % 23);
        }
        offset_ += n;
        return n;
    }
    static std::string expected(std::uint64_t length) {
        std::string s(length, '\0');
        for (std::uint64_t i = 0; i < length; ++i) {
            s[i] = static_cast<char>('a' + i % 23);
        }
        return s;
    }

private:
    std::uint64_t length_;
    std::uint64_t offset_ = 0;
};

class CollectingSink final : public ByteSink {
public:
    Result<void> write(std::span<const char> bytes) override {
        ++writes;
        text.append(bytes.data(), bytes.size());
        return {};
    }
    std::string text;
    int writes = 0;
};

HttpClientTransportOptions quick() {
    HttpClientTransportOptions options;
    options.timeout = 5s;
    options.connect_timeout = 2s;
    return options;
}

TEST(HttpClientTransport, StreamsARequestBodyOfKnownLengthToLoopback) {
    LocalServer server([](const Seen&, http::Response& res) { reply(res, 200, "", {{"ETag", "\"e\""}}); });
    HttpClientTransport transport(quick());
    for (const std::string method : {"PUT", "POST"}) {
        SCOPED_TRACE(method);
        const std::uint64_t length = (3u << 20) + 7;
        PatternSource source(length);
        aws::TransportRequest request;
        request.method = method;
        request.url = server.url("/photos/big.bin");
        request.headers = {{"x-amz-meta-a", "b"}, {"host", "ignored"}, {"content-length", "1"}};
        request.body_source = &source;
        request.body_length = length;
        auto response = transport.send(request);
        ASSERT_TRUE(response.has_value()) << response.error().message;
        EXPECT_EQ(response->status, 200);
        EXPECT_EQ(response->header("etag"), "\"e\"");
        const Seen seen = server.seen().back();
        EXPECT_EQ(seen.method, method);
        EXPECT_EQ(seen.header("content-length"), std::to_string(length));
        EXPECT_EQ(seen.header("transfer-encoding"), "<absent>");
        EXPECT_EQ(seen.header("x-amz-meta-a"), "b");
        EXPECT_EQ(seen.header("host"), server.authority());
        EXPECT_EQ(seen.body, PatternSource::expected(length));
    }
}

TEST(HttpClientTransport, ASourceThatEndsEarlyFailsTheRequest) {
    LocalServer server([](const Seen&, http::Response& res) { reply(res, 200, ""); });
    HttpClientTransport transport(quick());
    PatternSource source(1000);
    aws::TransportRequest request;
    request.method = "PUT";
    request.url = server.url("/x");
    request.body_source = &source;
    request.body_length = 5000;
    auto response = transport.send(request);
    ASSERT_FALSE(response.has_value());
    EXPECT_EQ(response.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(response.error().message.find("ended after 1000 of the 5000 bytes"), std::string::npos)
        << response.error().message;
}

TEST(HttpClientTransport, SuccessBodiesGoToTheSinkErrorBodiesStayInTheResponse) {
    const std::string big = PatternSource::expected(2u << 20);
    LocalServer server([&](const Seen& seen, http::Response& res) {
        if (seen.target == "/ok") {
            reply(res, 200, big, {{"Content-Type", "application/octet-stream"}});
        } else {
            reply(res, 404, "<Error><Code>NoSuchKey</Code></Error>", {{"Content-Type", "application/xml"}});
        }
    });
    HttpClientTransportOptions options = quick();
    options.max_response_bytes = 64 * 1024;  // far below the streamed body
    HttpClientTransport transport(options);

    aws::TransportRequest request;
    request.method = "GET";
    request.url = server.url("/ok");
    CollectingSink sink;
    auto response = transport.send(request, &sink);
    ASSERT_TRUE(response.has_value()) << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_TRUE(response->body.empty());
    EXPECT_EQ(sink.text, big);
    EXPECT_GT(sink.writes, 1) << "streamed, not buffered whole";

    request.url = server.url("/missing");
    CollectingSink untouched;
    response = transport.send(request, &untouched);
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 404);
    EXPECT_EQ(response->body, "<Error><Code>NoSuchKey</Code></Error>");
    EXPECT_TRUE(untouched.text.empty());

    // Without a sink a 2xx body over the limit is an error, never silently cut.
    request.url = server.url("/ok");
    response = transport.send(request);
    ASSERT_FALSE(response.has_value());
    EXPECT_EQ(response.error().code, ErrorCode::TooLarge);
}

TEST(HttpClientTransport, ASinkErrorStopsTheTransferAndIsReturned) {
    const std::string big = PatternSource::expected(4u << 20);
    LocalServer server([&](const Seen&, http::Response& res) { reply(res, 200, big); });
    class FullSink final : public ByteSink {
    public:
        Result<void> write(std::span<const char>) override {
            return make_error(ErrorCode::LimitExceeded, "disk quota reached");
        }
    } sink;
    HttpClientTransport transport(quick());
    aws::TransportRequest request;
    request.method = "GET";
    request.url = server.url("/ok");
    auto response = transport.send(request, &sink);
    ASSERT_FALSE(response.has_value());
    EXPECT_EQ(response.error().code, ErrorCode::LimitExceeded);
    EXPECT_NE(response.error().message.find("disk quota reached"), std::string::npos);
}

TEST(HttpClientTransport, ZeroTimeoutIsALongPollOthersAreBounded) {
    LocalServer server([](const Seen&, http::Response& res) {
        std::this_thread::sleep_for(1200ms);
        reply(res, 200, "late");
    });
    HttpClientTransportOptions options = quick();
    options.timeout = 400ms;
    HttpClientTransport transport(options);
    aws::TransportRequest request;
    request.method = "GET";
    request.url = server.url("/slow");

    auto bounded = transport.send(request);
    ASSERT_FALSE(bounded.has_value());
    EXPECT_EQ(bounded.error().code, ErrorCode::Timeout);

    request.timeout = 0ms;
    auto unbounded = transport.send(request);
    ASSERT_TRUE(unbounded.has_value()) << unbounded.error().message;
    EXPECT_EQ(unbounded->body, "late");
}

TEST(HttpClientTransport, LambdaRuntimeClientSpeaksTheRuntimeApiOverIt) {
    LocalServer server([](const Seen& seen, http::Response& res) {
        if (seen.target == "/2018-06-01/runtime/invocation/next") {
            std::this_thread::sleep_for(800ms);  // longer than the transport's default timeout
            reply(res, 200, "{\"Records\":[]}",
                  {{"Lambda-Runtime-Aws-Request-Id", "req-1"}, {"Lambda-Runtime-Deadline-Ms", "1700000000000"}});
        } else if (seen.target == "/2018-06-01/runtime/invocation/req-1/response") {
            reply(res, 202, "{\"status\":\"OK\"}");
        } else {
            reply(res, 500, "{\"errorMessage\":\"broken\"}");
        }
    });
    HttpClientTransportOptions options = quick();
    options.timeout = 300ms;
    HttpClientTransport transport(options);
    aws::LambdaRuntimeClient client(transport, server.authority());
    auto invocation = client.next();
    ASSERT_TRUE(invocation.has_value()) << invocation.error().message;
    EXPECT_EQ(invocation->request_id, "req-1");
    EXPECT_EQ(invocation->deadline_ms, 1700000000000);
    EXPECT_EQ(invocation->payload, "{\"Records\":[]}");
    ASSERT_TRUE(client.respond("req-1", "{\"done\":true}"));
    EXPECT_EQ(server.seen().back().body, "{\"done\":true}");
    auto broken = client.init_error({"Runtime.InitError", "x"});
    ASSERT_FALSE(broken.has_value());
    EXPECT_NE(broken.error().message.find("the runtime must exit"), std::string::npos);
}

}  // namespace
}  // namespace pf::function
