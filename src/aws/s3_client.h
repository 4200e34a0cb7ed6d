// A small S3 client for the function and the workers: the calls they make, signed with SigV4
// (session tokens included), path-style or virtual-hosted, retried with exponential backoff and
// full jitter on 5xx / SlowDown / timeouts / connection errors, with clock-skew correction
// (RequestTimeTooSkewed -> the server's Date is used for the next attempt).
//
// Errors (Error::code): NotFound (NoSuchKey/NoSuchBucket/404), PreconditionFailed (412),
// Forbidden (403 AccessDenied, SignatureDoesNotMatch), InvalidArgument (other 4xx),
// Unavailable / Timeout (5xx, network, after retries: retryable), Internal.
// The message carries S3's error code and message ("NoSuchKey: The specified key does not exist.").
#pragma once

#include "aws/aws_environment.h"
#include "aws/http_transport.h"
#include "base/byte_stream.h"
#include "base/result.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pf::aws {

struct RetryPolicy {
    int max_attempts = 4;                            // the first try included
    std::chrono::milliseconds base_delay{100};       // full jitter: rand(0, min(cap, base*2^n))
    std::chrono::milliseconds max_delay{5'000};
};

struct S3ClientOptions {
    ServiceEndpoint endpoint;
    std::string region = "us-east-1";
    SigningCredentials credentials;
    bool path_style = true;          // custom endpoints: path style; AWS: virtual-hosted
    RetryPolicy retry;
    std::uint64_t multipart_threshold = 16ull << 20;  // put_object bodies above: multipart
    std::uint64_t part_size = 8ull << 20;
    // Extra header sent on every request (e.g. {"x-amzn-trace-id", ...}); empty: none.
    std::vector<std::pair<std::string, std::string>> extra_headers;
};

struct S3ObjectHead {
    std::uint64_t size = 0;
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

struct S3ListEntry {
    std::string key;
    std::uint64_t size = 0;
    std::string etag;
};

class S3Client {
public:
    S3Client(HttpTransport& transport, S3ClientOptions options);

    // Streams the object into `sink`. With if_match, PreconditionFailed when the ETag differs.
    Result<S3ObjectHead> get_object(const std::string& bucket, const std::string& key,
                                    ByteSink& sink,
                                    const std::optional<std::string>& if_match = std::nullopt);
    Result<S3ObjectHead> head_object(const std::string& bucket, const std::string& key);
    // Returns the ETag (unquoted). Multipart above the threshold.
    Result<std::string> put_object(const S3PutRequest& request, const std::string& body);
    Result<void> delete_object(const std::string& bucket, const std::string& key);
    // Every key under the prefix (ListObjectsV2, all pages).
    Result<std::vector<S3ListEntry>> list_objects(const std::string& bucket,
                                                  const std::string& prefix);

private:
    HttpTransport& transport_;
    S3ClientOptions options_;
};

}  // namespace pf::aws
