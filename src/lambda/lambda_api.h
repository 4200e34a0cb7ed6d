// The Lambda API of `photoflux serve` (rest-json, SigV4 service "lambda"), the parts a local
// function host can honour, so `aws lambda invoke --endpoint-url ...` works against it:
//
//   POST /2015-03-31/functions/{name}/invocations     Invoke (aws-protocols.md §4.4)
//        X-Amz-Invocation-Type: Event -> 202, the event is queued durably (x-amzn-RequestId);
//        DryRun -> 204 (the function exists). RequestResponse is refused with 400
//        InvalidRequestContentException: serve's host runs events asynchronously, as S3 does.
//
// Photoflux extensions for the on-failure dead letters (same signing, JSON):
//   GET  /_/lambda/dead-letters[?FunctionName=NAME&MaxItems=N]
//        -> {"DeadLetters":[{"id","function","condition","errorType","errorMessage","attempts",
//            "enqueuedAt","deadAt","traceId","payload":{...},"record":{...}}]} newest first
//   POST /_/lambda/dead-letters/replay  {"RequestIds":[...]} | {"FunctionName":N} | {"All":true}
//        -> {"Replayed":n}
//
// Errors: the status, header x-amzn-ErrorType and {"Type":"User"|"Service","message":...} as
// botocore expects (ResourceNotFoundException 404, InvalidRequestContentException 400,
// RequestTooLargeException 413, UnrecognizedClientException 403, InvalidSignatureException 403,
// ServiceException 500).
#pragma once

#include "http/server.h"
#include "lambda/function_host.h"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pf::lambda {

class LambdaApi {
public:
    struct Options {
        std::function<std::optional<std::string>(std::string_view access_key)> secret_for;
        std::chrono::milliseconds max_clock_skew{15 * 60 * 1000};
        std::size_t max_body_bytes = 6 * 1024 * 1024;  // AWS: 6 MB request payloads
    };

    LambdaApi(FunctionHost& host, Options options);

    // Whether a request is for this API: signed for service "lambda", or under /_/lambda/.
    static bool is_lambda_request(const http::Request& request);
    void handle(const http::Request& request, http::RequestBody& body, http::Response& response);

private:
    void invoke(const http::Request& request, const std::string& function, std::string body,
                http::Response& response);
    void list_dead_letters(const http::Request& request, http::Response& response);
    void replay(const std::string& body, http::Response& response);

    FunctionHost& host_;
    Options options_;
};

}  // namespace pf::lambda
