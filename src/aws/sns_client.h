// SNS Publish over the Query API (form body, XML answer), SigV4-signed, retried like S3Client on
// 5xx / Throttling / network errors. Errors: NotFound (NotFound topic), InvalidArgument (other
// 4xx: InvalidParameter ..., and requests refused before sending: a message over 256 KiB, a
// subject of 100 characters or more or with a line break, more than 10 attributes), Forbidden
// (auth), Unavailable / Timeout (retryable), Internal (an answer without a MessageId).
#pragma once

#include "aws/aws_environment.h"
#include "aws/http_transport.h"
#include "aws/s3_client.h"
#include "base/result.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace pf::aws {

struct SnsClientOptions {
    ServiceEndpoint endpoint;
    std::string region = "us-east-1";
    SigningCredentials credentials;
    RetryPolicy retry;
    std::vector<std::pair<std::string, std::string>> extra_headers;
    std::optional<std::chrono::milliseconds> request_timeout;  // nullopt: the transport's
    WallClock clock;  // empty: the system clock
    Sleeper sleep;    // empty: std::this_thread::sleep_for
};

struct SnsPublish {
    std::string topic_arn;
    std::string subject;  // empty: none
    std::string message;
    // String attributes (DataType String).
    std::vector<std::pair<std::string, std::string>> string_attributes;
};

class SnsClient {
public:
    SnsClient(HttpTransport& transport, SnsClientOptions options);
    SnsClient(SnsClient&&) noexcept;
    ~SnsClient();
    // Returns the MessageId.
    Result<std::string> publish(const SnsPublish& request);

private:
    HttpTransport& transport_;
    SnsClientOptions options_;
    std::unique_ptr<RequestExecutor> executor_;
};

// SnsClientOptions from the environment: endpoint("sns"), region, credentials.
SnsClientOptions sns_client_options(const AwsEnvironment& environment);

// The Publish form body (Action=Publish&Version=2010-03-31&TopicArn=...&Message=...), values
// form-encoded (space '+', '+' %2B). Exposed for tests.
std::string publish_form(const SnsPublish& request);

}  // namespace pf::aws
