// The HTTP server with TLS termination, over real loopback sockets. A certificate for 127.0.0.1 is
// made at test time. Clients: pf::http::HttpClient (libcurl) for whole requests, and a raw OpenSSL
// client where a test needs the exact bytes on the wire (keep-alive, 100-continue, chunking,
// close_notify) or a misbehaving handshake.
#include "crypto/rsa.h"
#include "http/client.h"
#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
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
#include <csignal>
#include <cstdio>
#include <filesystem>
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
namespace fs = std::filesystem;

long ms_since(Clock::time_point t) {
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

// A private directory with a self-signed EC P-256 certificate for IP 127.0.0.1 and DNS localhost
// (cert.pem, key.pem), made for this test run.
class Identity {
public:
    Identity() {
        dir_ = fs::temp_directory_path() /
               ("pf-tls-test-" + std::to_string(::getpid()) + "-" + std::to_string(next_++));
        fs::create_directories(dir_);
        EVP_PKEY* key = EVP_EC_gen("P-256");
        X509* cert = X509_new();
        X509_set_version(cert, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
        X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
        X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
        X509_set_pubkey(cert, key);
        X509_NAME* name = X509_get_subject_name(cert);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("photoflux tls test"), -1,
                                   -1, 0);
        X509_set_issuer_name(cert, name);
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
        X509_EXTENSION* ext =
            X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
        X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
        X509_sign(cert, key, EVP_sha256());

        BIO* bio = BIO_new(BIO_s_mem());
        PEM_write_bio_X509(bio, cert);
        cert_pem_ = drain(bio);
        PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
        key_pem_ = drain(bio);
        BIO_free(bio);
        X509_free(cert);
        EVP_PKEY_free(key);
        write_text(cert_file(), cert_pem_);
        write_text(key_file(), key_pem_);
    }
    ~Identity() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    Identity(const Identity&) = delete;
    Identity& operator=(const Identity&) = delete;

    fs::path dir() const { return dir_; }
    fs::path cert_file() const { return dir_ / "cert.pem"; }
    fs::path key_file() const { return dir_ / "key.pem"; }
    const std::string& cert_pem() const { return cert_pem_; }
    const std::string& key_pem() const { return key_pem_; }
    ServerTls tls() const { return {cert_file().string(), key_file().string()}; }

private:
    static std::string drain(BIO* bio) {
        char* data = nullptr;
        long n = BIO_get_mem_data(bio, &data);
        std::string out(data, static_cast<std::size_t>(n));
        (void)BIO_reset(bio);
        return out;
    }

    static inline std::atomic<int> next_{0};
    fs::path dir_;
    std::string cert_pem_;
    std::string key_pem_;
};

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

// The server under test with TLS, running on its own thread.
class TlsServer {
public:
    TlsServer(const Identity& identity, ServerLimits limits, Handler handler) {
        auto server = Server::listen("127.0.0.1", 0, limits, std::move(handler), identity.tls());
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
    ~TlsServer() {
        server_->stop();
        thread_.join();
    }
    std::uint16_t port() const { return server_->port(); }
    std::string url(const std::string& path) const {
        return "https://127.0.0.1:" + std::to_string(port()) + path;
    }
    void stop() { server_->stop(); }
    bool stopped_within(std::chrono::milliseconds d) {
        return done_.wait_for(d) == std::future_status::ready;
    }

private:
    std::unique_ptr<Server> server_;
    std::promise<void> done_promise_;
    std::future<void> done_;
    std::thread thread_;
};

ClientOptions trusting(const Identity& identity) {
    ClientOptions options;
    auto policy = AddressPolicy::with_allowed({"127.0.0.0/8"});
    EXPECT_TRUE(policy);
    options.address_policy = *policy;
    options.timeout = 10s;
    options.connect_timeout = 5s;
    options.max_response_bytes = 16 << 20;
    options.ca_file = identity.cert_file().string();
    return options;
}

// Reads the whole request body in small pieces (the handler side of a streamed upload).
std::string read_all(RequestBody& body, std::size_t piece = 7 * 1024) {
    std::string out;
    std::vector<char> buffer(piece);
    for (;;) {
        auto n = body.read(buffer);
        if (!n || *n == 0) {
            break;
        }
        out.append(buffer.data(), *n);
    }
    return out;
}

void answer(Response& res, int status, const std::string& text) {
    if (res.start(status, {{"Content-Type", "text/plain"}}, text.size())) {
        (void)res.write(text);
    }
}

std::string pattern(std::size_t size) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        s[i] = static_cast<char>('a' + (i * 7 + i / 1000) % 26);
    }
    return s;
}

int tcp_connect(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

// What a read from a closed or closing connection saw.
enum class End { CloseNotify, Eof, Timeout, Error };

// Waits for the peer to end a plain TCP connection: true on EOF/reset, false on timeout.
bool tcp_closed_within(int fd, std::chrono::milliseconds timeout, std::string* received = nullptr) {
    auto deadline = Clock::now() + timeout;
    char buf[4096];
    while (Clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        int left = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
        if (::poll(&p, 1, std::max(left, 1)) <= 0) {
            continue;
        }
        auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            return true;
        }
        if (received) {
            received->append(buf, static_cast<std::size_t>(n));
        }
    }
    return false;
}

struct Parsed {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    std::optional<std::string> header(const std::string& name) const {
        for (const auto& [n, v] : headers) {
            if (n == name) {
                return v;
            }
        }
        return std::nullopt;
    }
};

// A blocking OpenSSL client over one TCP connection; every read has a deadline (SO_RCVTIMEO).
class RawTlsClient {
public:
    struct Options {
        std::string ca_file;  // empty: no verification
        int max_version = 0;  // e.g. TLS1_1_VERSION; 0 = library default
        std::string tls12_ciphers;
        bool handshake = true;
    };

    RawTlsClient(std::uint16_t port, Options options) {
        // OpenSSL writes with write(2) on the fd it is given: a write after the server has
        // closed must come back as EPIPE for the test to see, not kill the test binary (CI once
        // lost this whole suite to a SIGPIPE while the server was stopping).
        std::signal(SIGPIPE, SIG_IGN);
        ctx_ = SSL_CTX_new(TLS_client_method());
        if (!options.ca_file.empty()) {
            SSL_CTX_load_verify_locations(ctx_, options.ca_file.c_str(), nullptr);
            SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
        }
        if (options.max_version != 0) {
            SSL_CTX_set_min_proto_version(ctx_, 0);
            SSL_CTX_set_max_proto_version(ctx_, options.max_version);
            // OpenSSL 3 will not offer TLS 1.0/1.1 at its default security level.
            SSL_CTX_set_cipher_list(ctx_, "DEFAULT:@SECLEVEL=0");
        }
        if (!options.tls12_ciphers.empty()) {
            SSL_CTX_set_max_proto_version(ctx_, TLS1_2_VERSION);
            SSL_CTX_set_cipher_list(ctx_, options.tls12_ciphers.c_str());
        }
        fd_ = tcp_connect(port);
        timeval tv{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssl_ = SSL_new(ctx_);
        SSL_set_fd(ssl_, fd_);
        if (options.handshake) {
            handshake();
        }
    }
    ~RawTlsClient() {
        SSL_free(ssl_);
        if (fd_ >= 0) {
            ::close(fd_);
        }
        SSL_CTX_free(ctx_);
    }
    RawTlsClient(const RawTlsClient&) = delete;
    RawTlsClient& operator=(const RawTlsClient&) = delete;

    bool handshake() {
        ERR_clear_error();
        connected_ = SSL_connect(ssl_) == 1;
        if (!connected_) {
            last_error_ = ERR_peek_last_error();
        }
        return connected_;
    }
    bool connected() const { return connected_; }
    unsigned long last_error() const { return last_error_; }
    std::string error_text() const {
        char text[256];
        ERR_error_string_n(last_error_, text, sizeof text);
        return text;
    }
    SSL* ssl() const { return ssl_; }

    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
            if (n <= 0) {
                return false;
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // Reads once into pending_; returns how the read ended (or nullopt when data arrived).
    std::optional<End> fill() {
        char buf[16 * 1024];
        ERR_clear_error();
        int n = SSL_read(ssl_, buf, sizeof buf);
        if (n > 0) {
            pending_.append(buf, static_cast<std::size_t>(n));
            return std::nullopt;
        }
        int err = SSL_get_error(ssl_, n);
        if (err == SSL_ERROR_ZERO_RETURN) {
            return End::CloseNotify;
        }
        if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return End::Timeout;
        }
        if (err == SSL_ERROR_SSL &&
            ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            return End::Eof;
        }
        return err == SSL_ERROR_SYSCALL ? End::Eof : End::Error;
    }

    std::optional<std::string> read_until(std::string_view delim) {
        for (;;) {
            auto at = pending_.find(delim);
            if (at != std::string::npos) {
                auto out = pending_.substr(0, at + delim.size());
                pending_.erase(0, out.size());
                return out;
            }
            if (fill()) {
                return std::nullopt;
            }
        }
    }

    std::optional<std::string> read_exact(std::size_t n) {
        while (pending_.size() < n) {
            if (fill()) {
                return std::nullopt;
            }
        }
        auto out = pending_.substr(0, n);
        pending_.erase(0, n);
        return out;
    }

    // One response with a Content-Length or chunked body.
    std::optional<Parsed> read_response() {
        auto head = read_until("\r\n\r\n");
        if (!head || head->rfind("HTTP/1.1 ", 0) != 0) {
            return std::nullopt;
        }
        Parsed r;
        r.status = std::stoi(head->substr(9, 3));
        std::size_t pos = head->find("\r\n") + 2;
        while (pos + 2 < head->size()) {
            auto end = head->find("\r\n", pos);
            auto line = head->substr(pos, end - pos);
            auto colon = line.find(':');
            std::string name = line.substr(0, colon);
            for (auto& c : name) {
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
            r.headers.emplace_back(name, line.substr(line.find_first_not_of(' ', colon + 1)));
            pos = end + 2;
        }
        if (auto length = r.header("content-length")) {
            auto body = read_exact(std::stoul(*length));
            if (!body) {
                return std::nullopt;
            }
            r.body = *body;
        } else if (r.header("transfer-encoding") == "chunked") {
            for (;;) {
                auto size_line = read_until("\r\n");
                if (!size_line) {
                    return std::nullopt;
                }
                auto size = std::stoul(*size_line, nullptr, 16);
                auto data = read_exact(size + 2);
                if (!data) {
                    return std::nullopt;
                }
                if (size == 0) {
                    break;
                }
                r.body += data->substr(0, size);
            }
        }
        return r;
    }

    // Reads until the connection ends (discarding data) and says how.
    End wait_for_end() {
        for (;;) {
            pending_.clear();
            if (auto end = fill()) {
                return *end;
            }
        }
    }

    const std::string& pending() const { return pending_; }

private:
    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    int fd_ = -1;
    bool connected_ = false;
    unsigned long last_error_ = 0;
    std::string pending_;
};

RawTlsClient::Options verified(const Identity& identity) {
    RawTlsClient::Options o;
    o.ca_file = identity.cert_file().string();
    return o;
}

// Echoes method, path and body; /slow waits to be released first.
struct EchoHandler {
    std::atomic<int> requests{0};
    std::mutex mutex;
    std::vector<std::string> remotes;

    Handler handler() {
        return [this](const Request& req, RequestBody& body, Response& res) {
            ++requests;
            {
                std::lock_guard lock(mutex);
                remotes.push_back(req.remote_address);
            }
            auto data = read_all(body);
            answer(res, 200, req.method + " " + std::string(req.path()) + " " + data);
        };
    }
};

// ---- Configuration ----------------------------------------------------------------------------

TEST(HttpServerTls, RefusesUnusableCertificateAndKeyFilesWithTheirNames) {
    const Identity identity;
    const Identity other;
    auto listen_with = [](ServerTls tls) {
        return Server::listen(
            "127.0.0.1", 0, test_limits(), [](const Request&, RequestBody&, Response&) {},
            std::move(tls));
    };
    auto missing = (identity.dir() / "nope.pem").string();

    auto r = listen_with({missing, identity.key_file().string()});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(r.error().message.find("TLS certificate file " + missing), std::string::npos)
        << r.error().message;

    r = listen_with({identity.cert_file().string(), missing});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("TLS key file " + missing), std::string::npos)
        << r.error().message;

    auto garbage = identity.dir() / "garbage.pem";
    write_text(garbage, "not a certificate\n");
    r = listen_with({garbage.string(), identity.key_file().string()});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("no PEM certificate"), std::string::npos) << r.error().message;

    // The certificate's file given as the key: no key in it.
    r = listen_with({identity.cert_file().string(), identity.cert_file().string()});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("no PEM private key"), std::string::npos) << r.error().message;

    // Another certificate's key.
    r = listen_with({identity.cert_file().string(), other.key_file().string()});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(r.error().message.find("does not hold the private key of the certificate"),
              std::string::npos)
        << r.error().message;

    // An encrypted key is refused, never prompted for.
    auto encrypted = identity.dir() / "encrypted.pem";
    {
        BIO* in =
            BIO_new_mem_buf(identity.key_pem().data(), static_cast<int>(identity.key_pem().size()));
        EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
        BIO_free(in);
        ASSERT_NE(key, nullptr);
        BIO* out = BIO_new(BIO_s_mem());
        static const char kPass[] = "secret";
        PEM_write_bio_PKCS8PrivateKey(out, key, EVP_aes_256_cbc(), kPass, sizeof kPass - 1, nullptr,
                                      nullptr);
        char* data = nullptr;
        long n = BIO_get_mem_data(out, &data);
        write_text(encrypted, std::string(data, static_cast<std::size_t>(n)));
        BIO_free(out);
        EVP_PKEY_free(key);
    }
    r = listen_with({identity.cert_file().string(), encrypted.string()});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("encrypted"), std::string::npos) << r.error().message;

    r = listen_with({"", ""});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
}

TEST(HttpServerTls, ServesAnRsaKeyFromTheCryptoComponent) {
    // PKCS#8 RSA key and certificate as pf::crypto makes them (CN only, so no host check here).
    auto key = crypto::RsaPrivateKey::generate(2048);
    ASSERT_TRUE(key) << key.error().message;
    auto cert = key->self_signed_certificate_pem("127.0.0.1", 1);
    ASSERT_TRUE(cert) << cert.error().message;
    const Identity scratch;
    write_text(scratch.dir() / "rsa-cert.pem", *cert);
    write_text(scratch.dir() / "rsa-key.pem", key->to_pem());
    auto server = Server::listen(
        "127.0.0.1", 0, test_limits(),
        [](const Request&, RequestBody&, Response& res) { answer(res, 200, "rsa ok"); },
        ServerTls{(scratch.dir() / "rsa-cert.pem").string(),
                  (scratch.dir() / "rsa-key.pem").string()});
    ASSERT_TRUE(server) << server.error().message;
    std::thread runner([&] { (*server)->run(); });

    RawTlsClient::Options options;
    options.tls12_ciphers = "ECDHE-RSA-AES128-GCM-SHA256";
    RawTlsClient client((*server)->port(), options);
    ASSERT_TRUE(client.connected()) << client.error_text();
    EXPECT_STREQ(SSL_get_cipher_name(client.ssl()), "ECDHE-RSA-AES128-GCM-SHA256");
    ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, "rsa ok");

    (*server)->stop();
    runner.join();
}

// ---- Requests over TLS ------------------------------------------------------------------------

TEST(HttpServerTls, GetWithHttpClientVerifiesTheCertificate) {
    const Identity identity;
    EchoHandler echo;
    TlsServer server(identity, test_limits(), echo.handler());

    ClientRequest request;
    request.method = "GET";
    request.url = server.url("/hello?x=1");
    auto response = HttpClient(trusting(identity)).send(request);
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "GET /hello ");

    // Without the certificate in its trust store the client refuses the server.
    ClientOptions untrusting = trusting(identity);
    untrusting.ca_file.clear();
    response = HttpClient(untrusting).send(request);
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, ErrorCode::Unavailable) << response.error().message;
    EXPECT_EQ(echo.requests.load(), 1);
}

TEST(HttpServerTls, StreamsALargePostBodyAndAChunkedResponse) {
    const Identity identity;
    const std::string upload = pattern(3 * 1024 * 1024 + 17);
    std::atomic<std::size_t> largest_read{0};
    std::atomic<int> reads{0};
    TlsServer server(
        identity, test_limits(), [&](const Request& req, RequestBody& body, Response& res) {
            std::string got;
            std::vector<char> buffer(64 * 1024);
            for (;;) {
                auto n = body.read(buffer);
                if (!n || *n == 0) {
                    break;
                }
                ++reads;
                largest_read = std::max<std::size_t>(largest_read, *n);
                got.append(buffer.data(), *n);
            }
            EXPECT_EQ(req.content_length, upload.size());
            EXPECT_TRUE(body.finished());
            // Answer with the body reversed, chunked, in 100 KiB writes.
            std::string reply(got.rbegin(), got.rend());
            ASSERT_TRUE(
                res.start(200, {{"Content-Type", "application/octet-stream"}}, std::nullopt));
            for (std::size_t at = 0; at < reply.size(); at += 100 * 1024) {
                ASSERT_TRUE(res.write(std::span<const char>(
                    reply.data() + at, std::min<std::size_t>(100 * 1024, reply.size() - at))));
            }
        });

    ClientRequest request;
    request.method = "POST";
    request.url = server.url("/upload");
    request.body = upload;
    auto response = HttpClient(trusting(identity)).send(request);
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->header("transfer-encoding"), "chunked");
    ASSERT_EQ(response->body.size(), upload.size());
    EXPECT_TRUE(response->body == std::string(upload.rbegin(), upload.rend()));
    // Streamed: many reads, none larger than a TLS record's plaintext.
    EXPECT_GT(reads.load(), 100);
    EXPECT_LE(largest_read.load(), 16u * 1024);
}

TEST(HttpServerTls, StreamsALargeFixedLengthResponseInPieces) {
    // The S3 GET pattern: a Content-Length response written in large pieces, each after the
    // head has already gone out.
    const Identity identity;
    const std::string object = pattern(1024 * 1024 + 5);
    TlsServer server(identity, test_limits(), [&](const Request&, RequestBody&, Response& res) {
        ASSERT_TRUE(res.start(200, {{"Content-Type", "application/octet-stream"}}, object.size()));
        for (std::size_t at = 0; at < object.size(); at += 256 * 1024) {
            ASSERT_TRUE(res.write(std::span<const char>(
                object.data() + at, std::min<std::size_t>(256 * 1024, object.size() - at))));
        }
    });
    ClientRequest request;
    request.method = "GET";
    request.url = server.url("/object");
    auto response = HttpClient(trusting(identity)).send(request);
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->header("content-length"), std::to_string(object.size()));
    ASSERT_EQ(response->body.size(), object.size());
    EXPECT_TRUE(response->body == object);
}

TEST(HttpServerTls, KeepAliveServesTwoRequestsOnOneConnection) {
    const Identity identity;
    EchoHandler echo;
    TlsServer server(identity, test_limits(), echo.handler());
    RawTlsClient client(server.port(), verified(identity));
    ASSERT_TRUE(client.connected()) << client.error_text();
    EXPECT_GE(SSL_version(client.ssl()), TLS1_2_VERSION);
    // ALPN agreed on HTTP/1.1 when offered... (this client offers none: nothing is selected).
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(client.ssl(), &alpn, &alpn_len);
    EXPECT_EQ(alpn_len, 0u);

    ASSERT_TRUE(client.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto first = client.read_response();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->body, "GET /one ");
    EXPECT_FALSE(first->header("connection"));
    ASSERT_TRUE(client.send("PUT /two HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
    auto second = client.read_response();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->body, "PUT /two hello");
    std::lock_guard lock(echo.mutex);
    ASSERT_EQ(echo.remotes.size(), 2u);
    EXPECT_EQ(echo.remotes[0], echo.remotes[1]);  // same client port: the same connection
}

TEST(HttpServerTls, AlpnSelectsHttp11) {
    const Identity identity;
    EchoHandler echo;
    TlsServer server(identity, test_limits(), echo.handler());
    auto options = verified(identity);
    options.handshake = false;
    RawTlsClient client(server.port(), options);
    static const unsigned char kProtocols[] = {2,   'h', '2', 8,   'h', 't',
                                               't', 'p', '/', '1', '.', '1'};
    ASSERT_EQ(SSL_set_alpn_protos(client.ssl(), kProtocols, sizeof kProtocols), 0);
    ASSERT_TRUE(client.handshake()) << client.error_text();
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(client.ssl(), &alpn, &alpn_len);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(alpn), alpn_len), "http/1.1");
}

TEST(HttpServerTls, PipelinedChunkedUploadAndExpectContinue) {
    const Identity identity;
    EchoHandler echo;
    TlsServer server(identity, test_limits(), echo.handler());
    RawTlsClient client(server.port(), verified(identity));
    ASSERT_TRUE(client.connected()) << client.error_text();

    // 100-continue: answered once the handler reads, then the body follows.
    ASSERT_TRUE(client.send("PUT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                            "Expect: 100-continue\r\n\r\n"));
    auto cont = client.read_until("\r\n\r\n");
    ASSERT_TRUE(cont);
    EXPECT_EQ(*cont, "HTTP/1.1 100 Continue\r\n\r\n");
    ASSERT_TRUE(client.send("body"));
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, "PUT /c body");

    // Two pipelined requests in one write, the first with a chunked body.
    ASSERT_TRUE(client.send("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
                            "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    auto a = client.read_response();
    ASSERT_TRUE(a);
    EXPECT_EQ(a->body, "POST /a abcdefg");
    auto b = client.read_response();
    ASSERT_TRUE(b);
    EXPECT_EQ(b->body, "GET /b ");
    EXPECT_EQ(b->header("connection"), "close");
    // The server ends TLS properly: close_notify, not a bare TCP close.
    EXPECT_EQ(client.wait_for_end(), End::CloseNotify);
}

TEST(HttpServerTls, MalformedRequestOverTlsGets400) {
    const Identity identity;
    EchoHandler echo;
    TlsServer server(identity, test_limits(), echo.handler());
    RawTlsClient client(server.port(), verified(identity));
    ASSERT_TRUE(client.connected()) << client.error_text();
    ASSERT_TRUE(client.send("NOT HTTP AT ALL\r\n\r\n"));
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 400);
    EXPECT_EQ(client.wait_for_end(), End::CloseNotify);
    EXPECT_EQ(echo.requests.load(), 0);
}

// ---- Misbehaving clients ----------------------------------------------------------------------

TEST(HttpServerTls, PlainHttpToTheTlsPortGetsAPlain400) {
    const Identity identity;
    EchoHandler echo;
    TlsServer server(identity, test_limits(), echo.handler());

    int fd = tcp_connect(server.port());
    ASSERT_GE(fd, 0);
    std::string request = "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::string received;
    auto start = Clock::now();
    EXPECT_TRUE(tcp_closed_within(fd, 5s, &received));
    EXPECT_LT(ms_since(start), 2500);  // at once, not after a timeout
    ::close(fd);
    EXPECT_EQ(received.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << received;
    EXPECT_NE(received.find("Connection: close\r\n"), std::string::npos) << received;
    EXPECT_NE(received.find("https://"), std::string::npos) << received;

    // HttpClient over http:// sees that answer as a value.
    ClientRequest plain;
    plain.method = "GET";
    plain.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/x";
    auto response = HttpClient(trusting(identity)).send(plain);
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 400);
    EXPECT_EQ(echo.requests.load(), 0);

    // The port still serves https.
    plain.url = server.url("/after");
    response = HttpClient(trusting(identity)).send(plain);
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->body, "GET /after ");
}

TEST(HttpServerTls, BadHandshakesDoNotAffectOtherConnections) {
    const Identity identity;
    EchoHandler echo;
    ServerLimits limits = test_limits();
    limits.header_timeout = 2500ms;
    limits.idle_timeout = 10s;
    TlsServer server(identity, limits, echo.handler());

    // An established keep-alive connection, used before and after the bad ones.
    RawTlsClient good(server.port(), verified(identity));
    ASSERT_TRUE(good.connected()) << good.error_text();
    ASSERT_TRUE(good.send("GET /before HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_TRUE(good.read_response());

    // A handshake record full of garbage: closed at once.
    int garbage = tcp_connect(server.port());
    std::string junk = "\x16\x03\x01\x00\x20" + std::string(32, '\x7f');
    ASSERT_GT(::send(garbage, junk.data(), junk.size(), MSG_NOSIGNAL), 0);
    auto start = Clock::now();
    EXPECT_TRUE(tcp_closed_within(garbage, 5s));
    EXPECT_LT(ms_since(start), 1000);
    ::close(garbage);

    // Neither TLS nor HTTP: closed at once too.
    int binary = tcp_connect(server.port());
    ASSERT_GT(::send(binary, "\x00\x01\x02", 3, MSG_NOSIGNAL), 0);
    EXPECT_TRUE(tcp_closed_within(binary, 5s));
    ::close(binary);

    // A client that is not trusted: its handshake fails, the server carries on.
    RawTlsClient::Options strict;
    const Identity stranger;
    strict.ca_file = stranger.cert_file().string();
    RawTlsClient distrustful(server.port(), strict);
    EXPECT_FALSE(distrustful.connected());

    // A stalled handshake (half a record header): held at most header_timeout, and it holds
    // nobody else meanwhile.
    int stalled = tcp_connect(server.port());
    ASSERT_GT(::send(stalled, "\x16\x03", 2, MSG_NOSIGNAL), 0);
    auto stalled_at = Clock::now();
    std::thread other([&] {
        ClientRequest request;
        request.method = "GET";
        request.url = server.url("/meanwhile");
        auto response = HttpClient(trusting(identity)).send(request);
        ASSERT_TRUE(response) << response.error().message;
        EXPECT_EQ(response->body, "GET /meanwhile ");
    });
    other.join();
    EXPECT_LT(ms_since(stalled_at), 2000);  // done while the stalled handshake was still held
    // A TLS client that never starts: also bounded by header_timeout.
    int silent = tcp_connect(server.port());
    EXPECT_TRUE(tcp_closed_within(stalled, 5s));
    auto stalled_for = ms_since(stalled_at);
    EXPECT_GE(stalled_for, 2200);
    EXPECT_LT(stalled_for, 4500);
    EXPECT_TRUE(tcp_closed_within(silent, 5s));
    ::close(stalled);
    ::close(silent);

    ASSERT_TRUE(good.send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto after = good.read_response();
    ASSERT_TRUE(after);
    EXPECT_EQ(after->body, "GET /after ");
    EXPECT_EQ(echo.requests.load(), 3);
}

TEST(HttpServerTls, RefusesOldProtocolsWeakCiphersAndRenegotiation) {
    const Identity identity;
    EchoHandler echo;
    TlsServer server(identity, test_limits(), echo.handler());

    // TLS 1.1 at most: the server answers with a protocol_version alert.
    RawTlsClient::Options old = verified(identity);
    old.max_version = TLS1_1_VERSION;
    RawTlsClient tls11(server.port(), old);
    EXPECT_FALSE(tls11.connected());
    EXPECT_EQ(ERR_GET_REASON(tls11.last_error()), SSL_R_TLSV1_ALERT_PROTOCOL_VERSION)
        << tls11.error_text();

    // TLS 1.2 CBC suites (OpenSSL's defaults, not Mozilla intermediate): no shared cipher.
    for (const char* weak :
         {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384"}) {
        RawTlsClient::Options o = verified(identity);
        o.tls12_ciphers = weak;
        RawTlsClient client(server.port(), o);
        EXPECT_FALSE(client.connected()) << weak;
        EXPECT_EQ(ERR_GET_REASON(client.last_error()), SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE)
            << weak << ": " << client.error_text();
    }
    // A Mozilla-intermediate TLS 1.2 suite works.
    RawTlsClient::Options good = verified(identity);
    good.tls12_ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305";
    RawTlsClient tls12(server.port(), good);
    ASSERT_TRUE(tls12.connected()) << tls12.error_text();
    EXPECT_EQ(SSL_version(tls12.ssl()), TLS1_2_VERSION);

    // Client-initiated renegotiation is refused with a no_renegotiation alert (OpenSSL 3's
    // default as well; SSL_OP_NO_RENEGOTIATION keeps it so whatever the library's defaults).
    EXPECT_EQ(SSL_get_secure_renegotiation_support(tls12.ssl()), 1);
    ASSERT_EQ(SSL_renegotiate(tls12.ssl()), 1);
    ERR_clear_error();
    EXPECT_NE(SSL_do_handshake(tls12.ssl()), 1);
    EXPECT_EQ(ERR_GET_REASON(ERR_peek_last_error()), SSL_R_NO_RENEGOTIATION)
        << ERR_reason_error_string(ERR_peek_last_error());
    EXPECT_EQ(echo.requests.load(), 0);

    // TLS 1.3 is offered by default.
    RawTlsClient modern(server.port(), verified(identity));
    ASSERT_TRUE(modern.connected()) << modern.error_text();
    EXPECT_EQ(SSL_version(modern.ssl()), TLS1_3_VERSION);
}

// ---- Limits and shutdown ----------------------------------------------------------------------

TEST(HttpServerTls, StopClosesIdleConnectionsWithCloseNotifyAndFinishesInFlightOnes) {
    const Identity identity;
    std::promise<void> entered_promise;
    auto entered = entered_promise.get_future();
    std::promise<void> release_promise;
    auto release = release_promise.get_future().share();
    TlsServer server(identity, test_limits(), [&](const Request& req, RequestBody&, Response& res) {
        if (req.path() == "/slow") {
            entered_promise.set_value();
            release.wait();
        }
        answer(res, 200, "done " + std::string(req.path()));
    });
    RawTlsClient idle(server.port(), verified(identity));
    ASSERT_TRUE(idle.connected()) << idle.error_text();
    RawTlsClient busy(server.port(), verified(identity));
    ASSERT_TRUE(busy.connected()) << busy.error_text();
    ASSERT_TRUE(busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_EQ(entered.wait_for(5s), std::future_status::ready);

    server.stop();
    auto start = Clock::now();
    EXPECT_EQ(idle.wait_for_end(), End::CloseNotify);
    EXPECT_LT(ms_since(start), 2000);
    EXPECT_FALSE(server.stopped_within(200ms));  // /slow is still running

    release_promise.set_value();
    auto response = busy.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, "done /slow");
    EXPECT_EQ(response->header("connection"), "close");
    EXPECT_EQ(busy.wait_for_end(), End::CloseNotify);
    EXPECT_TRUE(server.stopped_within(5s));
}

TEST(HttpServerTls, OverTheConnectionLimitIsClosedCleanly) {
    const Identity identity;
    EchoHandler echo;
    ServerLimits limits = test_limits();
    limits.max_connections = 1;
    TlsServer server(identity, limits, echo.handler());
    RawTlsClient first(server.port(), verified(identity));
    ASSERT_TRUE(first.connected()) << first.error_text();

    auto start = Clock::now();
    RawTlsClient second(server.port(), verified(identity));
    EXPECT_FALSE(second.connected());
    EXPECT_LT(ms_since(start), 2000);

    ASSERT_TRUE(first.send("GET /still HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto response = first.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, "GET /still ");
}

TEST(HttpServerTls, StalledBodyTimesOutOverTls) {
    const Identity identity;
    ServerLimits limits = test_limits();
    limits.body_progress_timeout = 500ms;
    std::promise<Error> seen_promise;
    auto seen = seen_promise.get_future();
    TlsServer server(identity, limits, [&](const Request&, RequestBody& body, Response& res) {
        char buffer[1024];
        for (;;) {
            auto n = body.read(buffer);
            if (!n) {
                seen_promise.set_value(n.error());
                return;
            }
            if (*n == 0) {
                break;
            }
        }
        answer(res, 200, "unexpected");
    });
    RawTlsClient client(server.port(), verified(identity));
    ASSERT_TRUE(client.connected()) << client.error_text();
    ASSERT_TRUE(client.send("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-some"));
    ASSERT_EQ(seen.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(seen.get().code, ErrorCode::Timeout);
}

}  // namespace
}  // namespace pf::http
