// The HTTP/1.1 server on Boost.Beast/Asio (see server.h for the design). Each connection owns an
// io_context and a thread; every socket operation is started as an async op with a deadline and
// then run to completion on that thread (run_op), so handlers stay plain blocking code while no
// read or write can hang past its timeout. The acceptor has its own io_context on the thread that
// calls run(); it also answers the over-limit 503s and joins finished connection threads.
//
// TLS (optional) is a beast::ssl_stream layered on the same timed stream, so every deadline
// applies to the TLS records underneath; on_stream() picks the layer a request travels on.
#include "http/server.h"
#include "base/ascii.h"

#include "base/clock.h"
#include "base/file_io.h"
#include "base/logging.h"

// <utility> before any Boost.Asio header: Debian's Boost 1.74 asio misses it under g++ 12
// (DESIGN.md). clang-format would sort it after them, hence the fence.
// clang-format off
#include <utility>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
// clang-format on

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <limits>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace pf::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
// A concrete executor instead of any_io_executor: no type erasure on the hot path.
using Stream =
    beast::basic_stream<tcp, net::io_context::executor_type, beast::unlimited_rate_policy>;
using Parser = bhttp::request_parser<bhttp::buffer_body>;
// beast's wrapper coalesces small buffer sequences (head + chunk line + data) into one record.
using TlsStream = beast::ssl_stream<Stream&>;

// An unread request body up to this size is read and discarded after the response so the
// connection can be kept; anything larger (or of unknown size) closes the connection instead.
constexpr std::size_t kDrainLimit = 64 * 1024;
// Closing with request bytes still unread makes the kernel send RST, which can destroy the
// response before the client has read it. So before such a close we shut down our side and read
// and discard for a while ("lingering close"), bounded in time and bytes.
constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr std::size_t kLingerBytes = 1024 * 1024;
// Read size while waiting for a request head; also the head buffer's initial capacity.
constexpr std::size_t kHeadReadSize = 16 * 1024;
// Chunked request bodies pass through the head buffer; beast reads at most 64 KiB per call.
constexpr std::size_t kChunkedReadCapacity = 64 * 1024;
// Over-limit connections being answered with 503 at once; beyond this they are just closed.
constexpr std::size_t kMaxRejections = 64;
// accept() failing for lack of descriptors or memory must not spin the accept loop.
constexpr std::chrono::milliseconds kAcceptBackoff{100};

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// The first byte of every TLS connection: a handshake record (ContentType 22).
constexpr unsigned char kTlsHandshakeRecord = 0x16;
// Certificate and key files are small; anything bigger is not one.
constexpr std::uint64_t kMaxPemFileBytes = 1 << 20;
// Mozilla's "intermediate" configuration (server-side TLS guidelines 5.7): TLS 1.2 suites with
// forward secrecy and AEAD only; TLS 1.3's three suites; X25519, P-256 and P-384.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kTlsGroups = "X25519:prime256v1:secp384r1";
constexpr std::string_view kPlainHttpOnTlsPort =
    "This port speaks HTTPS only: use an https:// URL.\n";

bool is_token_char(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Errors of the connection itself (peer gone, timeout, cancelled), as opposed to bytes that do not
// parse as HTTP: the former end the connection silently, the latter get a 400.
bool is_transport_error(const error_code& ec) {
    return ec == beast::error::timeout || ec == bhttp::error::end_of_stream ||
           ec == bhttp::error::partial_message ||
           ec.category() == boost::system::system_category() ||
           ec.category() == net::error::get_misc_category() ||
           ec.category() == net::error::get_netdb_category() ||
           // TLS: a broken record, an alert, or the peer gone without close_notify.
           ec.category() == net::error::get_ssl_category() ||
           ec.category() == net::ssl::error::get_stream_category();
}

std::string_view reason_phrase(int status) {
    auto reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status)));
    if (reason.empty() || reason.front() == '<') { // beast says "<unknown-status>"
        return "Unknown";
    }
    return {reason.data(), reason.size()};
}

void append_number(std::string& out, std::uint64_t value, int base = 10) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, value, base).ptr;
    out.append(digits, end);
}

std::string format_endpoint(const tcp::endpoint& ep) {
    std::string out;
    if (ep.address().is_v6()) {
        out = "[" + ep.address().to_string() + "]";
    } else {
        out = ep.address().to_string();
    }
    out += ':';
    append_number(out, ep.port());
    return out;
}

// "Date: <IMF-fixdate>\r\n" for the current second, formatted once per second per caller.
class DateLine {
public:
    std::string_view get() {
        std::time_t now = std::time(nullptr);
        if (now != second_) {
            static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed",
                                                    "Thu", "Fri", "Sat"};
            static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
            std::tm tm{};
            gmtime_r(&now, &tm);
            int n =
                std::snprintf(line_, sizeof line_, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                              kDays[tm.tm_wday % 7], tm.tm_mday, kMonths[tm.tm_mon % 12],
                              tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
            length_ =
                n > 0 ? std::min<std::size_t>(static_cast<std::size_t>(n), sizeof line_ - 1) : 0;
            second_ = now;
        }
        return {line_, length_};
    }

private:
    std::time_t second_ = -1;
    char line_[48] = {};
    std::size_t length_ = 0;
};

// What every connection shares with the server; it outlives all connections.
struct Shared {
    ServerLimits limits;
    Handler handler;
    std::shared_ptr<spdlog::logger> log;
    std::atomic<bool> stopping{false};
    // Set: the port speaks TLS only. OpenSSL's SSL_CTX is safe to share between threads.
    std::unique_ptr<net::ssl::context> tls;
};

class Connection;

class Body final : public RequestBody {
public:
    explicit Body(Connection& c) : c_(c) {}
    Result<std::size_t> read(std::span<char> out) override;
    std::uint64_t bytes_read() const override;
    bool finished() const override;

private:
    Connection& c_;
};

class Writer final : public Response {
public:
    explicit Writer(Connection& c) : c_(c) {}
    Result<void> start(int status, std::vector<std::pair<std::string, std::string>> headers,
                       std::optional<std::uint64_t> content_length) override;
    Result<void> write(std::span<const char> bytes) override;
    Result<void> finish() override;
    bool started() const override;
    void close_after() override;

private:
    Connection& c_;
};

class Connection {
public:
    explicit Connection(Shared& shared)
        : shared_(shared), buffer_(std::min<std::size_t>(shared.limits.max_header_bytes, 1u << 30) +
                                   kChunkedReadCapacity + kHeadReadSize),
          body_(*this), writer_(*this) {
        buffer_.reserve(kHeadReadSize);
        head_.reserve(1024);
    }

    Stream::socket_type& socket() { return stream_.socket(); }

    // The connection's whole life; runs on its own thread and never throws.
    void serve() noexcept;

    // From any thread. request_stop: close now if waiting for a request, else after the current
    // response. kill: close now, whatever is happening (the shutdown grace has run out).
    void request_stop() {
        net::post(ioc_, [this] {
            if (phase_ == Phase::Idle) {
                stream_.cancel();
            }
        });
    }
    void kill() {
        killed_.store(true);
        net::post(ioc_, [this] { stream_.close(); });
    }

private:
    friend class Body;
    friend class Writer;

    enum class Phase { Idle, Busy };
    enum class BodyMode { None, Length, Chunked };
    enum class Framing { None, Length, Chunked, CloseDelimited };

    struct OpResult {
        error_code ec;
        std::size_t bytes = 0;
    };

    // Starts one async operation and runs this connection's io_context until it has completed.
    // Posted stop/kill requests run here too, on this thread, which is why they need no locks.
    template <typename Start>
    OpResult run_op(Start&& start) {
        OpResult result;
        bool done = false;
        start([&result, &done](error_code ec, std::size_t n) {
            result.ec = ec;
            result.bytes = n;
            done = true;
        });
        ioc_.restart();
        ioc_.run();
        if (!done) { // run() only returns without work, so this means a lost operation
            result.ec = net::error::operation_aborted;
        }
        return result;
    }

    bool usable() const { return !broken_ && !killed_.load(std::memory_order_relaxed); }

    // Calls op(stream) with the layer requests travel on: TLS once it is up, else plain TCP.
    template <typename Op>
    void on_stream(Op&& op) {
        if (tls_) {
            op(*tls_);
        } else {
            op(stream_);
        }
    }

    bool start_tls();
    void send_close_notify();
    bool wait_for_request(bool first);
    bool read_head();
    void exchange();
    void reset_exchange();
    void reply_error(int status, std::string_view text);
    void send_simple(int status, std::string_view text);
    void drain_body();
    void close_connection();

    Result<std::size_t> body_read(std::span<char> out);
    Result<std::size_t> body_read_length(std::span<char> out);
    Result<std::size_t> body_read_chunked(std::span<char> out);
    Error body_failure(const error_code& ec);
    bool body_drainable() const {
        return !body_error_ && body_mode_ == BodyMode::Length && body_remaining_ <= kDrainLimit &&
               !(expects_continue_ && !continue_sent_);
    }

    Result<void> response_start(int status,
                                std::vector<std::pair<std::string, std::string>>& headers,
                                std::optional<std::uint64_t> content_length);
    Result<void> response_write(std::span<const char> bytes);
    Result<void> response_finish();
    Result<void> flush_head();
    template <std::size_t N>
    Result<void> send(const std::array<net::const_buffer, N>& buffers);

    Shared& shared_;
    net::io_context ioc_{1}; // run by this connection's thread only
    Stream stream_{ioc_};
    std::optional<TlsStream> tls_; // over stream_, made once the client starts a TLS handshake
    bool tls_ready_ = false;       // the handshake completed
    beast::flat_buffer buffer_; // request heads (and chunked bodies) on their way to the parser
    std::optional<Parser> parser_;
    std::string remote_;
    std::atomic<bool> killed_{false};
    Phase phase_ = Phase::Idle;
    bool close_ = false;  // close once the current exchange is over
    bool linger_ = false; // the peer may still be sending: lingering close
    bool broken_ = false; // a write failed: the byte stream is unusable
    DateLine date_;

    // The current exchange.
    Request request_;
    Body body_;
    Writer writer_;
    unsigned version_ = 11;
    bool keep_alive_ = true;
    bool head_request_ = false;

    BodyMode body_mode_ = BodyMode::None;
    bool body_done_ = true;
    std::uint64_t body_remaining_ = 0; // BodyMode::Length
    std::uint64_t body_read_ = 0;
    std::optional<Error> body_error_; // final: returned again by later reads
    bool expects_continue_ = false;
    bool continue_sent_ = false;

    bool resp_started_ = false;
    bool resp_finished_ = false;
    int resp_status_ = 0;
    Framing framing_ = Framing::None;
    std::uint64_t resp_remaining_ = 0; // Framing::Length
    std::uint64_t resp_bytes_ = 0;
    std::optional<Error> resp_error_;
    std::string head_; // the formatted response head; kept to reuse its capacity
    bool head_pending_ = false;
};

// ---- Body / Writer forward to the connection ----------------------------------------------

Result<std::size_t> Body::read(std::span<char> out) {
    return c_.body_read(out);
}
std::uint64_t Body::bytes_read() const {
    return c_.body_read_;
}
bool Body::finished() const {
    return c_.body_done_;
}

Result<void> Writer::start(int status, std::vector<std::pair<std::string, std::string>> headers,
                           std::optional<std::uint64_t> content_length) {
    return c_.response_start(status, headers, content_length);
}
Result<void> Writer::write(std::span<const char> bytes) {
    return c_.response_write(bytes);
}
Result<void> Writer::finish() {
    return c_.response_finish();
}
bool Writer::started() const {
    return c_.resp_started_;
}
void Writer::close_after() {
    c_.close_ = true;
}

// ---- Connection lifecycle -------------------------------------------------------------------

void Connection::serve() noexcept {
    try {
        error_code ec;
        stream_.socket().set_option(tcp::no_delay(true), ec);
        auto peer = stream_.socket().remote_endpoint(ec);
        remote_ = ec ? std::string("unknown") : format_endpoint(peer);
        shared_.log->debug("connection open remote={}", remote_);

        // The first request's head (after the TLS handshake, if any) must be complete
        // header_timeout after the accept; later ones get idle_timeout to start and then
        // header_timeout from their first byte.
        stream_.expires_after(shared_.limits.header_timeout);
        bool first = true;
        bool open = !shared_.tls || start_tls();
        while (open && !close_ && usable()) {
            if (!wait_for_request(first)) {
                break;
            }
            first = false;
            phase_ = Phase::Busy;
            if (!read_head()) {
                break;
            }
            exchange();
        }
    } catch (const std::exception& e) {
        shared_.log->warn("connection failed remote={} error={}", remote_, e.what());
        linger_ = false;
    } catch (...) {
        shared_.log->warn("connection failed remote={} error=unknown", remote_);
        linger_ = false;
    }
    try {
        close_connection();
    } catch (...) {
        // Closing cannot report to anyone; the socket is released with this object.
    }
    shared_.log->debug("connection closed remote={}", remote_);
}

// A TLS port: the first bytes tell a TLS handshake (a record of type 22) from someone speaking
// plain HTTP, who gets a plain 400 saying so instead of a silent close. The bytes read for that go
// to the handshake. Runs under the first request's header deadline and, like an idle wait, is
// cut short by stop().
bool Connection::start_tls() {
    if (shared_.stopping.load()) {
        return false;
    }
    auto r = run_op([&](auto handler) {
        stream_.async_read_some(buffer_.prepare(kHeadReadSize), std::move(handler));
    });
    buffer_.commit(r.bytes);
    if (r.ec || buffer_.size() == 0) {
        shared_.log->debug("tls handshake not received remote={} reason={}", remote_,
                           r.ec ? r.ec.message() : "no data");
        return false;
    }
    auto first = *static_cast<const unsigned char*>(buffer_.data().data());
    if (first != kTlsHandshakeRecord) {
        if (first >= 'A' && first <= 'Z') { // a request line: "GET / HTTP/1.1"
            shared_.log->debug("plain http request on the tls port remote={}", remote_);
            reply_error(400, kPlainHttpOnTlsPort);
        } else {
            shared_.log->debug("tls handshake failed remote={} reason=not a tls record", remote_);
        }
        return false;
    }
    tls_.emplace(stream_, *shared_.tls);
    std::size_t offered = buffer_.size();
    auto handshake = run_op([&](auto handler) {
        tls_->async_handshake(net::ssl::stream_base::server, buffer_.data(), std::move(handler));
    });
    buffer_.consume(offered);
    if (handshake.ec) {
        shared_.log->debug("tls handshake failed remote={} reason={}", remote_,
                           handshake.ec.message());
        return false;
    }
    if (handshake.bytes != offered) {
        // Bytes after the client's handshake messages that it sent before ours arrived: no
        // TLS 1.2/1.3 client does that (no 0-RTT here).
        shared_.log->debug("tls handshake failed remote={} reason=unexpected early data", remote_);
        return false;
    }
    tls_ready_ = true;
    const SSL* ssl = tls_->native_handle();
    shared_.log->debug("tls established remote={} version={} cipher={}", remote_,
                       SSL_get_version(ssl), SSL_get_cipher_name(ssl));
    return true;
}

// The TLS close_notify alert tells the client that what it received is complete, not cut off.
// One-way: marking the peer's alert as received makes OpenSSL send ours and not wait for theirs
// (clients rarely send one). Bounded like a lingering close.
void Connection::send_close_notify() {
    SSL_set_shutdown(tls_->native_handle(), SSL_RECEIVED_SHUTDOWN);
    stream_.expires_after(std::min(kLingerTime, shared_.limits.write_timeout));
    auto r = run_op([&](auto handler) {
        tls_->async_shutdown([handler = std::move(handler)](const error_code& ec) mutable {
            handler(ec, 0);
        });
    });
    (void)r; // a client that is gone or not reading just does not get it
}

bool Connection::wait_for_request(bool first) {
    if (buffer_.size() > 0) { // a pipelined request is already here
        stream_.expires_after(shared_.limits.header_timeout);
        return true;
    }
    phase_ = Phase::Idle;
    if (shared_.stopping.load() || !usable()) {
        return false;
    }
    if (!first) {
        stream_.expires_after(shared_.limits.idle_timeout);
    }
    auto r = run_op([&](auto handler) {
        on_stream([&](auto& stream) {
            stream.async_read_some(buffer_.prepare(kHeadReadSize), std::move(handler));
        });
    });
    buffer_.commit(r.bytes);
    if (r.ec) {
        return false; // idle timeout, peer closed, or stop(): nothing to answer
    }
    if (!first) {
        stream_.expires_after(shared_.limits.header_timeout);
    }
    return true;
}

bool Connection::read_head() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(shared_.limits.max_header_bytes, UINT32_MAX)));
    // The application enforces its own body limits. Not boost::none: Boost 1.74's parser compares
    // the length with the optional itself, and every length is "greater" than none.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    auto r = run_op([&](auto handler) {
        on_stream([&](auto& stream) {
            bhttp::async_read_header(stream, buffer_, *parser_, std::move(handler));
        });
    });
    if (!r.ec) {
        return true;
    }
    if (r.ec == bhttp::error::header_limit || r.ec == bhttp::error::buffer_overflow) {
        shared_.log->debug("request head too large remote={}", remote_);
        reply_error(431, "Request Header Fields Too Large\n");
    } else if (is_transport_error(r.ec)) {
        shared_.log->debug("request head not received remote={} reason={}", remote_,
                           r.ec.message());
    } else {
        shared_.log->debug("malformed request remote={} error={}", remote_, r.ec.message());
        reply_error(400, "Bad Request\n");
    }
    return false;
}

void Connection::reset_exchange() {
    body_mode_ = BodyMode::None;
    body_done_ = true;
    body_remaining_ = 0;
    body_read_ = 0;
    body_error_.reset();
    expects_continue_ = false;
    continue_sent_ = false;
    resp_started_ = false;
    resp_finished_ = false;
    resp_status_ = 0;
    framing_ = Framing::None;
    resp_remaining_ = 0;
    resp_bytes_ = 0;
    resp_error_.reset();
    head_pending_ = false;
}

void Connection::reply_error(int status, std::string_view text) {
    reset_exchange();
    version_ = 11;
    keep_alive_ = false;
    head_request_ = false;
    close_ = true;
    linger_ = true; // the rest of what the client sent was never read
    send_simple(status, text);
}

void Connection::send_simple(int status, std::string_view text) {
    std::vector<std::pair<std::string, std::string>> headers;
    headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    if (response_start(status, headers, text.size())) {
        if (response_write(text)) {
            (void)response_finish();
        }
    }
}

void Connection::exchange() {
    reset_exchange();
    const auto& msg = parser_->get();
    auto started_at = SteadyClock::now();

    // Refill the Request in place so strings and the header vector keep their capacity.
    request_.method.assign(msg.method_string().data(), msg.method_string().size());
    request_.target.assign(msg.target().data(), msg.target().size());
    std::size_t count = 0;
    for (const auto& field : msg) {
        auto name = field.name_string();
        auto value = field.value();
        if (count == request_.headers.size()) {
            request_.headers.emplace_back();
        }
        auto& [n, v] = request_.headers[count++];
        n.resize(name.size());
        std::transform(name.begin(), name.end(), n.begin(),
                       [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; });
        v.assign(value.data(), value.size());
    }
    request_.headers.resize(count);
    request_.remote_address = remote_;
    auto length = parser_->content_length();
    request_.content_length = length ? std::optional<std::uint64_t>(*length) : std::nullopt;
    request_.chunked = parser_->chunked();
    version_ = msg.version();
    keep_alive_ = msg.keep_alive();
    head_request_ = msg.method() == bhttp::verb::head;
    // RFC 9110 10.1.1: an HTTP/1.0 client's 100-continue expectation is ignored.
    auto expect = request_.header("expect");
    request_.expects_continue = version_ >= 11 && expect && ascii_iequals(*expect, "100-continue");
    expects_continue_ = request_.expects_continue;

    if (request_.chunked) {
        body_mode_ = BodyMode::Chunked;
        body_done_ = parser_->is_done();
        buffer_.reserve(kChunkedReadCapacity);
    } else if (length && *length > 0) {
        body_mode_ = BodyMode::Length;
        body_remaining_ = *length;
        body_done_ = false;
    }

    bool threw = false;
    try {
        shared_.handler(request_, body_, writer_);
    } catch (const std::exception& e) {
        threw = true;
        shared_.log->warn("handler threw method={} path={} error={}", request_.method,
                          request_.path(), e.what());
    } catch (...) {
        threw = true;
        shared_.log->warn("handler threw method={} path={} error=unknown", request_.method,
                          request_.path());
    }

    if (!resp_started_) {
        if (usable()) {
            send_simple(500, "Internal Server Error\n");
        }
    } else if (threw) {
        // A half-sent body must not look complete (no last chunk): the client sees the cut.
        close_ = true;
    } else if (!resp_finished_) {
        (void)response_finish();
    }
    if (resp_error_ || body_error_) {
        close_ = true;
    }
    if (!body_done_) {
        if (!close_ && usable() && body_drainable()) {
            drain_body();
        } else {
            close_ = true;
            linger_ = true;
        }
    }
    if (!usable()) {
        close_ = true;
    }
    if (shared_.log->should_log(spdlog::level::debug)) {
        // Never the target: its query may hold a presigned signature.
        shared_.log->debug("request remote={} method={} path={} status={} in={} out={} ms={:.2f}",
                           remote_, request_.method, request_.path(), resp_status_, body_read_,
                           resp_bytes_, millis_since(started_at));
    }
}

void Connection::drain_body() {
    std::array<char, 16 * 1024> scratch;
    while (!body_done_) {
        auto n = body_read(scratch);
        if (!n || *n == 0) {
            close_ = true;
            linger_ = true;
            return;
        }
    }
}

void Connection::close_connection() {
    error_code ec;
    if (usable() && stream_.socket().is_open()) {
        if (tls_ready_) {
            send_close_notify();
        }
        // The linger below reads raw TCP: whatever still arrives is discarded unread.
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        if (!ec && linger_ && !shared_.stopping.load()) {
            phase_ = Phase::Idle; // stop() may cut the linger short
            stream_.expires_after(kLingerTime);
            std::size_t discarded = 0;
            while (discarded < kLingerBytes && usable()) {
                buffer_.clear();
                auto r = run_op([&](auto handler) {
                    stream_.async_read_some(buffer_.prepare(kHeadReadSize), std::move(handler));
                });
                if (r.ec) {
                    break;
                }
                discarded += r.bytes;
            }
        }
    }
    stream_.close();
}

// ---- Request body -----------------------------------------------------------------------------

Error Connection::body_failure(const error_code& ec) {
    if (ec == beast::error::timeout) {
        return make_error(ErrorCode::Timeout,
                          "no request body bytes for " +
                              std::to_string(shared_.limits.body_progress_timeout.count()) + " ms",
                          "request body timeout");
    }
    if (is_transport_error(ec)) {
        return make_error(ErrorCode::Unavailable,
                          "connection closed before the end of the request body: " + ec.message(),
                          "incomplete request body");
    }
    return make_error(ErrorCode::CorruptInput, "malformed chunked request body: " + ec.message(),
                      "malformed chunked request body");
}

Result<std::size_t> Connection::body_read(std::span<char> out) {
    if (body_error_) {
        return *body_error_;
    }
    if (body_done_ || out.empty()) {
        return std::size_t{0};
    }
    if (!usable()) {
        body_error_ = make_error(ErrorCode::Unavailable, "connection closed");
        return *body_error_;
    }
    if (resp_started_) {
        // The client may be waiting for a final response before it sends the body.
        if (auto flushed = flush_head(); !flushed) {
            body_error_ = flushed.error();
            return *body_error_;
        }
    } else if (expects_continue_ && !continue_sent_) {
        continue_sent_ = true;
        auto sent = send(std::array<net::const_buffer, 1>{net::buffer(kContinue)});
        if (!sent) {
            body_error_ = sent.error();
            return *body_error_;
        }
    }
    auto n = body_mode_ == BodyMode::Length ? body_read_length(out) : body_read_chunked(out);
    if (!n) {
        body_error_ = n.error();
    }
    return n;
}

Result<std::size_t> Connection::body_read_length(std::span<char> out) {
    std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), body_remaining_));
    std::size_t got = 0;
    if (buffer_.size() > 0) { // body bytes that arrived with the head
        got = net::buffer_copy(net::buffer(out.data(), want), buffer_.data());
        buffer_.consume(got);
    } else {
        // Straight from the socket into the caller's buffer: no copy, one recv per read.
        stream_.expires_after(shared_.limits.body_progress_timeout);
        auto r = run_op([&](auto handler) {
            on_stream([&](auto& stream) {
                stream.async_read_some(net::buffer(out.data(), want), std::move(handler));
            });
        });
        if (r.ec) {
            return body_failure(r.ec);
        }
        got = r.bytes;
    }
    body_remaining_ -= got;
    body_read_ += got;
    body_done_ = body_remaining_ == 0;
    return got;
}

Result<std::size_t> Connection::body_read_chunked(std::span<char> out) {
    // beast removes the chunk framing: it parses from buffer_ into the caller's buffer.
    for (;;) {
        if (parser_->is_done()) {
            body_done_ = true;
            return std::size_t{0};
        }
        auto& body = parser_->get().body();
        body.data = out.data();
        body.size = out.size();
        body.more = true;
        stream_.expires_after(shared_.limits.body_progress_timeout);
        auto r = run_op([&](auto handler) {
            on_stream([&](auto& stream) {
                bhttp::async_read_some(stream, buffer_, *parser_, std::move(handler));
            });
        });
        if (r.ec == bhttp::error::need_buffer) { // the caller's buffer is full: not an error
            r.ec = {};
        }
        if (r.ec) {
            return body_failure(r.ec);
        }
        std::size_t got = out.size() - parser_->get().body().size;
        body_read_ += got;
        body_done_ = parser_->is_done();
        if (got > 0) {
            return got;
        }
    }
}

// ---- Response ---------------------------------------------------------------------------------

template <std::size_t N>
Result<void> Connection::send(const std::array<net::const_buffer, N>& buffers) {
    if (!usable()) {
        return make_error(ErrorCode::Unavailable, "connection closed");
    }
    // Empty buffers (a head already sent) are left out: over TLS, beast's flat_stream writes an
    // empty first buffer as a zero-byte write, which makes async_write stop as if done.
    std::array<net::const_buffer, N> parts;
    std::size_t count = 0;
    for (const auto& b : buffers) {
        if (b.size() > 0) {
            parts[count++] = b;
        }
    }
    if (count == 0) {
        return {};
    }
    std::span<const net::const_buffer> sequence(parts.data(), count);
    stream_.expires_after(shared_.limits.write_timeout);
    auto r = run_op([&](auto handler) {
        on_stream([&](auto& stream) { net::async_write(stream, sequence, std::move(handler)); });
    });
    if (r.ec) {
        broken_ = true;
        close_ = true;
        if (r.ec == beast::error::timeout) {
            return make_error(ErrorCode::Timeout,
                              "response write made no progress for " +
                                  std::to_string(shared_.limits.write_timeout.count()) + " ms");
        }
        return make_error(ErrorCode::Unavailable, "response write failed: " + r.ec.message());
    }
    return {};
}

Result<void> Connection::flush_head() {
    if (!head_pending_) {
        return {};
    }
    head_pending_ = false;
    auto sent = send(std::array<net::const_buffer, 1>{net::buffer(head_)});
    if (!sent) {
        resp_error_ = sent.error();
    }
    return sent;
}

Result<void> Connection::response_start(int status,
                                        std::vector<std::pair<std::string, std::string>>& headers,
                                        std::optional<std::uint64_t> content_length) {
    if (resp_started_) {
        return make_error(ErrorCode::InvalidArgument, "response already started");
    }
    if (status < 200 || status > 999) {
        return make_error(ErrorCode::InvalidArgument,
                          "unsupported response status " + std::to_string(status));
    }
    bool has_date = false;
    for (const auto& [name, value] : headers) {
        if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) {
            return make_error(ErrorCode::InvalidArgument, "invalid response header name");
        }
        // CR/LF in a value would let a reflected value inject headers or a second response.
        if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
            return make_error(ErrorCode::InvalidArgument,
                              "invalid response header value for " + name);
        }
        has_date = has_date || ascii_iequals(name, "date");
    }
    resp_started_ = true;
    resp_status_ = status;

    bool bodiless_status = status == 204 || status == 304;
    if (bodiless_status || head_request_) {
        framing_ = Framing::None;
    } else if (content_length) {
        framing_ = Framing::Length;
        resp_remaining_ = *content_length;
    } else if (version_ >= 11) {
        framing_ = Framing::Chunked;
    } else {
        framing_ = Framing::CloseDelimited; // HTTP/1.0 has no chunked encoding
        close_ = true;
    }
    if (!keep_alive_ || shared_.stopping.load() || (!body_done_ && !body_drainable())) {
        close_ = true;
    }

    head_.clear();
    if (expects_continue_ && !continue_sent_ && body_done_) {
        // A zero-length body with Expect: 100-continue: botocore waits for the 100 and, given a
        // final status instead, keeps that status line for the connection's next request, which
        // then hangs. S3 always answers 100 first, so the server does too.
        continue_sent_ = true;
        head_ += kContinue;
    }
    head_ += "HTTP/1.1 ";
    append_number(head_, static_cast<std::uint64_t>(status));
    head_ += ' ';
    head_ += reason_phrase(status);
    head_ += "\r\n";
    if (!has_date) {
        head_ += date_.get();
    }
    for (const auto& [name, value] : headers) {
        if (ascii_iequals(name, "content-length") || ascii_iequals(name, "transfer-encoding") ||
            ascii_iequals(name, "connection")) {
            continue; // the server owns the framing
        }
        head_ += name;
        head_ += ": ";
        head_ += value;
        head_ += "\r\n";
    }
    if (!bodiless_status) {
        if (content_length) {
            head_ += "Content-Length: "; // for HEAD too: the length a GET would have
            append_number(head_, *content_length);
            head_ += "\r\n";
        } else if (framing_ == Framing::Chunked) {
            head_ += "Transfer-Encoding: chunked\r\n";
        }
    }
    if (close_) {
        head_ += "Connection: close\r\n";
    } else if (version_ < 11) {
        head_ += "Connection: keep-alive\r\n";
    }
    head_ += "\r\n";
    head_pending_ = true;

    // A fixed-length body follows at once: hold the head so both leave in one syscall. Anything
    // else (no body, or a stream such as server-sent events) sends the head now.
    if (framing_ == Framing::Length && resp_remaining_ > 0) {
        return {};
    }
    return flush_head();
}

Result<void> Connection::response_write(std::span<const char> bytes) {
    if (!resp_started_ || resp_finished_) {
        return make_error(ErrorCode::InvalidArgument,
                          resp_started_ ? "response already finished" : "response not started");
    }
    if (resp_error_) {
        return *resp_error_;
    }
    if (framing_ == Framing::None || bytes.empty()) {
        return {}; // HEAD, 204 and 304 carry no body; an empty chunk would end the body
    }
    net::const_buffer head = head_pending_ ? net::buffer(head_) : net::const_buffer();
    head_pending_ = false;
    Result<void> sent;
    if (framing_ == Framing::Chunked) {
        char line[24];
        auto end = std::to_chars(line, line + 16, bytes.size(), 16).ptr;
        *end++ = '\r';
        *end++ = '\n';
        sent = send(std::array<net::const_buffer, 4>{
            head, net::buffer(line, static_cast<std::size_t>(end - line)),
            net::buffer(bytes.data(), bytes.size()), net::buffer("\r\n", 2)});
    } else {
        if (framing_ == Framing::Length) {
            if (bytes.size() > resp_remaining_) {
                resp_error_ = make_error(ErrorCode::InvalidArgument,
                                         "response body longer than its Content-Length");
                close_ = true;
                return *resp_error_;
            }
            resp_remaining_ -= bytes.size();
        }
        sent =
            send(std::array<net::const_buffer, 2>{head, net::buffer(bytes.data(), bytes.size())});
    }
    if (!sent) {
        resp_error_ = sent.error();
        return sent;
    }
    resp_bytes_ += bytes.size();
    return {};
}

Result<void> Connection::response_finish() {
    if (!resp_started_) {
        return make_error(ErrorCode::InvalidArgument, "response not started");
    }
    if (resp_finished_) {
        return resp_error_ ? Result<void>(*resp_error_) : Result<void>();
    }
    resp_finished_ = true;
    if (resp_error_) {
        return *resp_error_;
    }
    if (framing_ == Framing::Chunked) {
        net::const_buffer head = head_pending_ ? net::buffer(head_) : net::const_buffer();
        head_pending_ = false;
        auto sent = send(std::array<net::const_buffer, 2>{head, net::buffer("0\r\n\r\n", 5)});
        if (!sent) {
            resp_error_ = sent.error();
        }
        return sent;
    }
    if (auto flushed = flush_head(); !flushed) {
        return flushed;
    }
    if (framing_ == Framing::Length && resp_remaining_ > 0) {
        // The client is owed bytes that will never come; only closing tells it so.
        close_ = true;
        resp_error_ =
            make_error(ErrorCode::Internal, "response body shorter than its Content-Length by " +
                                                std::to_string(resp_remaining_) + " bytes");
        return *resp_error_;
    }
    return {};
}

// ---- TLS context ------------------------------------------------------------------------------

// The OpenSSL error queue as text (and emptied), for messages that name the file at fault.
std::string take_openssl_errors() {
    std::string out;
    while (unsigned long code = ERR_get_error()) {
        char text[256];
        ERR_error_string_n(code, text, sizeof text);
        if (!out.empty()) {
            out += "; ";
        }
        out += text;
    }
    return out.empty() ? "no details from OpenSSL" : out;
}

// Never prompts for a passphrase on the terminal (OpenSSL's default for an encrypted key).
int refuse_passphrase(char*, int, int, void*) {
    return 0;
}

// ALPN: HTTP/1.1 when the client offers it; otherwise no protocol is agreed and the client
// falls back to HTTP/1.1 by default or gives up.
int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                  unsigned int inlen, void*) {
    static constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

Error tls_file_error(const std::string& what, const std::string& file, const std::string& why) {
    return make_error(ErrorCode::InvalidArgument, "TLS " + what + " file " + file + ": " + why);
}

Result<std::unique_ptr<net::ssl::context>> make_tls_context(const ServerTls& tls) {
    if (tls.certificate_pem_file.empty() || tls.key_pem_file.empty()) {
        return make_error(ErrorCode::InvalidArgument,
                          "TLS needs both a certificate file and a key file");
    }
    auto cert_pem = read_file(tls.certificate_pem_file, kMaxPemFileBytes);
    if (!cert_pem) {
        return tls_file_error("certificate", tls.certificate_pem_file, cert_pem.error().message);
    }
    auto key_pem = read_file(tls.key_pem_file, kMaxPemFileBytes);
    if (!key_pem) {
        return tls_file_error("key", tls.key_pem_file, key_pem.error().message);
    }
    // The key text is secret: wiped however this function ends.
    struct Wipe {
        std::string& s;
        ~Wipe() { OPENSSL_cleanse(s.data(), s.size()); }
    } wipe{*key_pem};
    ERR_clear_error();

    // The certificate first, then any intermediates, as web servers expect the file.
    std::unique_ptr<X509, X509Free> leaf;
    std::vector<std::unique_ptr<X509, X509Free>> chain;
    {
        std::unique_ptr<BIO, BioFree> bio(
            BIO_new_mem_buf(cert_pem->data(), static_cast<int>(cert_pem->size())));
        if (!bio) {
            return make_error(ErrorCode::Internal, "out of memory reading the TLS certificate");
        }
        leaf.reset(PEM_read_bio_X509(bio.get(), nullptr, refuse_passphrase, nullptr));
        if (!leaf) {
            return tls_file_error("certificate", tls.certificate_pem_file,
                                  "no PEM certificate in it (" + take_openssl_errors() + ")");
        }
        while (X509* next = PEM_read_bio_X509(bio.get(), nullptr, refuse_passphrase, nullptr)) {
            chain.emplace_back(next);
        }
        ERR_clear_error(); // the loop ends on "no start line"
    }
    std::unique_ptr<EVP_PKEY, PkeyFree> key;
    {
        if (key_pem->find("ENCRYPTED") != std::string::npos) {
            return tls_file_error("key", tls.key_pem_file,
                                  "the key is encrypted; give it unencrypted (readable by this "
                                  "user only)");
        }
        std::unique_ptr<BIO, BioFree> bio(
            BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
        if (!bio) {
            return make_error(ErrorCode::Internal, "out of memory reading the TLS key");
        }
        key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, nullptr));
        if (!key) {
            return tls_file_error("key", tls.key_pem_file,
                                  "no PEM private key in it (" + take_openssl_errors() + ")");
        }
    }
    if (X509_check_private_key(leaf.get(), key.get()) != 1) {
        ERR_clear_error();
        return make_error(ErrorCode::InvalidArgument,
                          "TLS key file " + tls.key_pem_file +
                              " does not hold the private key of the certificate in " +
                              tls.certificate_pem_file);
    }

    auto context = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    SSL_CTX* ctx = context->native_handle();
    bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
              SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) == 1 &&
              SSL_CTX_set_ciphersuites(ctx, kTls13Suites) == 1 &&
              SSL_CTX_set1_groups_list(ctx, kTlsGroups) == 1 &&
              SSL_CTX_set_dh_auto(ctx, 1) == 1 && SSL_CTX_use_certificate(ctx, leaf.get()) == 1;
    for (const auto& cert : chain) {
        ok = ok && SSL_CTX_add1_chain_cert(ctx, cert.get()) == 1;
    }
    ok = ok && SSL_CTX_use_PrivateKey(ctx, key.get()) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    if (!ok) {
        return tls_file_error("certificate", tls.certificate_pem_file,
                              "refused by OpenSSL (" + take_openssl_errors() + ")");
    }
    // No renegotiation (TLS 1.2; 1.3 has none), no compression (CRIME), no stateless session
    // tickets (a ticket key that is never rotated; Mozilla's advice): sessions resume from the
    // server's own cache instead.
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, 4096);
    SSL_CTX_set_alpn_select_cb(ctx, select_http11, nullptr);
    SSL_CTX_set_default_passwd_cb(ctx, refuse_passphrase);
    if (X509_cmp_current_time(X509_get0_notAfter(leaf.get())) < 0) {
        component_logger("http")->warn("TLS certificate has expired file={}",
                                       tls.certificate_pem_file);
    }
    return context;
}

// ---- Server -----------------------------------------------------------------------------------

// An over-limit connection: answered with 503 on the acceptor's io_context, never a thread.
struct Rejection {
    explicit Rejection(net::io_context& ioc) : socket(ioc), timer(ioc) {}
    tcp::socket socket;
    net::steady_timer timer;
    std::string response;
    std::array<char, 4096> sink;
};

class BeastServer final : public Server {
public:
    BeastServer(ServerLimits limits, Handler handler) {
        shared_.limits = limits;
        shared_.handler = std::move(handler);
        shared_.log = component_logger("http");
    }
    ~BeastServer() override {
        // run() joins every connection thread before it returns, so normally nothing is left;
        // this only keeps a misuse (destroying a server whose run() ended abnormally) defined.
        std::unordered_map<std::uint64_t, Slot> slots;
        {
            std::lock_guard lock(mutex_);
            slots.swap(slots_);
        }
        for (auto& [id, slot] : slots) {
            if (slot.thread.joinable()) {
                slot.conn->kill();
                slot.thread.join();
            }
        }
    }

    Result<void> open(const std::string& host, std::uint16_t port);
    void use_tls(std::unique_ptr<net::ssl::context> context) { shared_.tls = std::move(context); }
    std::uint16_t port() const override { return port_; }
    void run() override;
    void stop() override;

private:
    struct Slot {
        std::unique_ptr<Connection> conn;
        std::thread thread;
    };

    void start_accept();
    void on_accept(const error_code& ec);
    void retry_accept_later();
    void spawn();
    void reject();
    void finish_rejection(const std::shared_ptr<Rejection>& r);
    void drain_rejection(const std::shared_ptr<Rejection>& r);
    void close_acceptor();
    void connection_main(Connection* conn, std::uint64_t id);
    void reap(std::uint64_t id);

    Shared shared_;
    net::io_context accept_ioc_{1}; // run by run()'s thread only
    tcp::acceptor acceptor_{accept_ioc_};
    net::steady_timer backoff_{accept_ioc_};
    tcp protocol_ = tcp::v4();
    std::uint16_t port_ = 0;
    std::unique_ptr<Connection> pending_; // the next accepted socket goes here
    std::unordered_set<std::shared_ptr<Rejection>> rejections_; // acceptor thread only
    std::atomic<bool> ran_{false};
    DateLine date_; // acceptor thread only

    std::mutex mutex_;
    std::condition_variable all_done_;
    std::unordered_map<std::uint64_t, Slot> slots_; // guarded by mutex_
    std::size_t live_ = 0;                          // connection threads not yet ended
    std::uint64_t next_id_ = 0;
    SteadyClock::time_point stop_at_;
};

Result<void> BeastServer::open(const std::string& host, std::uint16_t port) {
    error_code ec;
    tcp::endpoint endpoint;
    auto address = net::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
    if (!ec) {
        endpoint = tcp::endpoint(address, port);
    } else {
        tcp::resolver resolver(accept_ioc_);
        auto results = resolver.resolve(host, std::to_string(port), ec);
        if (ec || results.empty()) {
            return make_error(ErrorCode::InvalidArgument,
                              "cannot resolve listen host " + host + ": " + ec.message());
        }
        endpoint = results.begin()->endpoint();
    }
    auto where = host + ":" + std::to_string(port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) {
        acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        acceptor_.bind(endpoint, ec);
    }
    if (!ec) {
        acceptor_.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        return make_error(ErrorCode::Unavailable,
                          "cannot listen on " + where + ": " + ec.message());
    }
    auto local = acceptor_.local_endpoint(ec);
    if (ec) {
        return make_error(ErrorCode::Unavailable,
                          "cannot listen on " + where + ": " + ec.message());
    }
    port_ = local.port();
    protocol_ = endpoint.protocol();
    pending_ = std::make_unique<Connection>(shared_);
    shared_.log->debug("listening address={}", format_endpoint(local));
    return {};
}

void BeastServer::start_accept() {
    acceptor_.async_accept(pending_->socket(), [this](const error_code& ec) { on_accept(ec); });
}

void BeastServer::retry_accept_later() {
    backoff_.expires_after(kAcceptBackoff);
    backoff_.async_wait([this](const error_code& ec) {
        if (!ec && !shared_.stopping.load()) {
            start_accept();
        }
    });
}

void BeastServer::on_accept(const error_code& ec) {
    if (shared_.stopping.load() || !acceptor_.is_open()) {
        return;
    }
    if (ec) {
        shared_.log->debug("accept failed error={}", ec.message());
        if (ec == net::error::connection_aborted) {
            start_accept();
        } else {
            retry_accept_later(); // out of descriptors or memory: give it a moment
        }
        return;
    }
    bool over_limit;
    {
        std::lock_guard lock(mutex_);
        over_limit = live_ >= shared_.limits.max_connections;
    }
    try {
        if (over_limit) {
            reject();
        } else {
            spawn();
        }
    } catch (const std::exception& e) {
        // Typically no descriptors left for a new io_context, or no thread.
        shared_.log->warn("cannot serve accepted connection error={}", e.what());
        error_code ignored;
        pending_->socket().close(ignored);
        retry_accept_later();
        return;
    }
    start_accept();
}

void BeastServer::spawn() {
    auto next = std::make_unique<Connection>(shared_); // may throw: the accepted one stays put
    auto conn = std::exchange(pending_, std::move(next));
    std::lock_guard lock(mutex_);
    auto id = ++next_id_;
    auto& slot = slots_[id];
    slot.conn = std::move(conn);
    ++live_;
    try {
        // The thread cannot end before the slot is complete: it needs mutex_ to finish.
        slot.thread = std::thread(&BeastServer::connection_main, this, slot.conn.get(), id);
    } catch (const std::system_error& e) {
        --live_;
        slots_.erase(id); // closes the socket
        shared_.log->warn("cannot start connection thread error={}", e.what());
    }
}

void BeastServer::connection_main(Connection* conn, std::uint64_t id) {
    conn->serve();
    {
        std::lock_guard lock(mutex_);
        --live_;
    }
    all_done_.notify_all();
    // Join this thread from the acceptor so a long run does not collect dead threads. After
    // run() has stopped the acceptor loop this is never executed; run() joins instead.
    net::post(accept_ioc_, [this, id] { reap(id); });
}

void BeastServer::reap(std::uint64_t id) {
    Slot slot;
    {
        std::lock_guard lock(mutex_);
        auto it = slots_.find(id);
        if (it == slots_.end()) {
            return;
        }
        slot = std::move(it->second);
        slots_.erase(it);
    }
    if (slot.thread.joinable()) {
        slot.thread.join(); // it has already posted this: it is at its very end
    }
}

void BeastServer::reject() {
    error_code ec;
    int fd = pending_->socket().release(ec);
    if (ec) {
        pending_->socket().close(ec);
        return;
    }
    shared_.log->debug("connection limit reached max_connections={}",
                       shared_.limits.max_connections);
    if (rejections_.size() >= kMaxRejections) {
        ::close(fd);
        return;
    }
    auto r = std::make_shared<Rejection>(accept_ioc_);
    r->socket.assign(protocol_, fd, ec);
    if (ec) {
        ::close(fd);
        return;
    }
    error_code ignored;
    rejections_.insert(r);
    // Whatever happens, the socket is closed after kLingerTime.
    r->timer.expires_after(kLingerTime);
    r->timer.async_wait([r](const error_code& timer_ec) {
        if (!timer_ec) {
            error_code e;
            r->socket.close(e);
        }
    });
    if (shared_.tls) {
        // A TLS client cannot read a plain 503 and there is no thread to run a handshake on: it
        // gets a clean end of stream (its ClientHello read and discarded, so no reset).
        r->socket.shutdown(tcp::socket::shutdown_send, ignored);
        drain_rejection(r);
        return;
    }
    r->socket.set_option(tcp::no_delay(true), ignored);
    static constexpr std::string_view kBody = "Too many connections\n";
    r->response = "HTTP/1.1 503 Service Unavailable\r\n";
    r->response += date_.get();
    r->response += "Content-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\nContent-Length: ";
    append_number(r->response, kBody.size());
    r->response += "\r\nConnection: close\r\n\r\n";
    r->response += kBody;
    net::async_write(r->socket, net::buffer(r->response),
                     [this, r](const error_code& write_ec, std::size_t) {
                         if (write_ec) {
                             finish_rejection(r);
                             return;
                         }
                         error_code e;
                         r->socket.shutdown(tcp::socket::shutdown_send, e);
                         drain_rejection(r);
                     });
}

void BeastServer::drain_rejection(const std::shared_ptr<Rejection>& r) {
    r->socket.async_read_some(net::buffer(r->sink), [this, r](const error_code& ec, std::size_t) {
        if (ec) {
            finish_rejection(r);
        } else {
            drain_rejection(r);
        }
    });
}

void BeastServer::finish_rejection(const std::shared_ptr<Rejection>& r) {
    r->timer.cancel();
    error_code ignored;
    r->socket.close(ignored);
    rejections_.erase(r);
}

void BeastServer::close_acceptor() {
    error_code ignored;
    acceptor_.close(ignored);
    backoff_.cancel();
    for (const auto& r :
         std::vector<std::shared_ptr<Rejection>>(rejections_.begin(), rejections_.end())) {
        r->socket.close(ignored); // their handlers complete and remove them
    }
}

void BeastServer::run() {
    if (ran_.exchange(true)) {
        return; // one run per server
    }
    if (!shared_.stopping.load()) {
        start_accept();
    }
    for (;;) {
        try {
            accept_ioc_.run();
            break;
        } catch (const std::exception& e) {
            // Handlers catch their own failures; this is a last line of defence.
            shared_.log->error("acceptor loop error={}", e.what());
        }
    }
    if (!shared_.stopping.load()) {
        stop(); // the loop can only end on its own through a fatal error: shut down in order
    }
    pending_.reset();

    std::unique_lock lock(mutex_);
    auto deadline = stop_at_ + shared_.limits.shutdown_grace;
    if (!all_done_.wait_until(lock, deadline, [this] { return live_ == 0; })) {
        shared_.log->debug("shutdown grace over, closing connections remaining={}", live_);
        for (auto& [id, slot] : slots_) {
            slot.conn->kill();
        }
        // A handler blocked outside the socket (disk) still has to return by itself.
        all_done_.wait(lock, [this] { return live_ == 0; });
    }
    auto slots = std::move(slots_);
    slots_.clear();
    lock.unlock();
    for (auto& [id, slot] : slots) {
        if (slot.thread.joinable()) {
            slot.thread.join();
        }
    }
    shared_.log->debug("server stopped");
}

void BeastServer::stop() {
    if (shared_.stopping.exchange(true)) {
        return;
    }
    {
        std::lock_guard lock(mutex_);
        stop_at_ = SteadyClock::now();
        for (auto& [id, slot] : slots_) {
            slot.conn->request_stop();
        }
    }
    net::post(accept_ioc_, [this] { close_acceptor(); });
}

} // namespace

// ---- Request ----------------------------------------------------------------------------------

std::optional<std::string_view> Request::header(std::string_view lowercase_name) const {
    for (const auto& [name, value] : headers) {
        if (name == lowercase_name) {
            return std::string_view(value);
        }
    }
    return std::nullopt;
}

std::string_view Request::path() const {
    std::string_view t(target);
    return t.substr(0, t.find('?'));
}

std::string_view Request::query() const {
    std::string_view t(target);
    auto q = t.find('?');
    return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

Result<std::unique_ptr<Server>> Server::listen(const std::string& host, std::uint16_t port,
                                               ServerLimits limits, Handler handler,
                                               std::optional<ServerTls> tls) {
    if (!handler) {
        return make_error(ErrorCode::InvalidArgument, "http server needs a handler");
    }
    using std::chrono::milliseconds;
    if (limits.max_connections == 0 || limits.max_header_bytes < 256 ||
        limits.header_timeout <= milliseconds::zero() ||
        limits.idle_timeout <= milliseconds::zero() ||
        limits.body_progress_timeout <= milliseconds::zero() ||
        limits.write_timeout <= milliseconds::zero() ||
        limits.shutdown_grace < milliseconds::zero()) {
        return make_error(ErrorCode::InvalidArgument,
                          "http server limits: connections and timeouts must be positive and the "
                          "header limit at least 256 bytes");
    }
    try {
        auto server = std::make_unique<BeastServer>(limits, std::move(handler));
        if (tls) {
            auto context = make_tls_context(*tls);
            if (!context) {
                return context.error();
            }
            server->use_tls(std::move(*context));
        }
        if (auto opened = server->open(host, port); !opened) {
            return opened.error();
        }
        return std::unique_ptr<Server>(std::move(server));
    } catch (const std::exception& e) {
        return make_error(ErrorCode::Unavailable,
                          std::string("cannot start the http server: ") + e.what());
    }
}

} // namespace pf::http
