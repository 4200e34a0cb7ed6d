// s3load: the load client of bench/s3.sh. It exists because a Python client (boto3, aws-cli)
// spends more CPU per request than a fast server does: on a 2-core machine it would measure itself
// and hide the ratio between two servers. Here a request costs the client little beyond the
// kernel's own socket work: one persistent HTTP/1.1 connection per client thread, bodies sent from
// and received into memory (no disk on the client side), one SigV4 signature per request and
// nothing else.
//
//   s3load --endpoint URL --bucket B --op put|get --size BYTES [--clients N]
//          (--seconds S | --count C) [--warmup S] [--keys K] [--prefix P] [--verify]
//          [--skip-populate] [--server-pid PID]
//   s3load --endpoint URL --bucket B --op create-bucket
//   s3load --op disk-write|disk-read --dir DIR --size BYTES --count C
//
// put: every operation writes a new key unless --keys K (then K keys are overwritten in turn).
// get: K keys (default 1024, or one per client with --count) are written first, untimed, then read
//      round robin; each body is checked against what was written (always for bodies up to 1 MiB,
//      with --verify for bigger ones). --skip-populate reads a set an earlier run with the same
//      --prefix, --size and --keys wrote (bench/s3.sh drops the page cache in between).
// --seconds: each client runs back-to-back operations for S seconds (small objects, ops/s).
// --count:   each client runs exactly C operations (large objects, MB/s).
// --warmup:  the same operations first, on the same connections, not counted: at least one per
//            client, and more until S seconds have passed.
//
// Every request carries x-amz-content-sha256: UNSIGNED-PAYLOAD and is signed with
// pf::aws::sign_request, so two servers get byte-for-byte the same kind of request and neither
// hashes bodies for the signature. Credentials come from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (moto accepts any); region from AWS_REGION (default us-east-1).
//
// disk-write / disk-read are the disk's limit measured the way `photoflux serve` stores a body
// (src/storage/blob_files.cc): a temp file written through a buffer that grows from 64 KiB to
// 1 MiB, fsync, rename into another directory, fsync of that directory; and reading such a file
// back after posix_fadvise(DONTNEED) has dropped it from the page cache.
//
// Prints one JSON object: ops, ops_per_s, mb_per_s (MB = 10^6 bytes), p50_ms, p99_ms, max_ms,
// errors, and what helps judge them: connects (connections opened while timed; above 0 means the
// server closed keep-alive connections, as moto_server's Werkzeug does after every response) and
// client_cpu_s (CPU seconds of this process while timed; close to cores x seconds would mean the
// client, not the server, is the limit); with --server-pid, server_cpu_s (the server's CPU seconds
// meanwhile); others_cpu_s, what all other user-space processes used meanwhile (a build, a test
// suite: the measure of a disturbed run); and machine_cpu_s, the whole machine's busy time
// meanwhile, interrupts and kernel threads included.
#include "aws/sigv4.h"
#include "aws/uri_encoding.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadBufferBytes = 256 * 1024;
constexpr std::size_t kMaxHeadBytes = 64 * 1024;
// Bodies up to this size are always compared with what was written; bigger ones with --verify.
constexpr std::size_t kAlwaysVerifyBytes = 1 << 20;
// A client that fails this many operations in a row stops: the server is gone or refuses all.
constexpr int kMaxConsecutiveErrors = 100;

std::string errno_text(int err) {
    return std::strerror(err);
}

// ---- options -------------------------------------------------------------------------------

enum class Op { Put, Get, CreateBucket, DiskWrite, DiskRead };

struct Options {
    std::string endpoint;
    std::string bucket;
    Op op = Op::Put;
    std::string op_name;
    std::size_t size = 4096;
    int clients = 1;
    double seconds = 0;
    std::uint64_t count = 0;
    double warmup = 0;
    std::optional<std::uint64_t> keys;
    std::string prefix;
    bool verify = false;
    bool skip_populate = false;
    int server_pid = 0;
    std::string dir;
};

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr,
                 "s3load: %s\n"
                 "usage: s3load --endpoint URL --bucket B --op put|get --size BYTES [--clients N]\n"
                 "              (--seconds S | --count C) [--warmup S] [--keys K] [--prefix P]\n"
                 "              [--verify] [--skip-populate] [--server-pid PID]\n"
                 "       s3load --endpoint URL --bucket B --op create-bucket\n"
                 "       s3load --op disk-write|disk-read --dir DIR --size BYTES --count C\n",
                 message.c_str());
    std::exit(2);
}

template <typename T>
T parse_number(std::string_view flag, std::string_view text) {
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
        usage_error(std::string(flag) + ": not a number: " + std::string(text));
    }
    return value;
}

Options parse_options(int argc, char** argv) {
    Options o;
    o.prefix = "s3load-" + std::to_string(::getpid()) + "/";
    for (int i = 1; i < argc; ++i) {
        std::string_view flag = argv[i];
        if (flag == "--verify") {
            o.verify = true;
            continue;
        }
        if (flag == "--skip-populate") {
            o.skip_populate = true;
            continue;
        }
        if (i + 1 >= argc) {
            usage_error(std::string(flag) + " needs a value");
        }
        std::string_view value = argv[++i];
        if (flag == "--endpoint") {
            o.endpoint = value;
        } else if (flag == "--bucket") {
            o.bucket = value;
        } else if (flag == "--op") {
            o.op_name = value;
            if (value == "put") {
                o.op = Op::Put;
            } else if (value == "get") {
                o.op = Op::Get;
            } else if (value == "create-bucket") {
                o.op = Op::CreateBucket;
            } else if (value == "disk-write") {
                o.op = Op::DiskWrite;
            } else if (value == "disk-read") {
                o.op = Op::DiskRead;
            } else {
                usage_error("unknown --op " + std::string(value));
            }
        } else if (flag == "--size") {
            o.size = parse_number<std::size_t>(flag, value);
        } else if (flag == "--clients") {
            o.clients = parse_number<int>(flag, value);
        } else if (flag == "--seconds") {
            o.seconds = parse_number<double>(flag, value);
        } else if (flag == "--count") {
            o.count = parse_number<std::uint64_t>(flag, value);
        } else if (flag == "--warmup") {
            o.warmup = parse_number<double>(flag, value);
        } else if (flag == "--keys") {
            o.keys = parse_number<std::uint64_t>(flag, value);
        } else if (flag == "--prefix") {
            o.prefix = value;
        } else if (flag == "--server-pid") {
            o.server_pid = parse_number<int>(flag, value);
        } else if (flag == "--dir") {
            o.dir = value;
        } else {
            usage_error("unknown option " + std::string(flag));
        }
    }
    if (o.op_name.empty()) {
        usage_error("--op is required");
    }
    const bool disk = o.op == Op::DiskWrite || o.op == Op::DiskRead;
    if (disk) {
        if (o.dir.empty() || o.count == 0) {
            usage_error("disk modes need --dir and --count");
        }
        return o;
    }
    if (o.endpoint.empty() || o.bucket.empty()) {
        usage_error("--endpoint and --bucket are required");
    }
    if (o.op == Op::CreateBucket) {
        return o;
    }
    if (o.clients < 1 || o.clients > 1024) {
        usage_error("--clients must be 1..1024");
    }
    if ((o.seconds > 0) == (o.count > 0)) {
        usage_error("give exactly one of --seconds and --count");
    }
    if (o.keys && *o.keys == 0) {
        usage_error("--keys must be at least 1");
    }
    return o;
}

// ---- payload -------------------------------------------------------------------------------

// Incompressible, deterministic bytes (xorshift64): what was written can be checked on the way
// back, and no layer that compresses or deduplicates could flatter either server.
std::string make_payload(std::size_t size) {
    std::string out(size, '\0');
    std::uint64_t x = 0x9E3779B97F4A7C15ull;
    for (std::size_t i = 0; i < size; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::memcpy(out.data() + i, &x, std::min<std::size_t>(8, size - i));
    }
    return out;
}

// ---- HTTP/1.1 over one socket --------------------------------------------------------------

struct Endpoint {
    std::string host;
    std::string port;
    std::string host_header;  // "host:port" as the Host header and the signature carry it
};

std::optional<Endpoint> parse_endpoint(std::string_view url) {
    constexpr std::string_view scheme = "http://";
    if (!url.starts_with(scheme)) {
        return std::nullopt;  // TLS would measure the cipher, not the server
    }
    url.remove_prefix(scheme.size());
    if (auto slash = url.find('/'); slash != std::string_view::npos) {
        url = url.substr(0, slash);
    }
    auto colon = url.rfind(':');
    if (colon == std::string_view::npos || colon + 1 == url.size()) {
        return std::nullopt;
    }
    return Endpoint{std::string(url.substr(0, colon)), std::string(url.substr(colon + 1)),
                    std::string(url)};
}

struct ResponseInfo {
    int status = 0;
    bool close = false;            // the server will not take another request on this connection
    std::uint64_t body_bytes = 0;  // after de-chunking
    std::string error_body;        // the start of a non-2xx body, for the first error message
};

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

// One keep-alive connection, used by one thread. Failures come back as false plus a message; the
// caller closes the connection and the next request opens a new one.
class Connection {
public:
    explicit Connection(const Endpoint& endpoint) : endpoint_(endpoint), buf_(kReadBufferBytes) {}
    ~Connection() { close(); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    int connects() const { return connects_; }

    void close() {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
        begin_ = end_ = 0;
    }

    bool ensure_connected(std::string& error) {
        if (fd_ >= 0) {
            return true;
        }
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* found = nullptr;
        if (int rc = ::getaddrinfo(endpoint_.host.c_str(), endpoint_.port.c_str(), &hints, &found);
            rc != 0) {
            error = std::string("cannot resolve ") + endpoint_.host + ": " + ::gai_strerror(rc);
            return false;
        }
        int err = 0;
        for (addrinfo* a = found; a != nullptr && fd_ < 0; a = a->ai_next) {
            int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
            if (fd < 0) {
                err = errno;
                continue;
            }
            if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
                err = errno;
                ::close(fd);
                continue;
            }
            fd_ = fd;
        }
        ::freeaddrinfo(found);
        if (fd_ < 0) {
            error = "cannot connect to " + endpoint_.host_header + ": " + errno_text(err);
            return false;
        }
        // A small PUT is written as one segment, but its response must not wait for a delayed ACK.
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        // A server that stops answering must fail the run, not hang it.
        timeval timeout{120, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        ++connects_;
        return true;
    }

    // Head and body leave in one sendmsg where they fit (one TCP segment for a small PUT).
    bool send(std::string_view head, std::string_view body, std::string& error) {
        iovec parts[2] = {{const_cast<char*>(head.data()), head.size()},
                          {const_cast<char*>(body.data()), body.size()}};
        std::size_t first = 0;
        const std::size_t count = body.empty() ? 1 : 2;
        while (first < count) {
            msghdr msg{};
            msg.msg_iov = parts + first;
            msg.msg_iovlen = count - first;
            ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                error = "send: " + errno_text(errno);
                return false;
            }
            auto left = static_cast<std::size_t>(n);
            while (first < count && left >= parts[first].iov_len) {
                left -= parts[first].iov_len;
                ++first;
            }
            if (first < count) {
                parts[first].iov_base = static_cast<char*>(parts[first].iov_base) + left;
                parts[first].iov_len -= left;
            }
        }
        return true;
    }

    // Reads one whole response; body bytes go to sink(const char*, size_t) as they arrive.
    template <typename Sink>
    bool read_response(bool head_request, ResponseInfo& info, Sink&& sink, std::string& error) {
        info = ResponseInfo{};
        std::optional<std::uint64_t> content_length;
        bool chunked = false;
        // Interim 1xx responses (none expected: no Expect header is sent) are skipped.
        do {
            if (!read_head(info, content_length, chunked, error)) {
                return false;
            }
        } while (info.status >= 100 && info.status < 200);

        auto deliver = [&](const char* data, std::size_t n) {
            info.body_bytes += n;
            if (info.status >= 300 && info.error_body.size() < 512) {
                info.error_body.append(data, std::min(n, 512 - info.error_body.size()));
            }
            sink(data, n);
        };
        if (head_request || info.status == 204 || info.status == 304) {
            return true;
        }
        if (chunked) {
            return read_chunked(deliver, error);
        }
        if (content_length) {
            return read_exactly(*content_length, deliver, error);
        }
        // Neither length nor chunking: the body ends when the server closes.
        info.close = true;
        while (true) {
            if (begin_ < end_) {
                deliver(buf_.data() + begin_, end_ - begin_);
                begin_ = end_;
            }
            auto got = fill(error);
            if (got < 0) {
                return false;
            }
            if (got == 0) {
                return true;
            }
        }
    }

private:
    // Reads more bytes after end_; returns bytes read, 0 at EOF, -1 on error.
    ssize_t fill(std::string& error) {
        if (begin_ == end_) {
            begin_ = end_ = 0;
        } else if (end_ == buf_.size()) {
            std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        while (true) {
            ssize_t n = ::recv(fd_, buf_.data() + end_, buf_.size() - end_, 0);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                error = "recv: " + errno_text(errno);
                return -1;
            }
            end_ += static_cast<std::size_t>(n);
            return n;
        }
    }

    // Returns the line without CRLF; needs the whole line in the buffer.
    bool read_line(std::string& line, std::string& error) {
        while (true) {
            std::string_view have(buf_.data() + begin_, end_ - begin_);
            if (auto eol = have.find("\r\n"); eol != std::string_view::npos) {
                line.assign(have.substr(0, eol));
                begin_ += eol + 2;
                return true;
            }
            if (end_ - begin_ >= kMaxHeadBytes) {
                error = "line longer than " + std::to_string(kMaxHeadBytes) + " bytes";
                return false;
            }
            auto got = fill(error);
            if (got <= 0) {
                if (got == 0) {
                    error = "connection closed by the server";
                }
                return false;
            }
        }
    }

    bool read_head(ResponseInfo& info, std::optional<std::uint64_t>& content_length, bool& chunked,
                   std::string& error) {
        std::string line;
        if (!read_line(line, error)) {
            return false;
        }
        // "HTTP/1.1 200 OK"
        if (line.size() < 12 || !line.starts_with("HTTP/1.")) {
            error = "not an HTTP/1.x status line: " + line.substr(0, 80);
            return false;
        }
        const bool http10 = line[7] == '0';
        info.status = std::atoi(line.c_str() + 9);
        bool keep_alive_header = false;
        info.close = false;
        content_length.reset();
        chunked = false;
        while (true) {
            if (!read_line(line, error)) {
                return false;
            }
            if (line.empty()) {
                break;
            }
            auto colon = line.find(':');
            if (colon == std::string::npos) {
                continue;
            }
            std::string_view name(line.data(), colon);
            std::string_view value = trim(std::string_view(line).substr(colon + 1));
            if (iequals(name, "content-length")) {
                content_length = std::strtoull(std::string(value).c_str(), nullptr, 10);
            } else if (iequals(name, "transfer-encoding")) {
                chunked = value.find("chunked") != std::string_view::npos;
            } else if (iequals(name, "connection")) {
                info.close = iequals(value, "close");
                keep_alive_header = iequals(value, "keep-alive");
            }
        }
        if (http10 && !keep_alive_header) {
            info.close = true;
        }
        return true;
    }

    template <typename Deliver>
    bool read_exactly(std::uint64_t length, Deliver& deliver, std::string& error) {
        while (length > 0) {
            if (begin_ == end_) {
                auto got = fill(error);
                if (got <= 0) {
                    if (got == 0) {
                        error = "connection closed in the middle of a body";
                    }
                    return false;
                }
            }
            std::size_t n = std::min<std::uint64_t>(length, end_ - begin_);
            deliver(buf_.data() + begin_, n);
            begin_ += n;
            length -= n;
        }
        return true;
    }

    template <typename Deliver>
    bool read_chunked(Deliver& deliver, std::string& error) {
        std::string line;
        while (true) {
            if (!read_line(line, error)) {
                return false;
            }
            std::uint64_t size = std::strtoull(line.c_str(), nullptr, 16);
            if (size == 0) {
                break;
            }
            if (!read_exactly(size, deliver, error) || !read_line(line, error)) {
                return false;
            }
        }
        do {  // trailer fields up to the empty line
            if (!read_line(line, error)) {
                return false;
            }
        } while (!line.empty());
        return true;
    }

    const Endpoint& endpoint_;
    int fd_ = -1;
    int connects_ = 0;
    std::vector<char> buf_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

// ---- S3 requests ---------------------------------------------------------------------------

struct Target {
    Endpoint endpoint;
    std::string bucket;
    std::string region;
    pf::aws::SigningCredentials credentials;
};

std::string env_or(const char* name, const char* fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}

// The request head: request line, Host, the signer's headers, Content-Length for PUT.
std::string request_head(const Target& target, std::string_view method, std::string_view key,
                         std::optional<std::size_t> content_length) {
    std::string path = "/" + target.bucket;
    if (!key.empty()) {
        path.append("/").append(key);
    }
    pf::aws::SignRequest sign;
    sign.method = std::string(method);
    sign.path = path;
    sign.headers = {{"host", target.endpoint.host_header}};
    sign.payload_hash = std::string(pf::aws::kUnsignedPayload);
    sign.region = target.region;
    sign.service = "s3";
    sign.now = std::chrono::system_clock::now();
    const pf::aws::HeaderList added = pf::aws::sign_request(sign, target.credentials);

    std::string head;
    head.reserve(512);
    head.append(method).append(" ").append(pf::aws::uri_encode(path, true));
    head.append(" HTTP/1.1\r\nhost: ").append(target.endpoint.host_header).append("\r\n");
    for (const auto& [name, value] : added) {
        head.append(name).append(": ").append(value).append("\r\n");
    }
    if (content_length) {
        head.append("content-length: ").append(std::to_string(*content_length)).append("\r\n");
    }
    head.append("\r\n");
    return head;
}

// What one client thread measured.
struct ClientResult {
    std::vector<std::int64_t> latencies_ns;  // successful timed operations only
    std::uint64_t errors = 0;
    std::uint64_t populate_errors = 0;
    Clock::time_point finished;
    int connects = 0;
};

std::mutex first_error_mutex;
bool first_error_reported = false;

void report_error(const std::string& what) {
    std::lock_guard lock(first_error_mutex);
    if (!first_error_reported) {
        first_error_reported = true;
        std::fprintf(stderr, "s3load: first error: %s\n", what.c_str());
    }
}

class Client {
public:
    Client(const Target& target, const std::string& payload, std::size_t size, bool verify)
        : target_(target), payload_(payload), size_(size),
          verify_(verify || size <= kAlwaysVerifyBytes), connection_(target.endpoint) {}

    int connects() const { return connection_.connects(); }

    // Opens the connection ahead of the timed phase, so connecting is not part of the first
    // operation's time (failures are reported, and the first operation tries again).
    void connect() {
        std::string error;
        if (!connection_.ensure_connected(error)) {
            report_error(error);
        }
    }

    // One PUT of `size_` payload bytes. true when the server answered 2xx.
    bool put(const std::string& key) {
        return exchange("PUT", key, std::string_view(payload_.data(), size_), [](auto, auto) {});
    }

    // One GET; true when it answered 200 with exactly the bytes written.
    bool get(const std::string& key) {
        std::uint64_t offset = 0;
        bool same = true;
        bool ok = exchange("GET", key, {}, [&](const char* data, std::size_t n) {
            if (verify_ && same) {
                same = offset + n <= size_ && std::memcmp(payload_.data() + offset, data, n) == 0;
            }
            offset += n;
        });
        if (ok && (offset != size_ || !same)) {
            report_error("GET " + key + ": body differs from what was written (" +
                         std::to_string(offset) + " bytes, expected " + std::to_string(size_) +
                         ")");
            return false;
        }
        return ok;
    }

    // PUT of the bucket itself; returns the status (0 on a connection failure).
    int create_bucket() {
        int status = 0;
        exchange(
            "PUT", "", std::string_view(), [](auto, auto) {}, &status);
        return status;
    }

private:
    template <typename Sink>
    bool exchange(std::string_view method, const std::string& key, std::string_view body,
                  Sink&& sink, int* status_out = nullptr) {
        std::string error;
        const bool put = method == "PUT";
        const std::string head =
            request_head(target_, method, key, put ? std::optional(body.size()) : std::nullopt);
        ResponseInfo info;
        bool ok = connection_.ensure_connected(error);
        if (ok && !connection_.send(head, body, error)) {
            // A server that refuses a body (too large, bad signature) may answer and close before
            // reading it all; its answer says more than "broken pipe" does.
            std::string ignored;
            if (connection_.read_response(false, info, sink, ignored) && info.status != 0) {
                error += " after the server answered HTTP " + std::to_string(info.status) + " " +
                         info.error_body;
            }
            ok = false;
        }
        ok = ok && connection_.read_response(false, info, sink, error);
        if (!ok) {
            connection_.close();
            report_error(std::string(method) + " " + key + ": " + error);
            return false;
        }
        if (info.close) {
            connection_.close();
        }
        if (status_out != nullptr) {
            *status_out = info.status;
        }
        if (info.status < 200 || info.status >= 300) {
            if (status_out == nullptr) {
                report_error(std::string(method) + " " + key + ": HTTP " +
                             std::to_string(info.status) + " " + info.error_body);
            }
            return false;
        }
        return true;
    }

    const Target& target_;
    const std::string& payload_;
    std::size_t size_;
    bool verify_;
    Connection connection_;
};

// ---- the load run --------------------------------------------------------------------------

// CPU seconds used so far by this process, by the server under test (--server-pid), by all other
// user-space processes, and by the whole machine. Taken at both ends of the timed phase they tell
// what an operation costs the server, and whether anything else competed for the cores.
struct CpuSnapshot {
    double client = 0;
    double server = -1;  // -1: no --server-pid, or it could not be read
    double others = 0;
    double machine = 0;
};

double clock_tick_seconds() {
    return 1.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The fields of /proc/PID/stat this needs, in clock ticks.
struct ProcStat {
    int ppid = 0;
    unsigned long flags = 0;
    unsigned long long own = 0;       // utime + stime
    unsigned long long children = 0;  // cutime + cstime: children that ended and were reaped
};

// Fields are counted after the ")" that ends the command name, which may contain spaces.
std::optional<ProcStat> read_proc_stat(const std::string& pid) {
    FILE* f = std::fopen(("/proc/" + pid + "/stat").c_str(), "r");
    if (f == nullptr) {
        return std::nullopt;  // it ended meanwhile
    }
    char line[1024] = {};
    const bool read = std::fgets(line, sizeof line, f) != nullptr;
    std::fclose(f);
    const char* after = read ? std::strrchr(line, ')') : nullptr;
    ProcStat st;
    unsigned long long utime = 0;
    unsigned long long stime = 0;
    long long cutime = 0;
    long long cstime = 0;
    if (after == nullptr ||
        std::sscanf(after + 1, " %*c %d %*d %*d %*d %*d %lu %*u %*u %*u %*u %llu %llu %lld %lld",
                    &st.ppid, &st.flags, &utime, &stime, &cutime, &cstime) != 6) {
        return std::nullopt;
    }
    st.own = utime + stime;
    st.children = static_cast<unsigned long long>(cutime + cstime);
    return st;
}

double process_cpu_seconds(int pid) {
    auto st = read_proc_stat(std::to_string(pid));
    return st ? static_cast<double>(st->own) * clock_tick_seconds() : -1;
}

// Every user-space process but this one, the server and the server's children: a build or a test
// suite someone runs meanwhile. Own and reaped children's time, so that a compiler that starts and
// ends inside the window still counts, through its parent. Kernel threads are left out (here they
// are writeback and block completions for the benchmark's own I/O), and so is interrupt time,
// which no process is charged for; machine_busy_seconds counts both.
double other_processes_cpu_seconds(int server_pid) {
    constexpr unsigned long kKernelThread = 0x00200000;  // PF_KTHREAD
    const std::string self = std::to_string(::getpid());
    const std::string server = std::to_string(server_pid);
    unsigned long long ticks = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string pid = entry.path().filename().string();
        const bool numeric = !pid.empty() && std::all_of(pid.begin(), pid.end(), [](char c) {
            return c >= '0' && c <= '9';
        });
        if (!numeric || pid == self || pid == server) {
            continue;
        }
        auto st = read_proc_stat(pid);
        if (!st || (st->flags & kKernelThread) != 0 || (server_pid > 0 && st->ppid == server_pid)) {
            continue;
        }
        ticks += st->own + st->children;
    }
    return static_cast<double>(ticks) * clock_tick_seconds();
}

// user + nice + system + irq + softirq + steal of the "cpu" line of /proc/stat, as bench/lib.sh
// counts the machine's busy time.
double machine_busy_seconds() {
    FILE* f = std::fopen("/proc/stat", "r");
    if (f == nullptr) {
        return 0;
    }
    unsigned long long v[8] = {};
    const int got = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                                &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    std::fclose(f);
    if (got != 8) {
        return 0;
    }
    return static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * clock_tick_seconds();
}

CpuSnapshot cpu_snapshot(int server_pid) {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    auto secs = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    CpuSnapshot snap;
    snap.client = secs(usage.ru_utime) + secs(usage.ru_stime);
    snap.server = server_pid > 0 ? process_cpu_seconds(server_pid) : -1;
    snap.others = other_processes_cpu_seconds(server_pid);
    snap.machine = machine_busy_seconds();
    return snap;
}

double percentile_ms(const std::vector<std::int64_t>& sorted, double q) {
    if (sorted.empty()) {
        return 0;
    }
    // Nearest rank: the smallest value with at least q of the samples at or below it.
    auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    return static_cast<double>(sorted[std::max<std::size_t>(rank, 1) - 1]) / 1e6;
}

struct Summary {
    std::uint64_t ops = 0;
    std::uint64_t errors = 0;
    double seconds = 0;
    double ops_per_s = 0;
    double mb_per_s = 0;
    double p50_ms = 0;
    double p99_ms = 0;
    double max_ms = 0;
    double client_cpu_s = 0;
    double server_cpu_s = -1;
    double others_cpu_s = 0;
    double machine_cpu_s = 0;
    int connects = 0;

    void set_cpu(const CpuSnapshot& start, const CpuSnapshot& end) {
        client_cpu_s = end.client - start.client;
        server_cpu_s = start.server >= 0 && end.server >= 0 ? end.server - start.server : -1;
        others_cpu_s = end.others - start.others;
        machine_cpu_s = end.machine - start.machine;
    }
};

Summary summarise(std::vector<std::int64_t> latencies, std::uint64_t errors, double seconds,
                  std::size_t size) {
    std::sort(latencies.begin(), latencies.end());
    Summary s;
    s.ops = latencies.size();
    s.errors = errors;
    s.seconds = seconds;
    s.ops_per_s = seconds > 0 ? static_cast<double>(s.ops) / seconds : 0;
    s.mb_per_s = s.ops_per_s * static_cast<double>(size) / 1e6;
    s.p50_ms = percentile_ms(latencies, 0.50);
    s.p99_ms = percentile_ms(latencies, 0.99);
    s.max_ms = latencies.empty() ? 0 : static_cast<double>(latencies.back()) / 1e6;
    return s;
}

void print_json(const Options& o, const Summary& s) {
    char server_cpu[32] = "null";
    if (s.server_cpu_s >= 0) {
        std::snprintf(server_cpu, sizeof server_cpu, "%.3f", s.server_cpu_s);
    }
    std::printf("{\"op\": \"%s\", \"size\": %zu, \"clients\": %d, \"seconds\": %.3f, "
                "\"ops\": %llu, \"ops_per_s\": %.1f, \"mb_per_s\": %.1f, \"p50_ms\": %.3f, "
                "\"p99_ms\": %.3f, \"max_ms\": %.3f, \"errors\": %llu, \"connects\": %d, "
                "\"client_cpu_s\": %.3f, \"server_cpu_s\": %s, \"others_cpu_s\": %.3f, "
                "\"machine_cpu_s\": %.3f}\n",
                o.op_name.c_str(), o.size, o.clients, s.seconds,
                static_cast<unsigned long long>(s.ops), s.ops_per_s, s.mb_per_s, s.p50_ms, s.p99_ms,
                s.max_ms, static_cast<unsigned long long>(s.errors), s.connects, s.client_cpu_s,
                server_cpu, s.others_cpu_s, s.machine_cpu_s);
}

std::string object_key(const Options& o, std::uint64_t index) {
    return o.prefix + "obj-" + std::to_string(o.size) + "/" + std::to_string(index);
}

int run_load(const Options& o, const Target& target) {
    const std::string payload = make_payload(o.size);
    const auto clients = static_cast<std::uint64_t>(o.clients);
    // GET reads a set written beforehand: enough keys that a server cannot serve one hot object
    // from a cache the others do not get, or one per client for the large transfers.
    const std::uint64_t key_count = o.keys.value_or(o.op == Op::Put ? 0
                                                    : o.count > 0   ? clients
                                                                    : 1024);

    // Phase boundaries: the completion step runs once, after the last client arrives and before
    // any is released, so the timed phase starts at the same instant for all and the CPU reading
    // brackets exactly the timed operations.
    struct Phases {
        int completed = 0;
        Clock::time_point warmup_start;
        Clock::time_point timed_start;
        CpuSnapshot cpu_at_timed_start;
    } phases;
    auto on_phase = [&phases, &o]() noexcept {
        if (++phases.completed == 1) {
            phases.warmup_start = Clock::now();
        } else {
            phases.cpu_at_timed_start = cpu_snapshot(o.server_pid);
            phases.timed_start = Clock::now();
        }
    };
    std::barrier sync(o.clients, on_phase);
    std::vector<ClientResult> results(clients);
    std::atomic<bool> populate_failed{false};

    auto client_main = [&](std::uint64_t c) {
        ClientResult& r = results[c];
        Client client(target, payload, o.size, o.verify);
        client.connect();
        if (o.op == Op::Get && !o.skip_populate) {
            for (std::uint64_t k = c; k < key_count; k += clients) {
                if (!client.put(object_key(o, k))) {
                    populate_failed = true;
                    break;
                }
            }
        }
        // Every client issues the same sequence in every phase: operation n of client c uses
        // key number c + n * clients (a new key for PUT, round robin over the set for GET).
        std::uint64_t n = 0;
        auto one = [&](std::string_view phase) {
            const std::uint64_t index = c + n * clients;
            ++n;
            if (o.op == Op::Get) {
                return client.get(object_key(o, index % key_count));
            }
            if (key_count > 0) {
                return client.put(object_key(o, index % key_count));
            }
            return client.put(o.prefix + std::string(phase) + "-" + std::to_string(o.size) + "/" +
                              std::to_string(index));
        };

        sync.arrive_and_wait();
        if (!populate_failed && o.warmup > 0) {
            const auto until = phases.warmup_start + std::chrono::duration<double>(o.warmup);
            int failed_in_row = 0;
            do {
                failed_in_row = one("warmup") ? 0 : failed_in_row + 1;
            } while (Clock::now() < until && failed_in_row < kMaxConsecutiveErrors);
        }
        n = 0;
        // Connections the timed phase opens itself: any at all means the server closed some.
        const int connects_before = client.connects();
        sync.arrive_and_wait();
        if (populate_failed) {
            r.finished = Clock::now();
            return;
        }
        const auto until = phases.timed_start + std::chrono::duration<double>(o.seconds);
        r.latencies_ns.reserve(o.count > 0 ? o.count : 1 << 16);
        int failed_in_row = 0;
        for (std::uint64_t i = 0; failed_in_row < kMaxConsecutiveErrors; ++i) {
            if (o.count > 0 ? i >= o.count : Clock::now() >= until) {
                break;
            }
            const auto start = Clock::now();
            if (one("put")) {
                r.latencies_ns.push_back(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start)
                        .count());
                failed_in_row = 0;
            } else {
                ++r.errors;
                ++failed_in_row;
            }
        }
        r.finished = Clock::now();
        r.connects = client.connects() - connects_before;
    };

    std::vector<std::thread> threads;
    threads.reserve(clients);
    for (std::uint64_t c = 0; c < clients; ++c) {
        threads.emplace_back(client_main, c);
    }
    for (auto& t : threads) {
        t.join();
    }
    const CpuSnapshot cpu_at_end = cpu_snapshot(o.server_pid);
    if (populate_failed) {
        std::fprintf(stderr, "s3load: writing the objects to GET failed\n");
        return 1;
    }

    std::vector<std::int64_t> latencies;
    std::uint64_t errors = 0;
    Clock::time_point last = phases.timed_start;
    int connects = 0;
    for (const auto& r : results) {
        latencies.insert(latencies.end(), r.latencies_ns.begin(), r.latencies_ns.end());
        errors += r.errors;
        last = std::max(last, r.finished);
        connects += r.connects;
    }
    // Until the last client's last operation ended: an operation that started before the
    // deadline counts, and so does the time it took.
    Summary s = summarise(std::move(latencies), errors,
                          std::chrono::duration<double>(last - phases.timed_start).count(), o.size);
    s.set_cpu(phases.cpu_at_timed_start, cpu_at_end);
    s.connects = connects;
    print_json(o, s);
    return s.errors > 0 || s.ops == 0 ? 1 : 0;
}

int run_create_bucket(const Options& o, const Target& target) {
    const std::string payload;
    Client client(target, payload, 0, false);
    const int status = client.create_bucket();
    // 409 BucketAlreadyOwnedByYou: it exists, which is all the caller needs.
    const bool ok = (status >= 200 && status < 300) || status == 409;
    std::printf("{\"op\": \"create-bucket\", \"bucket\": \"%s\", \"status\": %d}\n",
                o.bucket.c_str(), status);
    return ok ? 0 : 1;
}

// ---- the disk, the way serve writes and reads a body ---------------------------------------

bool write_all(int fd, const char* data, std::size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, data, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        data += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

bool fsync_path(const std::filesystem::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

[[noreturn]] void disk_failure(const std::string& what) {
    std::fprintf(stderr, "s3load: %s: %s\n", what.c_str(), errno_text(errno).c_str());
    std::exit(1);
}

int run_disk(const Options& o) {
    namespace fs = std::filesystem;
    const fs::path tmp = fs::path(o.dir) / "tmp";
    const fs::path blobs = fs::path(o.dir) / "blobs";
    std::error_code ec;
    fs::create_directories(tmp, ec);
    fs::create_directories(blobs, ec);
    const std::string payload = o.op == Op::DiskWrite ? make_payload(o.size) : std::string();
    std::vector<char> buffer(1 << 20);
    std::vector<std::int64_t> latencies;
    latencies.reserve(o.count);
    const CpuSnapshot cpu_start = cpu_snapshot(0);
    const auto start = Clock::now();
    for (std::uint64_t i = 0; i < o.count; ++i) {
        // (append, not "f" + to_string: g++ 12 warns falsely on that, GCC bug 105329)
        const std::string name = std::string("f").append(std::to_string(i));
        const fs::path blob = blobs / name;
        const auto op_start = Clock::now();
        if (o.op == Op::DiskWrite) {
            const fs::path temp = tmp / (name + ".tmp");
            int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
            if (fd < 0) {
                disk_failure("create " + temp.string());
            }
            // serve's buffer starts at 64 KiB and doubles up to 1 MiB per write(2).
            std::size_t chunk = 64 * 1024;
            for (std::size_t done = 0; done < o.size;) {
                const std::size_t n = std::min(chunk, o.size - done);
                if (!write_all(fd, payload.data() + done, n)) {
                    disk_failure("write " + temp.string());
                }
                done += n;
                chunk = std::min<std::size_t>(chunk * 2, 1 << 20);
            }
            if (::fsync(fd) != 0 || ::close(fd) != 0) {
                disk_failure("fsync " + temp.string());
            }
            if (::rename(temp.c_str(), blob.c_str()) != 0 || !fsync_path(blobs)) {
                disk_failure("rename into " + blobs.string());
            }
        } else {
            int fd = ::open(blob.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                disk_failure("open " + blob.string() + " (run disk-write first)");
            }
            // The file was fsynced, so its pages are clean and DONTNEED really drops them: the
            // read below comes from the device, without needing root to drop every cache.
            ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            while (true) {
                ssize_t n = ::read(fd, buffer.data(), buffer.size());
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                if (n < 0) {
                    disk_failure("read " + blob.string());
                }
                if (n == 0) {
                    break;
                }
            }
            ::close(fd);
        }
        latencies.push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - op_start).count());
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    Summary s = summarise(std::move(latencies), 0, seconds, o.size);
    s.set_cpu(cpu_start, cpu_snapshot(0));
    print_json(o, s);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse_options(argc, argv);
    if (o.op == Op::DiskWrite || o.op == Op::DiskRead) {
        return run_disk(o);
    }
    auto endpoint = parse_endpoint(o.endpoint);
    if (!endpoint) {
        usage_error("--endpoint must look like http://HOST:PORT");
    }
    Target target{*endpoint,
                  o.bucket,
                  env_or("AWS_REGION", "us-east-1"),
                  {env_or("AWS_ACCESS_KEY_ID", "s3load"), env_or("AWS_SECRET_ACCESS_KEY", "s3load"),
                   env_or("AWS_SESSION_TOKEN", "")}};
    if (o.op == Op::CreateBucket) {
        return run_create_bucket(o, target);
    }
    return run_load(o, target);
}
