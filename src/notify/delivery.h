// One message on its way to one subscription, as it is persisted before the first attempt, and
// the Transport that attempts it. Shared by the delivery queue (notify_store), the dispatcher and
// the transports (http/https, email, email-json).
//
// The bytes are fixed when the delivery is created: the envelope (with its Timestamp and
// Signature) or the raw message, the headers and the e-mail subject. Every retry sends exactly the
// same request, so the MessageId and the signature a receiver checks never change.
#pragma once

#include "base/result.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pf::notify {

struct Delivery {
    std::string id;                // the delivery's own id (uuid)
    std::string message_id;        // SNS MessageId: the same on every retry
    std::string topic_arn;
    std::string subscription_arn;  // empty for a SubscriptionConfirmation
    std::string protocol;          // "http", "https", "email", "email-json"
    std::string endpoint;          // URL or e-mail address
    std::string message_type;      // "Notification", "SubscriptionConfirmation", ...
    std::vector<std::pair<std::string, std::string>> headers;  // HTTP: x-amz-sns-*, Content-Type
    std::string subject;           // e-mail subject line
    std::string body;              // the exact bytes to send
    std::int64_t created_ms = 0;   // Unix ms when the message was published
    std::int64_t next_attempt_ms = 0;
    int attempts = 0;              // attempts made so far
    std::string last_error;        // why the last attempt failed
};

// A delivery whose retry policy is exhausted (or that failed permanently), kept until replayed.
struct DeadLetter {
    Delivery delivery;
    std::int64_t dead_at_ms = 0;
    std::string reason;
};

enum class Outcome {
    Delivered,  // SNS's success: a 2xx-4xx answer within the timeout (4xx is not retried)
    Retryable,  // 5xx, timeout, connection refused, DNS failure, SMTP 4xx
    Permanent,  // never worth retrying: a refused destination (SSRF rules), SMTP 5xx, bad URL
};

struct AttemptResult {
    Outcome outcome = Outcome::Retryable;
    std::string detail;  // "HTTP 503", "connect timeout after 15000 ms", ...
};

class Transport {
public:
    virtual ~Transport() = default;
    // One attempt, bounded by `timeout` in total. Thread-safe: called from several workers.
    virtual AttemptResult attempt(const Delivery& delivery, std::chrono::milliseconds timeout) = 0;
};

}  // namespace pf::notify
