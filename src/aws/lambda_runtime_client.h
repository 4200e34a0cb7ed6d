// The Lambda Runtime API client (aws-protocols.md §4.1): what a custom runtime's loop calls.
// next() long-polls without a timeout; a 500 from any call means the environment is broken and the
// runtime must exit (Error code Unavailable with a message saying so).
#pragma once

#include "aws/http_transport.h"
#include "base/result.h"

#include <cstdint>
#include <string>

namespace pf::aws {

struct Invocation {
    std::string request_id;            // Lambda-Runtime-Aws-Request-Id
    std::int64_t deadline_ms = 0;      // Lambda-Runtime-Deadline-Ms (epoch ms); 0: none given
    std::string function_arn;          // Lambda-Runtime-Invoked-Function-Arn
    std::string trace_id;              // Lambda-Runtime-Trace-Id
    std::string payload;
};

struct FunctionError {
    std::string error_type;            // "Photoflux.PhotoRejected", "Runtime.ExitError", ...
    std::string error_message;
};

class LambdaRuntimeClient {
public:
    // runtime_api: the AWS_LAMBDA_RUNTIME_API value, "host:port".
    LambdaRuntimeClient(HttpTransport& transport, std::string runtime_api);

    Result<Invocation> next();
    Result<void> respond(const std::string& request_id, const std::string& body);
    // Posts {"errorMessage","errorType","stackTrace":[]} with Lambda-Runtime-Function-Error-Type.
    Result<void> fail(const std::string& request_id, const FunctionError& error);
    Result<void> init_error(const FunctionError& error);

private:
    HttpTransport& transport_;
    std::string base_;  // http://host:port/2018-06-01
};

}  // namespace pf::aws
