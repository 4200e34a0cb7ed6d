// SQS over its JSON protocol (POST /, X-Amz-Target: AmazonSQS.<Action>, Content-Type
// application/x-amz-json-1.0), SigV4-signed for service "sqs", retried like S3Client on 5xx /
// throttling / network errors (aws-protocols.md §6). Errors: NotFound (QueueDoesNotExist /
// AWS.SimpleQueueService.NonExistentQueue), InvalidArgument (other 4xx, e.g. ReceiptHandleIsInvalid,
// and requests refused before sending), Forbidden (auth), Unavailable / Timeout (retryable),
// Internal (an answer we cannot read).
#pragma once

#include "aws/aws_environment.h"
#include "aws/http_transport.h"
#include "aws/s3_client.h"
#include "base/result.h"

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pf::aws {

struct SqsClientOptions {
    ServiceEndpoint endpoint;
    std::string region = "us-east-1";
    SigningCredentials credentials;
    RetryPolicy retry;
    std::optional<std::chrono::milliseconds> request_timeout;  // nullopt: the transport's
    WallClock clock;  // empty: the system clock
    Sleeper sleep;    // empty: std::this_thread::sleep_for
};

struct SqsMessage {
    std::string message_id;
    std::string receipt_handle;
    std::string body;
    std::string md5_of_body;
    // System attributes asked for (ApproximateReceiveCount, SentTimestamp, ...).
    std::map<std::string, std::string> attributes;
    int receive_count() const;  // ApproximateReceiveCount, 0 when not asked for
};

struct SqsReceive {
    std::string queue_url;
    int max_messages = 10;              // 1-10
    std::chrono::seconds wait{20};      // long polling, 0-20 s
    std::optional<std::chrono::seconds> visibility_timeout;  // nullopt: the queue's
};

class SqsClient {
public:
    SqsClient(HttpTransport& transport, SqsClientOptions options);
    SqsClient(SqsClient&&) noexcept;
    ~SqsClient();

    // Long-polls; an empty vector when nothing arrived within `wait`. Always asks for
    // ApproximateReceiveCount and SentTimestamp. The request timeout is raised above `wait`.
    Result<std::vector<SqsMessage>> receive(const SqsReceive& request);
    Result<void> delete_message(const std::string& queue_url, const std::string& receipt_handle);
    // 0 makes the message visible again at once (a worker releasing what it will not finish).
    Result<void> change_visibility(const std::string& queue_url, const std::string& receipt_handle,
                                   std::chrono::seconds visibility_timeout);
    // Returns the MessageId. Bodies over 256 KiB are refused before sending (InvalidArgument).
    Result<std::string> send(const std::string& queue_url, const std::string& body);
    // The URL of a queue by name (and owner account, empty: the caller's).
    Result<std::string> queue_url(const std::string& queue_name, const std::string& owner_account = "");

private:
    HttpTransport& transport_;
    SqsClientOptions options_;
    // transport_ seen through a layer that keeps the x-amzn-query-error header of error answers
    // (the executor's error reader sees only the body).
    std::unique_ptr<HttpTransport> wire_;
    std::unique_ptr<RequestExecutor> executor_;
};

// SqsClientOptions from the environment: endpoint("sqs") (AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL,
// else the regional endpoint), region, credentials.
SqsClientOptions sqs_client_options(const AwsEnvironment& environment);

// What an SQS message of an S3-events queue carries (aws-protocols.md §3.6): the S3 event JSON
// itself, the same wrapped in an SNS envelope (Type Notification, Message = the event), or S3's
// s3:TestEvent (either way). Parsing never throws.
struct QueuedS3Event {
    enum class Kind { S3Event, TestEvent, Unrecognised };
    Kind kind = Kind::Unrecognised;
    std::string event_json;  // S3Event: the event (the SNS envelope's Message when wrapped)
    bool via_sns = false;
    std::string reason;  // Unrecognised: why, for the log
};
QueuedS3Event unwrap_queued_s3_event(std::string_view body);

}  // namespace pf::aws
