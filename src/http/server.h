// The HTTP/1.1 server (Boost.Beast/Asio stays behind this header). One thread per connection runs
// that connection's own io_context, so every socket operation has a timeout and a handler is plain
// synchronous code that may block on disk: a slow client holds only its own thread, never others.
//
// Bodies are streamed both ways: the handler pulls the request body through RequestBody (HTTP
// chunked framing already removed; `Expect: 100-continue` answered on the first read) and pushes
// the response through Response (fixed length or chunked). Limits: header bytes, connection count,
// header/idle/body-progress timeouts. stop() is graceful: no new connections, idle keep-alive
// connections closed, in-flight requests finish within a grace period.
//
// With a ServerTls the server speaks HTTPS only (OpenSSL stays inside server.cc): the handshake
// shares the first request's header_timeout, and everything above works the same over TLS.
#pragma once

#include "base/byte_stream.h"
#include "base/result.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::http {

struct ServerLimits {
    std::size_t max_header_bytes = 64 * 1024;  // request line + headers (presigned URLs are long)
    std::size_t max_connections = 1024;        // beyond: 503 and close
    std::chrono::milliseconds header_timeout{30'000};   // whole request head must arrive in this
    std::chrono::milliseconds idle_timeout{60'000};     // keep-alive wait for the next request
    std::chrono::milliseconds body_progress_timeout{60'000};  // no body bytes for this long
    std::chrono::milliseconds write_timeout{60'000};    // a response write making no progress
    std::chrono::milliseconds shutdown_grace{30'000};   // in-flight requests get this long on stop
};

// TLS termination. TLS 1.2 and 1.3 only, Mozilla "intermediate" ciphers, no renegotiation, ALPN
// http/1.1. The files are read once, by listen(); a key that does not match the certificate, an
// encrypted key or a file without PEM content is refused there with a message naming the file.
struct ServerTls {
    std::string certificate_pem_file;  // the certificate, then any intermediates (PEM)
    std::string key_pem_file;          // its private key, unencrypted PEM (RSA or EC)
};

// Header names are compared case-insensitively; the list keeps the wire order and duplicates.
struct Request {
    std::string method;  // "GET", "PUT", ... as sent
    std::string target;  // raw request-target ("/bucket/a%20b?x=1")
    std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
    std::string remote_address;                                 // "127.0.0.1:53122"
    std::optional<std::uint64_t> content_length;  // absent for chunked or no body
    bool chunked = false;                         // Transfer-Encoding: chunked
    bool expects_continue = false;                // Expect: 100-continue

    // First value of a header (name lowercase), or nullopt.
    std::optional<std::string_view> header(std::string_view lowercase_name) const;
    // The path part of target (still percent-encoded) and the raw query string (no '?').
    std::string_view path() const;
    std::string_view query() const;
};

// The request body. read() returns 0 at the end; errors are Timeout (no progress),
// CorruptInput (bad chunked framing) or Unavailable (connection closed early).
class RequestBody : public ByteSource {
public:
    // Bytes of body read so far (after HTTP de-chunking).
    virtual std::uint64_t bytes_read() const = 0;
    // True once the whole body has been read.
    virtual bool finished() const = 0;
};

class Response {
public:
    virtual ~Response() = default;
    // Sends the status line and headers. With content_length set, the body is exactly that many
    // bytes (for HEAD: the header is sent and no body follows). Without, the body is chunked.
    // Content-Length / Transfer-Encoding / Connection are managed by the server; do not pass them.
    virtual Result<void> start(int status, std::vector<std::pair<std::string, std::string>> headers,
                               std::optional<std::uint64_t> content_length) = 0;
    virtual Result<void> write(std::span<const char> bytes) = 0;
    // Ends the body (writes the last chunk when chunked). Called automatically if the handler
    // returns without calling it.
    virtual Result<void> finish() = 0;
    virtual bool started() const = 0;
    // Ask for the connection to close after this response (also done automatically when the
    // handler did not read the whole request body).
    virtual void close_after() = 0;
};

using Handler = std::function<void(const Request&, RequestBody&, Response&)>;

class Server {
public:
    // Binds and listens; "127.0.0.1:0" picks a free port (port() tells which). With `tls`, only
    // TLS connections are served: InvalidArgument when its files are unusable (nothing is bound
    // then). A plain HTTP request on a TLS port is answered with a plain 400 and closed.
    static Result<std::unique_ptr<Server>> listen(const std::string& host, std::uint16_t port,
                                                   ServerLimits limits, Handler handler,
                                                   std::optional<ServerTls> tls = std::nullopt);
    virtual ~Server() = default;

    virtual std::uint16_t port() const = 0;
    // Accepts connections until stop(); returns when every connection thread has ended.
    virtual void run() = 0;
    // Thread-safe, may be called from a signal-watching thread. Returns immediately.
    virtual void stop() = 0;
};

}  // namespace pf::http
