// SNS Publish over the Query API (form body, XML answer), SigV4-signed, retried like S3Client on
// 5xx / Throttling / network errors. Errors: NotFound (NotFound topic), InvalidArgument (other
// 4xx: InvalidParameter ...), Forbidden (auth), Unavailable / Timeout (retryable).
#pragma once

#include "aws/aws_environment.h"
#include "aws/http_transport.h"
#include "aws/s3_client.h"
#include "base/result.h"

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
    // Returns the MessageId.
    Result<std::string> publish(const SnsPublish& request);

private:
    HttpTransport& transport_;
    SnsClientOptions options_;
};

}  // namespace pf::aws
