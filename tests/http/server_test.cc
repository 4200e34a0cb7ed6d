// The HTTP server over real loopback sockets. The client side is raw POSIX sockets so every test
// controls (and checks) the exact bytes on the wire: framing, 100-continue, pipelining, timeouts.
#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pf::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

long ms_since(Clock::time_point t) {
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

// Small and fast limits; a test widens only what it exercises.
ServerLimits test_limits() {
    ServerLimits l;
    l.max_header_bytes = 16 * 1024;
    l.max_connections = 64;
    l.header_timeout = 3s;
    l.idle_timeout = 3s;
    l.body_progress_timeout = 3s;
    l.write_timeout = 3s;
    l.shutdown_grace = 3s;
    return l;
}

// The server under test, running on its own thread.
class TestServer {
public:
    TestServer(ServerLimits limits, Handler handler) {
        auto server = Server::listen("127.0.0.1", 0, limits, std::move(handler));
        if (!server) {
            ADD_FAILURE() << server.error().message;
            std::abort();
        }
        server_ = std::move(*server);
        done_ = done_promise_.get_future();
        thread_ = std::thread([this] {
            server_->run();
            done_promise_.set_value();
        });
    }
    ~TestServer() {
        server_->stop();
        thread_.join();
    }
    std::uint16_t port() const { return server_->port(); }
    void stop() { server_->stop(); }
    // Whether run() has returned within `d`.
    bool stopped_within(std::chrono::milliseconds d) {
        return done_.wait_for(d) == std::future_status::ready;
    }

private:
    std::unique_ptr<Server> server_;
    std::promise<void> done_promise_;
    std::future<void> done_;
    std::thread thread_;
};

struct ParsedResponse {
    int status = 0;
    Headers headers; // names lowercased
    std::string body;
    bool complete = false; // the body was delimited properly (length or last chunk)

    std::optional<std::string> header(const std::string& name) const {
        for (const auto& [n, v] : headers) {
            if (n == name) {
                return v;
            }
        }
        return std::nullopt;
    }
};

// A blocking loopback client with a deadline on every read.
class Client {
public:
    explicit Client(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ~Client() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    bool connected() const { return connected_; }

    // Sends everything; false if the peer is gone.
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) {
                return false;
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // Reads whatever arrives into the pending buffer. 0 on EOF/reset, -1 on timeout.
    long fill(std::chrono::milliseconds timeout = 5s) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
            return -1;
        }
        char buf[65536];
        auto n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            return 0;
        }
        pending_.append(buf, static_cast<std::size_t>(n));
        return n;
    }

    // Exactly n bytes (fewer only on EOF or timeout).
    std::string read_exact(std::size_t n, std::chrono::milliseconds timeout = 5s) {
        auto deadline = Clock::now() + timeout;
        while (pending_.size() < n && Clock::now() < deadline) {
            if (fill(std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                           Clock::now())) <= 0) {
                break;
            }
        }
        auto out = pending_.substr(0, n);
        pending_.erase(0, out.size());
        return out;
    }

    std::optional<std::string> read_until(std::string_view delim,
                                          std::chrono::milliseconds timeout = 5s) {
        auto deadline = Clock::now() + timeout;
        for (;;) {
            auto at = pending_.find(delim);
            if (at != std::string::npos) {
                auto out = pending_.substr(0, at + delim.size());
                pending_.erase(0, out.size());
                return out;
            }
            if (Clock::now() >= deadline ||
                fill(std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                           Clock::now())) <= 0) {
                return std::nullopt;
            }
        }
    }

    // One response; a HEAD response (or 1xx/204/304) has no body whatever its headers say.
    std::optional<ParsedResponse> read_response(bool no_body = false) {
        auto head = read_until("\r\n\r\n");
        if (!head) {
            return std::nullopt;
        }
        ParsedResponse r;
        if (head->rfind("HTTP/1.1 ", 0) != 0) {
            return std::nullopt;
        }
        r.status = std::stoi(head->substr(9, 3));
        std::size_t pos = head->find("\r\n") + 2;
        while (pos < head->size() - 2) {
            auto end = head->find("\r\n", pos);
            auto line = head->substr(pos, end - pos);
            auto colon = line.find(':');
            std::string name = line.substr(0, colon);
            for (auto& c : name) {
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
            auto value = line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(' '));
            r.headers.emplace_back(name, value);
            pos = end + 2;
        }
        if (no_body || r.status == 204 || r.status == 304) {
            r.complete = true;
            return r;
        }
        if (auto cl = r.header("content-length")) {
            std::size_t n = std::stoull(*cl);
            r.body = read_exact(n);
            r.complete = r.body.size() == n;
        } else if (r.header("transfer-encoding") == "chunked") {
            for (;;) {
                auto line = read_until("\r\n");
                if (!line) {
                    return r;
                }
                std::size_t size = std::stoull(*line, nullptr, 16);
                if (size == 0) {
                    r.complete = read_until("\r\n").has_value();
                    return r;
                }
                auto data = read_exact(size + 2);
                if (data.size() != size + 2) {
                    return r;
                }
                r.body += data.substr(0, size);
            }
        } else { // close-delimited
            while (fill() > 0) {
            }
            r.body = std::move(pending_);
            pending_.clear();
            r.complete = true;
        }
        return r;
    }

    // True if the server closes the connection within `d` (data that still arrives is dropped).
    bool closed_within(std::chrono::milliseconds d) {
        auto deadline = Clock::now() + d;
        while (Clock::now() < deadline) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            auto n = fill(std::max(left, 1ms));
            if (n == 0) {
                return true;
            }
        }
        return false;
    }

    void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
    const std::string& pending() const { return pending_; }

private:
    int fd_ = -1;
    bool connected_ = false;
    std::string pending_;
};

std::string get(const std::string& target, const std::string& extra = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

// Answers "<method> <path>" (and the body length when there is one).
void echo_handler(const Request& req, RequestBody& body, Response& res) {
    std::string text = req.method + " " + std::string(req.path());
    std::vector<char> buf(64 * 1024);
    std::uint64_t total = 0;
    for (;;) {
        auto n = body.read(buf);
        if (!n || *n == 0) {
            break;
        }
        total += *n;
    }
    if (total > 0) {
        text += ' ';
        text += std::to_string(total);
    }
    ASSERT_TRUE(res.start(200, {{"Content-Type", "text/plain"}}, text.size()));
    ASSERT_TRUE(res.write(text));
}

// The test byte stream: byte i is table[i % size], the size a prime so that no chunk or buffer
// size lines up with it and a lost, repeated or reordered piece shows. Filled with memcpy so the
// 64 MiB tests stay fast under the sanitizers.
const std::vector<char>& pattern_table() {
    static const std::vector<char> table = [] {
        std::vector<char> t(1048573);
        std::uint64_t x = 88172645463325252ull;
        for (auto& c : t) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c = static_cast<char>(x);
        }
        return t;
    }();
    return table;
}

void fill_pattern(std::span<char> out, std::uint64_t offset) {
    const auto& table = pattern_table();
    std::size_t done = 0;
    while (done < out.size()) {
        auto at = static_cast<std::size_t>((offset + done) % table.size());
        auto n = std::min(out.size() - done, table.size() - at);
        std::memcpy(out.data() + done, table.data() + at, n);
        done += n;
    }
}

long resident_kib() {
    std::ifstream statm("/proc/self/statm");
    long size = 0, resident = 0;
    statm >> size >> resident;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// Reads the body in 64 KiB slices, checks every byte against the pattern and records how far
// resident memory grew meanwhile (the body must stream through, never pile up).
struct VerifyingHandler {
    std::atomic<std::uint64_t> bytes{0};
    std::atomic<std::uint64_t> mismatched_slices{0};
    std::atomic<long> rss_growth_kib{0};

    Handler handler() {
        return [this](const Request&, RequestBody& body, Response& res) {
            std::vector<char> slice(64 * 1024);
            std::vector<char> expected(slice.size());
            long base = resident_kib();
            long peak = base;
            std::uint64_t offset = 0;
            for (int i = 0;; ++i) {
                auto n = body.read(slice);
                ASSERT_TRUE(n) << n.error().message;
                if (*n == 0) {
                    break;
                }
                fill_pattern(std::span<char>(expected.data(), *n), offset);
                if (std::memcmp(slice.data(), expected.data(), *n) != 0) {
                    ++mismatched_slices;
                }
                offset += *n;
                if (i % 64 == 0) {
                    peak = std::max(peak, resident_kib());
                }
            }
            EXPECT_TRUE(body.finished());
            bytes = body.bytes_read();
            EXPECT_EQ(offset, body.bytes_read());
            rss_growth_kib = peak - base;
            ASSERT_TRUE(res.start(200, {}, 0));
        };
    }
};

constexpr std::uint64_t k64MiB = 64ull * 1024 * 1024;

TEST(HttpServer, ListensOnAnEphemeralPortAndRefusesATakenOne) {
    TestServer server(test_limits(), echo_handler);
    EXPECT_NE(server.port(), 0);
    auto second = Server::listen("127.0.0.1", server.port(), test_limits(), echo_handler);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, ErrorCode::Unavailable);
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
    std::mutex mutex;
    std::vector<std::string> remotes;
    TestServer server(test_limits(), [&](const Request& req, RequestBody& body, Response& res) {
        {
            std::lock_guard lock(mutex);
            remotes.push_back(req.remote_address);
        }
        echo_handler(req, body, res);
    });
    Client c(server.port());
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(c.send(get("/item/" + std::to_string(i))));
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "GET /item/" + std::to_string(i));
        EXPECT_FALSE(r->header("connection"));
        EXPECT_TRUE(r->header("date"));
    }
    std::lock_guard lock(mutex);
    ASSERT_EQ(remotes.size(), 5u);
    EXPECT_EQ(remotes[0].rfind("127.0.0.1:", 0), 0u);
    for (const auto& r : remotes) {
        EXPECT_EQ(r, remotes[0]); // one connection
    }
}

TEST(HttpServer, RequestCarriesMethodTargetHeadersAndLength) {
    std::promise<Request> seen;
    TestServer server(test_limits(), [&](const Request& req, RequestBody& body, Response& res) {
        seen.set_value(req);
        echo_handler(req, body, res);
    });
    Client c(server.port());
    ASSERT_TRUE(c.send("PUT /bucket/a%20b?x=1&y HTTP/1.1\r\nHost: test\r\nX-Amz-Meta-A: one\r\n"
                       "x-amz-meta-a: two\r\nContent-Length: 3\r\n\r\nabc"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "PUT /bucket/a%20b 3");
    auto req = seen.get_future().get();
    EXPECT_EQ(req.method, "PUT");
    EXPECT_EQ(req.target, "/bucket/a%20b?x=1&y");
    EXPECT_EQ(req.path(), "/bucket/a%20b");
    EXPECT_EQ(req.query(), "x=1&y");
    ASSERT_EQ(req.headers.size(), 4u);
    EXPECT_EQ(req.headers[1], (std::pair<std::string, std::string>{"x-amz-meta-a", "one"}));
    EXPECT_EQ(req.headers[2], (std::pair<std::string, std::string>{"x-amz-meta-a", "two"}));
    EXPECT_EQ(req.header("x-amz-meta-a"), "one");
    EXPECT_EQ(req.header("host"), "test");
    EXPECT_FALSE(req.header("missing"));
    EXPECT_EQ(req.content_length, 3u);
    EXPECT_FALSE(req.chunked);
    EXPECT_FALSE(req.expects_continue);
}

TEST(HttpServer, StreamsALargeContentLengthBody) {
    VerifyingHandler verifying;
    TestServer server(test_limits(), verifying.handler());
    Client c(server.port());
    ASSERT_TRUE(c.send("PUT /big HTTP/1.1\r\nHost: test\r\nContent-Length: " +
                       std::to_string(k64MiB) + "\r\n\r\n"));
    std::vector<char> block(256 * 1024);
    for (std::uint64_t off = 0; off < k64MiB; off += block.size()) {
        fill_pattern(block, off);
        ASSERT_TRUE(c.send(std::string_view(block.data(), block.size())));
    }
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(verifying.bytes.load(), k64MiB);
    EXPECT_EQ(verifying.mismatched_slices.load(), 0u);
    EXPECT_LT(verifying.rss_growth_kib.load(), 16 * 1024) << "the body must stream, not buffer";
    // The connection is still good.
    ASSERT_TRUE(c.send(get("/after")));
    EXPECT_EQ(c.read_response()->status, 200);
}

TEST(HttpServer, StreamsALargeChunkedBody) {
    VerifyingHandler verifying;
    std::promise<Request> seen;
    auto inner = verifying.handler();
    bool first = true;
    TestServer server(test_limits(), [&](const Request& req, RequestBody& body, Response& res) {
        if (first) {
            first = false;
            seen.set_value(req);
        }
        inner(req, body, res);
    });
    Client c(server.port());
    ASSERT_TRUE(
        c.send("PUT /chunked HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"));
    // Odd chunk sizes (from 1 byte to over a buffer's worth), one with a chunk extension.
    const std::size_t sizes[] = {1, 7, 4096, 65536, 100003, 262144, 300001};
    std::uint64_t off = 0;
    std::vector<char> block;
    for (int i = 0; off < k64MiB; ++i) {
        auto size = static_cast<std::size_t>(
            std::min<std::uint64_t>(sizes[static_cast<std::size_t>(i) % 7], k64MiB - off));
        block.resize(size);
        fill_pattern(block, off);
        char line[32];
        std::snprintf(line, sizeof line, i == 3 ? "%zx;ext=1\r\n" : "%zx\r\n", size);
        ASSERT_TRUE(c.send(line));
        ASSERT_TRUE(c.send(std::string_view(block.data(), block.size())));
        ASSERT_TRUE(c.send("\r\n"));
        off += size;
    }
    ASSERT_TRUE(c.send("0\r\nX-Trailer: yes\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(verifying.bytes.load(), k64MiB);
    EXPECT_EQ(verifying.mismatched_slices.load(), 0u);
    EXPECT_LT(verifying.rss_growth_kib.load(), 16 * 1024);
    auto req = seen.get_future().get();
    EXPECT_TRUE(req.chunked);
    EXPECT_FALSE(req.content_length);
    ASSERT_TRUE(c.send(get("/after")));
    EXPECT_EQ(c.read_response()->status, 200);
}

TEST(HttpServer, MalformedChunkedBodyIsCorruptInput) {
    std::promise<ErrorCode> error;
    TestServer server(test_limits(), [&](const Request&, RequestBody& body, Response& res) {
        char buf[1024];
        Result<std::size_t> n = std::size_t{0};
        do {
            n = body.read(buf);
        } while (n && *n > 0);
        error.set_value(n ? ErrorCode::Internal : n.error().code);
        (void)res.start(400, {}, 0);
    });
    Client c(server.port());
    ASSERT_TRUE(c.send("PUT /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\nzz\r\n"));
    EXPECT_EQ(error.get_future().get(), ErrorCode::CorruptInput);
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.closed_within(2s));
}

TEST(HttpServer, StreamsAChunkedResponseWithExactFraming) {
    TestServer server(test_limits(), [](const Request& req, RequestBody&, Response& res) {
        ASSERT_TRUE(res.start(200, {{"Content-Type", "text/plain"}}, std::nullopt));
        if (req.path() == "/small") {
            ASSERT_TRUE(res.write(std::string_view("hello ")));
            ASSERT_TRUE(res.write(std::string_view(""))); // must not end the body
            ASSERT_TRUE(res.write(std::string_view("world")));
            ASSERT_TRUE(res.finish());
        } else {
            std::vector<char> block(256 * 1024);
            for (std::uint64_t off = 0; off < 8ull * 1024 * 1024; off += block.size()) {
                fill_pattern(block, off);
                ASSERT_TRUE(res.write(block));
            }
            // finish() left to the server
        }
    });
    Client c(server.port());
    ASSERT_TRUE(c.send(get("/small")));
    auto head = c.read_until("\r\n\r\n");
    ASSERT_TRUE(head);
    EXPECT_NE(head->find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos);
    EXPECT_EQ(head->find("Content-Length"), std::string::npos);
    const std::string framed = "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n";
    EXPECT_EQ(c.read_exact(framed.size()), framed);

    ASSERT_TRUE(c.send(get("/large")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->complete);
    std::vector<char> expected(8 * 1024 * 1024);
    fill_pattern(expected, 0);
    EXPECT_TRUE(r->body == std::string_view(expected.data(), expected.size()));
    ASSERT_TRUE(c.send(get("/small")));
    EXPECT_EQ(c.read_response()->body, "hello world");
}

TEST(HttpServer, HeadCarriesContentLengthButNoBody) {
    TestServer server(test_limits(), [](const Request& req, RequestBody&, Response& res) {
        ASSERT_TRUE(res.start(200, {{"ETag", "\"abc\""}}, 1234));
        if (req.method == "GET") {
            ASSERT_TRUE(res.write(std::string(1234, 'x')));
        } else {
            EXPECT_TRUE(res.write(std::string(1234, 'x'))); // dropped: HEAD has no body
        }
    });
    Client c(server.port());
    ASSERT_TRUE(c.send("HEAD /obj HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = c.read_response(/*no_body=*/true);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("content-length"), "1234");
    EXPECT_EQ(r->header("etag"), "\"abc\"");
    // Nothing follows the head: the next response starts right away.
    ASSERT_TRUE(c.send(get("/obj")));
    auto g = c.read_response();
    ASSERT_TRUE(g);
    EXPECT_EQ(g->status, 200);
    EXPECT_EQ(g->body.size(), 1234u);
}

TEST(HttpServer, NoContentHasNeitherLengthNorChunking) {
    TestServer server(test_limits(), [](const Request&, RequestBody&, Response& res) {
        ASSERT_TRUE(res.start(204, {}, 0));
    });
    Client c(server.port());
    ASSERT_TRUE(c.send("DELETE /obj HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto head = c.read_until("\r\n\r\n");
    ASSERT_TRUE(head);
    EXPECT_EQ(head->rfind("HTTP/1.1 204 No Content\r\n", 0), 0u);
    EXPECT_EQ(head->find("Content-Length"), std::string::npos);
    EXPECT_EQ(head->find("Transfer-Encoding"), std::string::npos);
    ASSERT_TRUE(c.send("DELETE /obj HTTP/1.1\r\nHost: t\r\n\r\n"));
    EXPECT_EQ(c.read_response()->status, 204);
}

TEST(HttpServer, EmptyOkHasContentLengthZero) {
    TestServer server(test_limits(), [](const Request&, RequestBody&, Response& res) {
        ASSERT_TRUE(res.start(200, {{"ETag", "\"e\""}}, 0));
    });
    Client c(server.port());
    ASSERT_TRUE(c.send("PUT /obj HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("content-length"), "0");
    EXPECT_EQ(r->body, "");
}

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

TEST(HttpServer, ExpectContinueIsAnsweredOnceWhenTheHandlerReads) {
    TestServer server(test_limits(), [](const Request& req, RequestBody& body, Response& res) {
        EXPECT_TRUE(req.expects_continue);
        char slice[1000];
        std::size_t total = 0;
        for (;;) { // many small reads: still one 100 Continue
            auto n = body.read(slice);
            ASSERT_TRUE(n);
            if (*n == 0) {
                break;
            }
            total += *n;
        }
        auto text = std::to_string(total);
        ASSERT_TRUE(res.start(200, {}, text.size()));
        ASSERT_TRUE(res.write(text));
    });
    Client c(server.port());
    for (int round = 0; round < 2; ++round) { // once per request, not once per connection
        ASSERT_TRUE(c.send("PUT /obj HTTP/1.1\r\nHost: t\r\nContent-Length: 10000\r\n"
                           "Expect: 100-continue\r\n\r\n"));
        EXPECT_EQ(c.read_exact(kContinue.size()), kContinue);
        ASSERT_TRUE(c.send(std::string(10000, 'b')));
        auto head = c.read_exact(12);
        EXPECT_EQ(head, "HTTP/1.1 200"); // the final response follows, no second 100
        auto rest = c.read_until("\r\n\r\n");
        ASSERT_TRUE(rest);
        EXPECT_EQ(c.read_exact(5), "10000");
    }
}

TEST(HttpServer, ExpectContinueIsNotSentWhenTheHandlerRejectsFirst) {
    TestServer server(test_limits(), [](const Request&, RequestBody&, Response& res) {
        ASSERT_TRUE(res.start(403, {{"Content-Type", "application/xml"}}, 7));
        ASSERT_TRUE(res.write(std::string_view("<Error>")));
    });
    Client c(server.port());
    ASSERT_TRUE(c.send("PUT /obj HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n"
                       "Expect: 100-continue\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403); // the first bytes: no 100 before it
    EXPECT_EQ(r->body, "<Error>");
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.closed_within(2s));
}

TEST(HttpServer, SmallUnreadBodyIsDrainedAndTheConnectionKept) {
    TestServer server(test_limits(), [](const Request&, RequestBody&, Response& res) {
        ASSERT_TRUE(res.start(200, {}, 2));
        ASSERT_TRUE(res.write(std::string_view("ok")));
    });
    Client c(server.port());
    ASSERT_TRUE(c.send("PUT /a HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n" +
                       std::string(5000, 'z')));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->header("connection"));
    ASSERT_TRUE(c.send(get("/b")));
    EXPECT_EQ(c.read_response()->body, "ok");
}

TEST(HttpServer, LargeUnreadBodyClosesTheConnection) {
    TestServer server(test_limits(), [](const Request&, RequestBody&, Response& res) {
        ASSERT_TRUE(res.start(200, {}, 2));
        ASSERT_TRUE(res.write(std::string_view("ok")));
    });
    Client c(server.port());
    ASSERT_TRUE(c.send("PUT /a HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n" +
                       std::string(100000, 'z')));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "ok");
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.closed_within(3s));
}

TEST(HttpServer, OversizedHeaderGets431) {
    auto limits = test_limits();
    limits.max_header_bytes = 4096;
    TestServer server(limits, echo_handler);
    {
        Client ok(server.port());
        ASSERT_TRUE(ok.send(get("/fits", "X-Pad: " + std::string(3000, 'a') + "\r\n")));
        EXPECT_EQ(ok.read_response()->status, 200);
    }
    Client c(server.port());
    ASSERT_TRUE(c.send(get("/big", "X-Pad: " + std::string(8000, 'a') + "\r\n")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.closed_within(2s));
}

TEST(HttpServer, ConnectionLimitAnswers503) {
    auto limits = test_limits();
    limits.max_connections = 2;
    TestServer server(limits, echo_handler);
    auto a = std::make_unique<Client>(server.port());
    Client b(server.port());
    for (Client* c : {a.get(), &b}) { // both accepted and counted
        ASSERT_TRUE(c->send(get("/x")));
        ASSERT_EQ(c->read_response()->status, 200);
    }
    Client over(server.port());
    ASSERT_TRUE(over.send(get("/x")));
    auto r = over.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_FALSE(r->body.empty());
    EXPECT_TRUE(over.closed_within(2s));

    a.reset(); // a slot frees up once its thread has seen the close
    auto deadline = Clock::now() + 3s;
    int status = 0;
    while (Clock::now() < deadline) {
        Client again(server.port());
        ASSERT_TRUE(again.send(get("/x")));
        auto rr = again.read_response();
        status = rr ? rr->status : 0;
        if (status == 200) {
            break;
        }
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(status, 200);
}

// Virtual size: an ended but never joined thread still holds its stack mapping (8 MiB), so
// leaked thread objects show here even though the kernel task is gone.
long virtual_kib() {
    std::ifstream statm("/proc/self/statm");
    long size = 0;
    statm >> size;
    return size * (sysconf(_SC_PAGESIZE) / 1024);
}

TEST(HttpServer, FinishedConnectionThreadsAreReaped) {
    // glibc gives new threads new malloc arenas (64 MiB of address space each) when others are
    // busy; cap them so only thread stacks can move the virtual size.
    mallopt(M_ARENA_MAX, 1);
    TestServer server(test_limits(), echo_handler);
    auto one_connection = [&] {
        Client c(server.port());
        ASSERT_TRUE(c.send(get("/x", "Connection: close\r\n")));
        ASSERT_TRUE(c.read_response());
        EXPECT_TRUE(c.closed_within(2s));
    };
    for (int i = 0; i < 10; ++i) {
        one_connection();
    }
    std::this_thread::sleep_for(50ms);
    auto before = virtual_kib();
    for (int i = 0; i < 200; ++i) { // unreaped, these would hold 1.6 GB of stacks
        one_connection();
    }
    auto deadline = Clock::now() + 2s;
    while (virtual_kib() - before > 256 * 1024 && Clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_LT(virtual_kib() - before, 256 * 1024);
}

TEST(HttpServer, SlowlorisIsDroppedWhileOthersAreServed) {
    auto limits = test_limits();
    limits.header_timeout = 500ms;
    TestServer server(limits, echo_handler);

    std::atomic<long> dropped_after_ms{-1};
    std::thread slow([&] {
        Client c(server.port());
        auto start = Clock::now();
        std::string head = "GET /slow HTTP/1.1\r\nHost: t\r\nX-Pad: " + std::string(100, 'p');
        for (char ch : head) { // one byte every 100 ms: 14 s for the whole head
            if (!c.send(std::string_view(&ch, 1)) || c.closed_within(100ms)) {
                dropped_after_ms = ms_since(start);
                return;
            }
            if (ms_since(start) > 5000) {
                return;
            }
        }
    });
    std::this_thread::sleep_for(50ms);
    Client fast(server.port());
    for (int i = 0; i < 10; ++i) {
        auto t = Clock::now();
        ASSERT_TRUE(fast.send(get("/fast")));
        auto r = fast.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_LT(ms_since(t), 200);
        std::this_thread::sleep_for(50ms);
    }
    slow.join();
    EXPECT_GE(dropped_after_ms.load(), 400);
    EXPECT_LE(dropped_after_ms.load(), 1500);
}

TEST(HttpServer, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
    auto limits = test_limits();
    limits.idle_timeout = 300ms;
    TestServer server(limits, echo_handler);
    Client c(server.port());
    ASSERT_TRUE(c.send(get("/x")));
    ASSERT_EQ(c.read_response()->status, 200);
    auto t = Clock::now();
    EXPECT_TRUE(c.closed_within(2s));
    EXPECT_GE(ms_since(t), 250);
}

TEST(HttpServer, SilentNewConnectionIsClosedAfterHeaderTimeout) {
    auto limits = test_limits();
    limits.header_timeout = 300ms;
    TestServer server(limits, echo_handler);
    Client c(server.port());
    auto t = Clock::now();
    EXPECT_TRUE(c.closed_within(2s));
    EXPECT_GE(ms_since(t), 250);
}

TEST(HttpServer, StalledBodyTimesOut) {
    auto limits = test_limits();
    limits.body_progress_timeout = 300ms;
    std::promise<std::pair<ErrorCode, long>> outcome;
    TestServer server(limits, [&](const Request&, RequestBody& body, Response& res) {
        char buf[4096];
        auto t = Clock::now();
        Result<std::size_t> n = std::size_t{0};
        do {
            n = body.read(buf);
        } while (n && *n > 0);
        outcome.set_value({n ? ErrorCode::Internal : n.error().code, ms_since(t)});
        EXPECT_FALSE(body.read(buf)); // an error is final
        (void)res.start(400, {}, 0);
    });
    Client c(server.port());
    ASSERT_TRUE(c.send("PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n0123456789"));
    auto [code, elapsed] = outcome.get_future().get();
    EXPECT_EQ(code, ErrorCode::Timeout);
    EXPECT_GE(elapsed, 250);
    EXPECT_TRUE(c.closed_within(3s));
}

TEST(HttpServer, StalledReaderMakesTheWriteTimeOut) {
    auto limits = test_limits();
    limits.write_timeout = 300ms;
    std::promise<ErrorCode> outcome;
    TestServer server(limits, [&](const Request&, RequestBody&, Response& res) {
        const std::uint64_t total = 1ull << 30;
        ASSERT_TRUE(res.start(200, {}, total));
        std::vector<char> block(256 * 1024, 'x');
        for (std::uint64_t sent = 0; sent < total; sent += block.size()) {
            auto w = res.write(block);
            if (!w) {
                outcome.set_value(w.error().code);
                return;
            }
        }
        outcome.set_value(ErrorCode::Internal);
    });
    Client c(server.port());
    ASSERT_TRUE(c.send(get("/big"))); // and never read
    auto f = outcome.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(f.get(), ErrorCode::Timeout);
}

TEST(HttpServer, StopFinishesInFlightRequestsAndClosesIdleConnections) {
    std::promise<void> in_handler;
    TestServer server(test_limits(), [&](const Request& req, RequestBody& body, Response& res) {
        if (req.path() == "/slow") {
            in_handler.set_value();
            std::this_thread::sleep_for(400ms);
        }
        echo_handler(req, body, res);
    });
    Client idle(server.port());
    ASSERT_TRUE(idle.send(get("/x")));
    ASSERT_EQ(idle.read_response()->status, 200);

    Client busy(server.port());
    ASSERT_TRUE(busy.send(get("/slow")));
    in_handler.get_future().wait();
    auto t = Clock::now();
    server.stop();
    EXPECT_TRUE(idle.closed_within(1s));
    EXPECT_LT(ms_since(t), 300) << "idle connections close at once";

    auto r = busy.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "GET /slow");
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(busy.closed_within(1s));
    EXPECT_TRUE(server.stopped_within(2s));
    Client late(server.port());
    EXPECT_FALSE(late.connected() && late.send(get("/x")) && late.read_response());
}

TEST(HttpServer, StopCutsRequestsThatOutliveTheGrace) {
    auto limits = test_limits();
    limits.shutdown_grace = 300ms;
    limits.body_progress_timeout = 10s;
    std::promise<void> in_handler;
    std::promise<ErrorCode> outcome;
    TestServer server(limits, [&](const Request&, RequestBody& body, Response&) {
        in_handler.set_value();
        char buf[1024];
        auto n = body.read(buf); // the client never sends the body
        outcome.set_value(n ? ErrorCode::Internal : n.error().code);
    });
    Client c(server.port());
    ASSERT_TRUE(c.send("PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n"));
    in_handler.get_future().wait();
    auto t = Clock::now();
    server.stop();
    EXPECT_TRUE(server.stopped_within(3s));
    EXPECT_GE(ms_since(t), 250);
    EXPECT_LT(ms_since(t), 2000);
    EXPECT_EQ(outcome.get_future().get(), ErrorCode::Unavailable);
}

TEST(HttpServer, MalformedRequestsGet400AndAClose) {
    TestServer server(test_limits(), echo_handler);
    for (const char* bad :
         {"GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nNo colon here\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
          "PUT / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"}) {
        Client c(server.port());
        ASSERT_TRUE(c.send(bad));
        auto r = c.read_response();
        ASSERT_TRUE(r) << bad;
        EXPECT_EQ(r->status, 400) << bad;
        EXPECT_EQ(r->header("connection"), "close");
        EXPECT_TRUE(c.closed_within(2s)) << bad;
    }
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
    TestServer server(test_limits(), echo_handler);
    Client c(server.port());
    ASSERT_TRUE(c.send(get("/a") + "PUT /b HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello" +
                       "PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\nabc\r\n0\r\n\r\n" +
                       get("/d")));
    for (const char* expected : {"GET /a", "PUT /b 5", "PUT /c 3", "GET /d"}) {
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, expected);
    }
}

TEST(HttpServer, HandlerThatDoesNotRespondGets500) {
    TestServer server(test_limits(), [](const Request& req, RequestBody&, Response& res) {
        if (req.path() == "/throw") {
            throw std::runtime_error("boom");
        }
        if (req.path() == "/throw-late") {
            ASSERT_TRUE(res.start(200, {}, std::nullopt));
            ASSERT_TRUE(res.write(std::string_view("partial")));
            throw std::runtime_error("boom");
        }
    });
    Client c(server.port());
    ASSERT_TRUE(c.send(get("/silent")));
    EXPECT_EQ(c.read_response()->status, 500);
    ASSERT_TRUE(c.send(get("/throw")));
    EXPECT_EQ(c.read_response()->status, 500);
    ASSERT_TRUE(c.send(get("/throw-late")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_FALSE(r->complete) << "a body cut by an exception must not look complete";
}

TEST(HttpServer, ResponseMisuseIsReported) {
    std::promise<void> checked;
    TestServer server(test_limits(), [&](const Request&, RequestBody&, Response& res) {
        EXPECT_FALSE(res.write(std::string_view("x"))); // before start
        auto injected = res.start(200, {{"X-Bad", "a\r\nSet-Cookie: evil"}}, 0);
        EXPECT_FALSE(injected);
        EXPECT_FALSE(res.started());
        ASSERT_TRUE(res.start(200, {{"Content-Length", "99"}}, 3)); // server owns framing
        EXPECT_FALSE(res.start(200, {}, 3));
        EXPECT_FALSE(res.write(std::string_view("toolong")));
        checked.set_value();
    });
    Client c(server.port());
    ASSERT_TRUE(c.send(get("/x")));
    checked.get_future().wait();
    // The held head never went out (the only write was refused); the connection is closed.
    EXPECT_TRUE(c.closed_within(2s));
    EXPECT_EQ(c.pending(), "");
}

TEST(HttpServer, ShortBodyClosesTheConnection) {
    TestServer server(test_limits(), [&](const Request&, RequestBody&, Response& res) {
        ASSERT_TRUE(res.start(200, {{"Content-Length", "99"}}, 10)); // server owns framing
        ASSERT_TRUE(res.write(std::string_view("abc")));
        EXPECT_FALSE(res.finish());
    });
    Client c(server.port());
    ASSERT_TRUE(c.send(get("/x")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->complete);
    EXPECT_EQ(r->header("content-length"), "10");
    EXPECT_TRUE(c.closed_within(2s)) << "a short body must close the connection";
}

TEST(HttpServer, Http10GetsCloseDelimitedResponses) {
    TestServer server(test_limits(), [](const Request&, RequestBody&, Response& res) {
        ASSERT_TRUE(res.start(200, {}, std::nullopt));
        ASSERT_TRUE(res.write(std::string_view("old")));
    });
    Client c(server.port());
    ASSERT_TRUE(c.send("GET / HTTP/1.0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_FALSE(r->header("transfer-encoding"));
    EXPECT_EQ(r->body, "old");
}

TEST(HttpServer, ConnectionCloseIsHonoured) {
    TestServer server(test_limits(), echo_handler);
    Client c(server.port());
    ASSERT_TRUE(c.send(get("/x", "Connection: close\r\n")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.closed_within(2s));
}

TEST(HttpServer, ThroughputOfTinyGetsOnOneConnection) {
    TestServer server(test_limits(), [](const Request&, RequestBody&, Response& res) {
        (void)res.start(200, {{"Content-Type", "text/plain"}}, 2);
        (void)res.write(std::string_view("ok"));
    });
    Client c(server.port());
    const std::string request = get("/bucket/key");
    constexpr int kRequests = 3000;
    auto t = Clock::now();
    for (int i = 0; i < kRequests; ++i) {
        ASSERT_TRUE(c.send(request));
        auto r = c.read_response();
        ASSERT_TRUE(r && r->status == 200);
    }
    double seconds = std::max(1e-3, ms_since(t) / 1000.0);
    double rate = kRequests / seconds;
    std::printf("[ throughput ] %.0f requests/s (tiny GET, one keep-alive connection)\n", rate);
    EXPECT_GT(rate, 500); // a floor that holds under the sanitizers too
}

} // namespace
} // namespace pf::http
