// HttpClient against real local receivers: pf::http::Server on 127.0.0.1 (port 0) for plain HTTP,
// and a small OpenSSL server with a self-signed certificate made at test time for HTTPS.
#include "http/client.h"
#include "http/server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pf::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Received {
    std::string method;
    std::string target;
    Headers headers;
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

// The receiving end: pf::http::Server on its own thread. Records every request; the answer comes
// from `respond` (default: 200 "ok").
class Receiver {
public:
    using Respond = std::function<void(const Received&, Response&)>;

    explicit Receiver(Respond respond = {}) : respond_(std::move(respond)) {
        ServerLimits limits;
        limits.header_timeout = 5s;
        limits.idle_timeout = 5s;
        limits.body_progress_timeout = 5s;
        limits.write_timeout = 5s;
        limits.shutdown_grace = 5s;
        auto server = Server::listen(
            "127.0.0.1", 0, limits, [this](const Request& req, RequestBody& body, Response& res) {
                Received r{req.method, req.target, req.headers, {}};
                char buffer[64 * 1024];
                while (true) {
                    auto n = body.read(buffer);
                    if (!n || *n == 0) {
                        break;
                    }
                    r.body.append(buffer, *n);
                }
                {
                    std::lock_guard lock(mutex_);
                    received_.push_back(r);
                }
                if (respond_) {
                    respond_(r, res);
                } else {
                    (void)res.start(200, {{"Content-Type", "text/plain"}}, 2);
                    (void)res.write(std::span<const char>("ok", 2));
                }
            });
        if (!server) {
            ADD_FAILURE() << server.error().message;
            std::abort();
        }
        server_ = std::move(*server);
        thread_ = std::thread([this] { server_->run(); });
    }
    ~Receiver() {
        server_->stop();
        thread_.join();
    }
    std::string url(const std::string& path = "/") const {
        return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
    }
    std::uint16_t port() const { return server_->port(); }
    std::vector<Received> received() const {
        std::lock_guard lock(mutex_);
        return received_;
    }

private:
    Respond respond_;
    std::unique_ptr<Server> server_;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<Received> received_;
};

void answer(Response& res, int status, Headers headers, const std::string& body) {
    (void)res.start(status, std::move(headers), body.size());
    if (!body.empty()) {
        (void)res.write(std::span<const char>(body.data(), body.size()));
    }
}

ClientOptions loopback_allowed() {
    ClientOptions options;
    auto policy = AddressPolicy::with_allowed({"127.0.0.0/8"});
    EXPECT_TRUE(policy);
    options.address_policy = *policy;
    options.timeout = 5s;
    options.connect_timeout = 2s;
    return options;
}

TEST(HttpClient, PostWithHeadersAndBodyArrivesIntact) {
    Receiver receiver([](const Received&, Response& res) {
        answer(res, 200, {{"Content-Type", "application/json"}, {"X-Reply", "yes"}},
               "{\"ok\":true}");
    });
    ClientOptions options = loopback_allowed();
    options.user_agent = "Amazon Simple Notification Service Agent";
    const HttpClient client(options);

    std::string body = "{\"Type\":\"Notification\",\"Message\":\"caf\xc3\xa9\"}\n";
    for (int i = 0; i < 5000; ++i) {
        body += std::string(1, static_cast<char>(i % 256));  // every byte value, NUL included
    }
    ClientRequest request;
    request.url = receiver.url("/hooks/photo?token=abc");
    request.headers = {{"Content-Type", "text/plain; charset=UTF-8"},
                       {"x-amz-sns-message-type", "Notification"},
                       {"x-amz-sns-message-id", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"},
                       {"X-Empty", ""}};
    request.body = body;

    auto response = client.send(request);
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "{\"ok\":true}");
    EXPECT_FALSE(response->body_truncated);
    EXPECT_EQ(response->header("content-type"), "application/json");
    EXPECT_EQ(response->header("x-reply"), "yes");
    EXPECT_EQ(response->remote_address, "127.0.0.1");

    const auto got = receiver.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].method, "POST");
    EXPECT_EQ(got[0].target, "/hooks/photo?token=abc");
    EXPECT_EQ(got[0].body, body);
    EXPECT_EQ(got[0].header("content-type"), "text/plain; charset=UTF-8");
    EXPECT_EQ(got[0].header("x-amz-sns-message-type"), "Notification");
    EXPECT_EQ(got[0].header("x-amz-sns-message-id"), "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324");
    EXPECT_EQ(got[0].header("x-empty"), "");
    EXPECT_EQ(got[0].header("user-agent"), "Amazon Simple Notification Service Agent");
    EXPECT_EQ(got[0].header("content-length"), std::to_string(body.size()));
    EXPECT_EQ(got[0].header("expect"), "<absent>");
}

TEST(HttpClient, NoContentTypeUnlessGivenAndOtherMethods) {
    Receiver receiver;
    const HttpClient client(loopback_allowed());

    ClientRequest post;
    post.url = receiver.url("/p");
    post.body = "x=1";
    ASSERT_TRUE(client.send(post));

    ClientRequest get;
    get.method = "GET";
    get.url = receiver.url("/g");
    ASSERT_TRUE(client.send(get));

    ClientRequest put;
    put.method = "PUT";
    put.url = receiver.url("/u");
    put.body = "payload";
    ASSERT_TRUE(client.send(put));

    ClientRequest empty_post;
    empty_post.url = receiver.url("/e");
    ASSERT_TRUE(client.send(empty_post));

    const auto got = receiver.received();
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0].header("content-type"), "<absent>");  // no made-up form type
    EXPECT_EQ(got[0].body, "x=1");
    EXPECT_EQ(got[1].method, "GET");
    EXPECT_EQ(got[1].body, "");
    EXPECT_EQ(got[2].method, "PUT");
    EXPECT_EQ(got[2].body, "payload");
    EXPECT_EQ(got[3].method, "POST");
    EXPECT_EQ(got[3].header("content-length"), "0");
}

TEST(HttpClient, EveryStatusIsAValue) {
    Receiver receiver([](const Received& r, Response& res) {
        const int status = std::stoi(r.target.substr(1));
        answer(res, status, {}, status == 204 ? "" : "status " + std::to_string(status));
    });
    const HttpClient client(loopback_allowed());
    for (int status : {200, 201, 204, 400, 403, 404, 429, 500, 502, 503}) {
        ClientRequest request;
        request.url = receiver.url("/" + std::to_string(status));
        request.body = "{}";
        auto response = client.send(request);
        ASSERT_TRUE(response) << status << ": " << response.error().message;
        EXPECT_EQ(response->status, status);
        if (status != 204) {
            EXPECT_EQ(response->body, "status " + std::to_string(status));
        }
    }
}

TEST(HttpClient, RedirectIsNotFollowed) {
    Receiver receiver([](const Received& r, Response& res) {
        if (r.target == "/start") {
            answer(res, 302, {{"Location", "/elsewhere"}}, "moved");
        } else {
            answer(res, 200, {}, "followed");
        }
    });
    const HttpClient client(loopback_allowed());
    for (const char* path : {"/start"}) {
        ClientRequest request;
        request.url = receiver.url(path);
        request.body = "{}";
        auto response = client.send(request);
        ASSERT_TRUE(response) << response.error().message;
        EXPECT_EQ(response->status, 302);
        EXPECT_EQ(response->header("location"), "/elsewhere");
        EXPECT_EQ(response->body, "moved");
    }
    const auto got = receiver.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].target, "/start");
}

TEST(HttpClient, TotalTimeoutIsEnforced) {
    std::mutex mutex;
    std::condition_variable cv;
    bool released = false;
    Receiver receiver([&](const Received&, Response& res) {
        std::unique_lock lock(mutex);
        cv.wait_for(lock, 10s, [&] { return released; });
        answer(res, 200, {}, "late");
    });
    // From the options, and from the request (a delivery attempt's own budget).
    for (const bool per_request : {false, true}) {
        SCOPED_TRACE(per_request ? "request timeout" : "options timeout");
        ClientOptions options = loopback_allowed();
        ClientRequest request;
        request.url = receiver.url("/slow");
        request.body = "{}";
        if (per_request) {
            options.timeout = 10s;
            request.timeout = 300ms;
        } else {
            options.timeout = 300ms;
        }
        const HttpClient client(options);
        const auto start = Clock::now();
        auto response = client.send(request);
        const auto elapsed = Clock::now() - start;

        ASSERT_FALSE(response);
        EXPECT_EQ(response.error().code, ErrorCode::Timeout);
        EXPECT_TRUE(response.error().retryable());
        EXPECT_GE(elapsed, 290ms);
        EXPECT_LT(elapsed, 3s);
        EXPECT_NE(response.error().message.find("POST http://127.0.0.1:"), std::string::npos)
            << response.error().message;
    }
    {
        std::lock_guard lock(mutex);
        released = true;
    }
    cv.notify_all();
}

TEST(HttpClient, LoopbackIsRefusedByDefaultWithAClearError) {
    Receiver receiver;
    const HttpClient client;  // default policy

    ClientRequest request;
    request.url = receiver.url("/hook?secret=s3cr3t");
    request.body = "{}";
    auto response = client.send(request);
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, ErrorCode::Forbidden);
    EXPECT_FALSE(response.error().retryable());
    const std::string& m = response.error().message;
    EXPECT_NE(m.find("refused destination: 127.0.0.1 is loopback (127.0.0.0/8)"), std::string::npos)
        << m;
    EXPECT_EQ(m.find("s3cr3t"), std::string::npos) << m;  // the query never reaches a message
    EXPECT_TRUE(receiver.received().empty());

    // A name that resolves to loopback is refused the same way, after DNS.
    request.url = "http://localhost:" + std::to_string(receiver.port()) + "/hook";
    response = client.send(request);
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, ErrorCode::Forbidden);
    EXPECT_NE(response.error().message.find("is loopback"), std::string::npos)
        << response.error().message;
    EXPECT_TRUE(receiver.received().empty());

    // So are the IPv6 spellings of a loopback IPv4 address.
    for (const char* host : {"[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::1]"}) {
        request.url = "http://" + std::string(host) + ":" + std::to_string(receiver.port()) + "/";
        response = client.send(request);
        ASSERT_FALSE(response) << host;
        EXPECT_EQ(response.error().code, ErrorCode::Forbidden) << response.error().message;
        EXPECT_NE(response.error().message.find("loopback"), std::string::npos)
            << response.error().message;
    }
    EXPECT_TRUE(receiver.received().empty());

    // Other private literals are refused before any packet leaves (nothing listens there).
    request.url = "http://169.254.169.254/latest/meta-data/";
    response = client.send(request);
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, ErrorCode::Forbidden);
    EXPECT_NE(response.error().message.find("169.254.169.254 is link-local (169.254.0.0/16)"),
              std::string::npos)
        << response.error().message;
}

TEST(HttpClient, LoopbackIsAllowedWithTheAllowList) {
    Receiver receiver;
    const HttpClient client(loopback_allowed());
    ClientRequest request;
    request.url = "http://localhost:" + std::to_string(receiver.port()) + "/hook";
    request.body = "{}";
    auto response = client.send(request);
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(receiver.received().size(), 1u);
}

TEST(HttpClient, BadRequestsArePermanentErrorsBeforeAnyConnection) {
    Receiver receiver;
    const HttpClient client(loopback_allowed());
    const std::string base = receiver.url("/");
    struct Bad {
        std::string method;
        std::string url;
        Headers headers;
        const char* says;
    };
    const std::vector<Bad> bad = {
        {"POST", "ftp://127.0.0.1/file", {}, "scheme \"ftp\" is not http or https"},
        {"POST", "file:///etc/passwd", {}, "invalid URL"},
        {"POST", "gopher://127.0.0.1:70/", {}, "invalid URL"},
        {"POST", "not a url", {}, "invalid URL"},
        {"POST", "http://", {}, "invalid URL"},
        {"POST", "", {}, "invalid URL"},
        {"POST", "http://exa mple.com/", {}, "invalid URL"},
        {"POST", base + "\r\nX-Injected: 1", {}, "invalid URL"},
        {"PO ST", base, {}, "invalid HTTP method"},
        {"", base, {}, "invalid HTTP method"},
        {"POST", base, {{"X-A", "1\r\nX-Injected: 1"}}, "invalid header \"X-A\""},
        {"POST", base, {{"Bad Name", "1"}}, "invalid header"},
        {"POST", base, {{"Content-Length", "5"}}, "managed by the client"},
        {"POST", base, {{"transfer-encoding", "chunked"}}, "managed by the client"},
        {"POST", base, {{"Host", "evil.example"}}, "managed by the client"},
    };
    for (const Bad& b : bad) {
        SCOPED_TRACE(b.method + " " + b.url);
        ClientRequest request;
        request.method = b.method;
        request.url = b.url;
        request.headers = b.headers;
        auto response = client.send(request);
        ASSERT_FALSE(response);
        EXPECT_EQ(response.error().code, ErrorCode::InvalidArgument);
        EXPECT_FALSE(response.error().retryable());
        EXPECT_NE(response.error().message.find(b.says), std::string::npos)
            << response.error().message;
    }
    EXPECT_TRUE(receiver.received().empty());
}

TEST(HttpClient, ConnectionFailureIsRetryable) {
    // A port nobody listens on: bind one, note it, close it.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    ::close(fd);

    const HttpClient client(loopback_allowed());
    ClientRequest request;
    request.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
    auto response = client.send(request);
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, ErrorCode::Unavailable) << response.error().message;
    EXPECT_TRUE(response.error().retryable());

    request.url = "http://no-such-host.invalid/";
    response = client.send(request);
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, ErrorCode::Unavailable) << response.error().message;
}

TEST(HttpClient, ResponseBodyIsCapped) {
    const std::string big(1024 * 1024, 'z');
    Receiver receiver([&](const Received&, Response& res) { answer(res, 200, {}, big); });
    ClientOptions options = loopback_allowed();
    options.max_response_bytes = 1000;
    const HttpClient client(options);
    ClientRequest request;
    request.url = receiver.url("/big");
    auto response = client.send(request);
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, std::string(1000, 'z'));
    EXPECT_TRUE(response->body_truncated);

    options.max_response_bytes = big.size();
    response = HttpClient(options).send(request);
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->body.size(), big.size());
    EXPECT_FALSE(response->body_truncated);
}

TEST(HttpClient, ManyThreadsShareOneClient) {
    Receiver receiver([](const Received& r, Response& res) { answer(res, 200, {}, r.body); });
    const HttpClient client(loopback_allowed());
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 8; ++i) {
                ClientRequest request;
                request.url = receiver.url("/t");
                request.body = "thread " + std::to_string(t) + " request " + std::to_string(i);
                auto response = client.send(request);
                if (response && response->status == 200 && response->body == request.body) {
                    ++ok;
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(ok.load(), 32);
    EXPECT_EQ(receiver.received().size(), 32u);
}

TEST(HttpClient, RedactUrlDropsSecrets) {
    EXPECT_EQ(redact_url("https://user:pw@example.com:8443/hook?sig=abc#frag"),
              "https://example.com:8443/hook");
    EXPECT_EQ(redact_url("http://example.com"), "http://example.com/");
    EXPECT_EQ(redact_url("::nonsense"), "<invalid URL>");
}

// --- HTTPS -----------------------------------------------------------------------------------

// A self-signed certificate for 127.0.0.1 (EC P-256), made for this test run.
struct SelfSigned {
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    std::filesystem::path pem;

    SelfSigned() {
        key = EVP_EC_gen("P-256");
        cert = X509_new();
        X509_set_version(cert, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
        X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
        X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
        X509_set_pubkey(cert, key);
        X509_NAME* name = X509_get_subject_name(cert);
        const std::string cn = "photoflux test";
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
        X509_set_issuer_name(cert, name);
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
        for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1"},
                                         std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
            X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
            X509_add_ext(cert, ext, -1);
            X509_EXTENSION_free(ext);
        }
        X509_sign(cert, key, EVP_sha256());
        pem = std::filesystem::temp_directory_path() /
              ("pf-client-test-" + std::to_string(::getpid()) + ".pem");
        FILE* f = std::fopen(pem.c_str(), "w");
        PEM_write_X509(f, cert);
        std::fclose(f);
    }
    ~SelfSigned() {
        std::filesystem::remove(pem);
        X509_free(cert);
        EVP_PKEY_free(key);
    }
};

// Answers every TLS connection on 127.0.0.1 with "200 secure" and closes it.
class TlsReceiver {
public:
    explicit TlsReceiver(const SelfSigned& identity) {
        ctx_ = SSL_CTX_new(TLS_server_method());
        SSL_CTX_use_certificate(ctx_, identity.cert);
        SSL_CTX_use_PrivateKey(ctx_, identity.key);
        listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        EXPECT_EQ(::listen(listener_, 8), 0);
        socklen_t len = sizeof addr;
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~TlsReceiver() {
        stop_ = true;
        thread_.join();
        ::close(listener_);
        SSL_CTX_free(ctx_);
    }
    std::uint16_t port() const { return port_; }
    int served() const { return served_.load(); }

private:
    void serve() {
        while (!stop_) {
            pollfd p{listener_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) {
                continue;
            }
            const int fd = ::accept(listener_, nullptr, nullptr);
            if (fd < 0) {
                continue;
            }
            timeval tv{2, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            SSL* ssl = SSL_new(ctx_);
            SSL_set_fd(ssl, fd);
            if (SSL_accept(ssl) == 1) {
                std::string request;
                char buffer[4096];
                while (request.find("\r\n\r\n") == std::string::npos) {
                    const int n = SSL_read(ssl, buffer, sizeof buffer);
                    if (n <= 0) {
                        break;
                    }
                    request.append(buffer, static_cast<std::size_t>(n));
                }
                const std::string reply =
                    "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecure";
                SSL_write(ssl, reply.data(), static_cast<int>(reply.size()));
                SSL_shutdown(ssl);
                ++served_;
            }
            SSL_free(ssl);
            ::close(fd);
        }
    }

    SSL_CTX* ctx_ = nullptr;
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> served_{0};
    std::thread thread_;
};

TEST(HttpClient, HttpsVerifiesTheServerCertificate) {
    const SelfSigned identity;
    TlsReceiver receiver(identity);
    ClientRequest request;
    request.method = "GET";
    request.url = "https://127.0.0.1:" + std::to_string(receiver.port()) + "/";

    // Verification is on by default: a self-signed certificate is refused (retryable).
    auto response = HttpClient(loopback_allowed()).send(request);
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, ErrorCode::Unavailable) << response.error().message;
    EXPECT_EQ(receiver.served(), 0);

    // Trusted through the CA file option.
    ClientOptions options = loopback_allowed();
    options.ca_file = identity.pem.string();
    response = HttpClient(options).send(request);
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "secure");

    // Or with verification off (development only).
    options = loopback_allowed();
    options.verify_tls = false;
    response = HttpClient(options).send(request);
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->body, "secure");
    EXPECT_EQ(receiver.served(), 2);
}

TEST(HttpClient, HttpsToAPlainServerFailsRetryably) {
    Receiver receiver;
    ClientRequest request;
    request.url = "https://127.0.0.1:" + std::to_string(receiver.port()) + "/";
    auto response = HttpClient(loopback_allowed()).send(request);
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, ErrorCode::Unavailable) << response.error().message;
}

}  // namespace
}  // namespace pf::http
