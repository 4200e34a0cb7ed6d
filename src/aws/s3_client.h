// A small S3 client for the function and the workers: the calls they make, signed with SigV4
// (session tokens included), path-style or virtual-hosted, retried with exponential backoff and
// full jitter on 5xx / SlowDown / timeouts / connection errors, with clock-skew correction
// (RequestTimeTooSkewed -> the server's Date is used for the next attempt).
//
// Errors (Error::code): NotFound (NoSuchKey/NoSuchBucket/404), PreconditionFailed (412),
// Forbidden (403 AccessDenied, SignatureDoesNotMatch), InvalidArgument (other 4xx, bad
// arguments), TooLarge (a body S3 cannot take), LimitExceeded (a listing over max_list_entries),
// Unavailable / Timeout (5xx, network, after retries: retryable), Internal (a response that is
// not what S3 sends). The message starts with S3's error code and message ("NoSuchKey: The
// specified key does not exist.") and then names the call, status and request id; the public
// message is the code and message only.
//
// Payload signing: in-memory bodies are signed with their SHA-256; streamed bodies (ByteSource)
// with UNSIGNED-PAYLOAD, and they are not retried once a byte was read. Keys are sent encoded once
// ('/' kept), the way S3 signs them. Thread-safe: calls may run concurrently on one client.
#pragma once

#include "aws/aws_environment.h"
#include "aws/http_transport.h"
#include "base/byte_stream.h"
#include "base/result.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pf::aws {

class RequestExecutor;

// The wall clock requests are signed with, and how a retry waits; tests replace both.
using WallClock = std::function<std::chrono::system_clock::time_point()>;
using Sleeper = std::function<void(std::chrono::milliseconds)>;

struct RetryPolicy {
    int max_attempts = 4;                            // the first try included
    std::chrono::milliseconds base_delay{100};       // full jitter: rand(0, min(cap, base*2^n))
    std::chrono::milliseconds max_delay{5'000};
};

struct S3ClientOptions {
    ServiceEndpoint endpoint;
    std::string region = "us-east-1";
    SigningCredentials credentials;
    // Custom endpoints: path style; AWS: virtual-hosted. Virtual-hosted falls back to path style
    // for IP endpoints and for bucket names that are not DNS labels (or contain '.' over https).
    bool path_style = true;
    RetryPolicy retry;
    std::uint64_t multipart_threshold = 16ull << 20;  // put_object bodies above: multipart
    // Raised to S3's 5 MiB minimum, and as needed to stay within 10,000 parts.
    std::uint64_t part_size = 8ull << 20;
    // Extra header sent on every request (e.g. {"x-amzn-trace-id", ...}); empty: none.
    std::vector<std::pair<std::string, std::string>> extra_headers;
    int list_page_size = 1000;                 // ListObjectsV2 max-keys (1-1000)
    std::size_t max_list_entries = 1'000'000;  // list_objects() refuses to collect more
    // Per-request budget; nullopt: the transport's default. Large objects need a large one.
    std::optional<std::chrono::milliseconds> request_timeout;
    WallClock clock;  // empty: the system clock
    Sleeper sleep;    // empty: std::this_thread::sleep_for
};

struct S3ObjectHead {
    std::uint64_t size = 0;    // Content-Length: the object's size (the slice's for a range)
    std::string etag;          // unquoted
    std::string content_type;
    std::vector<std::pair<std::string, std::string>> metadata;  // x-amz-meta-*, names lowercase, no prefix
    std::string metadata_value(const std::string& name) const {
        for (const auto& [n, v] : metadata) {
            if (n == name) return v;
        }
        return {};
    }
};

struct S3PutRequest {
    std::string bucket;
    std::string key;
    std::string content_type = "application/octet-stream";
    std::vector<std::pair<std::string, std::string>> metadata;  // names without x-amz-meta-
    std::string cache_control;
};

struct S3GetRequest {
    std::string bucket;
    std::string key;
    std::optional<std::string> if_match;  // ETag, quoted or not
    std::string range;                    // "bytes=0-9"; empty: the whole object
};

struct S3ListEntry {
    std::string key;
    std::uint64_t size = 0;
    std::string etag;
};

class S3Client {
public:
    S3Client(HttpTransport& transport, S3ClientOptions options);
    S3Client(S3Client&&) noexcept;
    ~S3Client();

    // Streams the object into `sink`. With if_match, PreconditionFailed when the ETag differs.
    // A failure after bytes reached the sink is not retried (the sink cannot take them back).
    Result<S3ObjectHead> get_object(const std::string& bucket, const std::string& key,
                                    ByteSink& sink,
                                    const std::optional<std::string>& if_match = std::nullopt);
    // The same with a byte range (206 answers are accepted).
    Result<S3ObjectHead> get_object(const S3GetRequest& request, ByteSink& sink);
    Result<S3ObjectHead> head_object(const std::string& bucket, const std::string& key);
    // Returns the ETag (unquoted). Multipart above the threshold (aborted on failure).
    Result<std::string> put_object(const S3PutRequest& request, const std::string& body);
    // A streamed body of exactly `length` bytes. Above the threshold: multipart, one part in
    // memory at a time (each part retried); at or below: one UNSIGNED-PAYLOAD PUT, not retried
    // once the source was read.
    Result<std::string> put_object(const S3PutRequest& request, ByteSource& body,
                                   std::uint64_t length);
    Result<void> delete_object(const std::string& bucket, const std::string& key);
    // Every key under the prefix (ListObjectsV2, all pages).
    Result<std::vector<S3ListEntry>> list_objects(const std::string& bucket,
                                                  const std::string& prefix);

    // What RequestTimeTooSkewed taught about the server's clock (server - local).
    std::chrono::milliseconds clock_offset() const;

private:
    struct Target;
    Result<Target> target(const std::string& bucket, const std::string& key) const;
    Result<std::string> put_single(const S3PutRequest& request, const std::string* body,
                                   ByteSource* source, std::uint64_t length);
    Result<std::string> put_multipart(const S3PutRequest& request, const std::string* body,
                                      ByteSource* source, std::uint64_t length);

    HttpTransport& transport_;
    S3ClientOptions options_;
    std::unique_ptr<RequestExecutor> executor_;
};

// S3ClientOptions from the environment: endpoint("s3"), region, credentials, and path style for
// custom endpoints or AWS_S3_FORCE_PATH_STYLE=true.
S3ClientOptions s3_client_options(const AwsEnvironment& environment);

}  // namespace pf::aws
