// The photo function's handler: one invocation payload (an S3 event) in, the work done over S3
// and SNS, a JSON summary or a typed error out. It is a plain S3 + SNS client: the same code runs
// under `photoflux serve`'s host and on AWS Lambda.
//
// Per record:
//   ObjectCreated:*  an up-to-date manifest (same source ETag and recipe hash) means the photo was
//                    done: its photo.processed message is published again, nothing else. Else
//                    GET (If-Match the event's ETag; 412 / 404: a newer upload or a delete won,
//                    nothing to do), process, PUT the derivatives, the manifest LAST, publish.
//   ObjectRemoved:*  with delete_derivatives: remove the photo's folder and publish photo.deleted.
// The function never processes its own outputs (keys under the output prefix of the output
// bucket), whatever the notification filter says.
//
// Failures: the photo's own (unsupported, corrupt, over a limit, 403 on it) publish photo.failed
// and fail with kPhotoRejected (final); the others (S3/SNS 5xx, network, timeouts) fail with
// kRetryable, and a retry redoes only what is missing. Every request carries the invocation's
// trace id as x-amzn-trace-id.
#pragma once

#include "aws/aws_environment.h"
#include "aws/http_transport.h"
#include "aws/lambda_runtime_client.h"
#include "base/clock.h"
#include "function/function_config.h"
#include "imaging/processor.h"

#include <cstddef>
#include <optional>
#include <string>

namespace pf::function {

inline constexpr std::size_t kMaxEventBytes = 1 << 20;  // Lambda's async payload limit
inline constexpr std::size_t kMaxRecords = 100;         // S3 sends one per event
inline constexpr std::uint64_t kMaxManifestBytes = 4 << 20;

struct HandleOutcome {
    std::string response;                     // on success: {"records":[...]}
    std::optional<aws::FunctionError> error;  // set: the invocation failed
    bool ok() const { return !error.has_value(); }
};

class PhotoHandler {
public:
    // All referenced objects must outlive the handler. The processor is thread-safe; the handler
    // keeps no state between invocations.
    PhotoHandler(const FunctionConfig& config, const imaging::Processor& processor,
                 aws::HttpTransport& transport, aws::AwsEnvironment aws);

    HandleOutcome handle(const std::string& payload, const std::string& trace_id,
                         Deadline deadline) const;

private:
    class Invocation;
    const FunctionConfig& config_;
    const imaging::Processor& processor_;
    aws::HttpTransport& transport_;
    aws::AwsEnvironment aws_;
};

}  // namespace pf::function
