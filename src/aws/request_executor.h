// What the S3 and SNS clients share: build the wire URL, sign with SigV4, send through the
// HttpTransport, read the service's error document, and retry. Internal to aws/ (the clients'
// headers are the public API).
//
// Retries: full-jitter exponential backoff (sleep rand(0, min(max_delay, base * 2^n)) before
// retry n) on 5xx, 429, throttling codes (SlowDown, Throttling, ...) and retryable transport
// errors (timeouts, refused or reset connections); never on other 4xx. A request whose streamed
// body was already partly read, or whose response already went partly into the sink, is not
// retried (the bytes cannot be replayed). Clock skew: RequestTimeTooSkewed / RequestExpired make
// the server's Date header the clock for this and every later request of the executor (one
// immediate re-sign, no backoff).
#pragma once

#include "aws/endpoint_url.h"
#include "aws/http_transport.h"
#include "aws/s3_client.h"
#include "aws/sigv4.h"
#include "base/byte_stream.h"
#include "base/result.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace pf::aws {

// A service's error as its error document tells it.
struct ServiceError {
    std::string code;  // "NoSuchKey", "Throttling"; empty: the body said nothing usable
    std::string message;
    std::string request_id;
};

struct ExecutorConfig {
    std::string service;  // SigV4 service: "s3", "sns"
    std::string region;
    SigningCredentials credentials;
    RetryPolicy retry;
    HeaderList extra_headers;
    WallClock clock;  // empty: the system clock
    Sleeper sleep;    // empty: std::this_thread::sleep_for
    // Reads the service's error document; nullopt when the body is not one.
    std::function<std::optional<ServiceError>(std::string_view body)> read_error;
};

struct OutgoingRequest {
    std::string method;
    EndpointUrl endpoint;  // scheme and authority of this request (virtual host applied)
    std::string path;      // decoded, absolute ("/photos/in/a b.jpg")
    QueryParams query;     // decoded
    HeaderList headers;    // lowercase names; host and the SigV4 headers are added
    std::string body;
    // A streamed body instead (S3 only; signed as UNSIGNED-PAYLOAD).
    ByteSource* body_source = nullptr;
    std::uint64_t body_length = 0;
    ByteSink* sink = nullptr;  // receives a 2xx response body
    std::optional<std::chrono::milliseconds> timeout;
    // S3 may answer CompleteMultipartUpload with 200 and an <Error> document: a failure.
    bool error_document_on_200 = false;
    std::string what;  // "GET photos/in/a.jpg", for messages
};

class RequestExecutor {
public:
    RequestExecutor(HttpTransport& transport, ExecutorConfig config);

    // A 2xx response, or an Error whose code says what to do (see s3_client.h) and whose message
    // starts with the service's code and message.
    Result<TransportResponse> execute(const OutgoingRequest& request);

    // The correction learnt from RequestTimeTooSkewed (server time - local time).
    std::chrono::milliseconds clock_offset() const {
        return std::chrono::milliseconds(offset_ms_.load());
    }

private:
    std::chrono::system_clock::time_point now() const;
    std::chrono::milliseconds backoff(int retry_index);
    void pause(std::chrono::milliseconds delay) const;

    HttpTransport& transport_;
    ExecutorConfig config_;
    std::atomic<std::int64_t> offset_ms_{0};
    std::mutex rng_mutex_;
    std::mt19937_64 rng_;
};

// scheme://authority + the path encoded once ('/' kept) + the query, as S3 signs it.
std::string wire_url(const EndpointUrl& endpoint, std::string_view path, const QueryParams& query);

// ETag without its surrounding quotes (and without a weak "W/" prefix).
std::string unquote_etag(std::string_view etag);

}  // namespace pf::aws
