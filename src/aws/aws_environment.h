// Region, credentials and endpoints the standard AWS way, from an environment map (app/ reads the
// real environment and passes it in; nothing here calls getenv):
//   AWS_REGION (else AWS_DEFAULT_REGION, else us-east-1), AWS_ACCESS_KEY_ID,
//   AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ENDPOINT_URL_<SERVICE> (e.g. _S3, _SNS, _SQS)
//   over AWS_ENDPOINT_URL over the regional endpoint (https://s3.<region>.amazonaws.com,
//   https://sns.<region>.amazonaws.com), AWS_S3_FORCE_PATH_STYLE / a custom endpoint -> path style.
#pragma once

#include "aws/sigv4.h"
#include "base/result.h"

#include <map>
#include <string>

namespace pf::aws {

using EnvironmentMap = std::map<std::string, std::string>;

struct ServiceEndpoint {
    std::string url;          // "https://s3.us-east-1.amazonaws.com" or "http://127.0.0.1:9000"
    bool custom = false;      // from AWS_ENDPOINT_URL*
};

struct AwsEnvironment {
    std::string region = "us-east-1";
    SigningCredentials credentials;
    EnvironmentMap variables;  // everything given, for endpoint lookups

    // InvalidArgument when the access key or secret is missing.
    static Result<AwsEnvironment> from(const EnvironmentMap& variables);
    // service: "s3", "sns", "sqs" (the SigV4 service name).
    ServiceEndpoint endpoint(const std::string& service) const;
};

}  // namespace pf::aws
