// SNS delivery policies: how often and how fast a failed delivery is retried, how fast a
// subscription may be sent to, and the Content-Type of HTTP/S requests.
//
// A topic's DeliveryPolicy attribute holds defaults for its HTTP/S subscriptions
// ({"http":{"defaultHealthyRetryPolicy":{…},"disableSubscriptionOverrides":…,
// "defaultThrottlePolicy":{…},"defaultRequestPolicy":{…}}}); a subscription's DeliveryPolicy holds
// its own ({"healthyRetryPolicy":{…},"throttlePolicy":{…},"requestPolicy":{…}}). Each section of a
// subscription's policy overrides the topic's unless the topic sets disableSubscriptionOverrides.
// Only HTTP/S is configurable; e-mail always uses SNS's fixed SMTP policy.
//
// Parsing validates with SNS's rules and words errors as SNS does
// ("Invalid parameter: DeliveryPolicy: healthyRetryPolicy.minDelayTarget must be specified").
#pragma once

#include "base/result.h"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pf::notify {

// SNS's limits for custom (HTTP/S) policies.
inline constexpr int kMaxNumRetries = 100;
inline constexpr int kMinDelayTargetSeconds = 1;
inline constexpr int kMaxDelayTargetSeconds = 3600;
inline constexpr int kMaxTotalRetrySeconds = 3600;  // the sum of every retry's delay
// Policy documents are small; anything larger or deeper is refused before parsing.
inline constexpr std::size_t kMaxDeliveryPolicyBytes = 32 * 1024;
inline constexpr int kMaxDeliveryPolicyDepth = 8;

inline constexpr std::string_view kDefaultHeaderContentType = "text/plain; charset=UTF-8";

// How the delay grows from minDelayTarget (the first backoff retry) to maxDelayTarget (the last)
// across the n retries of the backoff phase. With t = k / (n - 1) for backoff retry k = 0..n-1:
//   linear       min + (max - min) * t                           (constant step)
//   arithmetic   min + (max - min) * k(k+1) / ((n-1) n)          (steps grow by a constant)
//   geometric    min * (max / min)^t                             (constant ratio)
//   exponential  min + (max - min) * (2^k - 1) / (2^(n-1) - 1)   (steps double)
// All four start at min and end at max; for the same policy linear >= arithmetic >= geometric
// >= exponential in between, as in SNS's backoff graph. A backoff phase of one retry uses min.
enum class BackoffFunction { Linear, Arithmetic, Geometric, Exponential };

std::string_view to_string(BackoffFunction function);  // "linear", …
// Case-insensitive ("EXPONENTIAL" as the CDK spells it is accepted).
std::optional<BackoffFunction> parse_backoff_function(std::string_view name);

// A retry policy ("healthyRetryPolicy"). Retries are numbered from 1: retry 1 follows the first
// (initial) attempt, so a policy allows 1 + num_retries attempts in all. The retries run through
// four phases in order:
//   immediate     num_no_delay_retries, no delay
//   pre-backoff   num_min_delay_retries, min_delay_target_s apart
//   backoff       num_retries - the other three, growing from min to max by backoff_function
//   post-backoff  num_max_delay_retries, max_delay_target_s apart
struct RetryPolicy {
    int min_delay_target_s = 20;
    int max_delay_target_s = 20;
    int num_retries = 3;
    int num_no_delay_retries = 0;
    int num_min_delay_retries = 0;
    int num_max_delay_retries = 0;
    BackoffFunction backoff_function = BackoffFunction::Linear;

    // Jitter takes at most this fraction off a delay (see delay_before_retry).
    static constexpr double kJitterFraction = 0.1;

    // HTTP/S: 3 retries, 20 s apart.
    static RetryPolicy http_default();
    // SMTP (email, email-json): 0 immediate, 2 at 10 s, 10 exponential 10 -> 600 s, 38 at
    // 600 s. AWS's table calls these 50 "attempts"; here they are 50 retries after the first
    // attempt (about 6.5 hours in all).
    static RetryPolicy smtp_default();
    // AWS-managed endpoints (sqs, lambda, firehose; not delivered by Photoflux today):
    // 3 immediate, 2 at 1 s, 10 exponential 1 -> 20 s, 100,000 at 20 s.
    static RetryPolicy aws_managed_default();
    // The SNS default for a protocol: email/email-json -> SMTP, sqs/lambda/firehose ->
    // AWS-managed, anything else (http, https) -> HTTP.
    static RetryPolicy default_for(std::string_view protocol);

    int num_backoff_retries() const;

    // The delay before retry `retry` (1-based) as the policy defines it, without jitter; nullopt
    // when retry < 1 or retry > num_retries (the policy is exhausted).
    std::optional<std::chrono::milliseconds> base_delay(int retry) const;

    // The delay to wait before retry `retry`, with jitter: base_delay * (1 - kJitterFraction *
    // jitter_unit), where jitter_unit is uniform in [0, 1] from the caller's RNG (clamped to it;
    // NaN counts as 0). Jitter only ever shortens a delay, by at most 10%, so a jittered
    // schedule never exceeds the policy's delays, its maxDelayTarget or its total time, and
    // jitter_unit = 0 gives the exact schedule. Immediate retries stay at 0. nullopt when the
    // policy is exhausted.
    std::optional<std::chrono::milliseconds> delay_before_retry(int retry,
                                                                double jitter_unit) const;

    // The sum of every retry's base delay (SNS limits this to 3600 s for custom policies).
    std::chrono::milliseconds total_retry_time() const;

    // SNS's rules for a custom policy; `path` names it in the error
    // ("http.defaultHealthyRetryPolicy" or "healthyRetryPolicy").
    Result<void> validate(std::string_view path) const;

    bool operator==(const RetryPolicy&) const = default;
};

// The "http" section of a topic's DeliveryPolicy attribute, as set.
struct TopicDeliveryPolicy {
    std::optional<RetryPolicy> default_healthy_retry_policy;
    bool disable_subscription_overrides = false;
    std::optional<int> default_max_receives_per_second;      // defaultThrottlePolicy
    std::optional<std::string> default_header_content_type;  // defaultRequestPolicy

    // Canonical JSON text of the policy as set (keys in SNS's order, absent sections omitted).
    std::string to_json() const;

    bool operator==(const TopicDeliveryPolicy&) const = default;
};

// A subscription's DeliveryPolicy attribute, as set.
struct SubscriptionDeliveryPolicy {
    std::optional<RetryPolicy> healthy_retry_policy;
    std::optional<int> max_receives_per_second;      // throttlePolicy
    std::optional<std::string> header_content_type;  // requestPolicy

    // Canonical JSON text, in the form GetSubscriptionAttributes shows.
    std::string to_json() const;

    bool operator==(const SubscriptionDeliveryPolicy&) const = default;
};

// Parse and validate a DeliveryPolicy attribute value. Empty (or all-blank) text means "no
// policy" and gives an empty policy (SetTopicAttributes with an empty value clears it). Errors are
// InvalidArgument with SNS's wording, the same text as message and public message.
// Rules: numbers are integers (an integer in a string is accepted, as SNS's parser coerces it);
// null means absent; a healthy retry policy must specify minDelayTarget, maxDelayTarget and
// numRetries; 1 <= minDelayTarget <= maxDelayTarget <= 3600; 0 <= numRetries <= 100; phase counts
// >= 0 and their sum <= numRetries; backoffFunction linear|arithmetic|geometric|exponential; total
// retry time <= 3600 s; maxReceivesPerSecond >= 1; headerContentType one of SNS's content types
// (is_supported_header_content_type). AWS's own output keys (sicklyRetryPolicy,
// defaultSicklyRetryPolicy, guaranteed) are accepted and ignored so an EffectiveDeliveryPolicy
// can be set back; any other key is refused.
Result<TopicDeliveryPolicy> parse_topic_delivery_policy(std::string_view json);
Result<SubscriptionDeliveryPolicy> parse_subscription_delivery_policy(std::string_view json);

// The Content-Type values SNS accepts for headerContentType: application/json, application/xml,
// application/atom+xml, application/octet-stream, application/soap+xml,
// application/x-www-form-urlencoded, application/xhtml+xml, multipart/mixed, text/css,
// text/csv, text/html, text/plain, text/xml; compared case-insensitively, optionally followed
// by "; charset=UTF-8" (the bodies are UTF-8; another charset is refused).
bool is_supported_header_content_type(std::string_view value);

// What applies to one subscription's deliveries.
struct EffectiveDeliveryPolicy {
    RetryPolicy retry = RetryPolicy::http_default();
    std::optional<int> max_receives_per_second;  // no throttling when absent
    std::string header_content_type = std::string(kDefaultHeaderContentType);

    // As GetSubscriptionAttributes shows "EffectiveDeliveryPolicy":
    // {"healthyRetryPolicy":{…},"sicklyRetryPolicy":null,"throttlePolicy":null|{…},
    //  "requestPolicy":{"headerContentType":…},"guaranteed":false}
    std::string to_json() const;

    bool operator==(const EffectiveDeliveryPolicy&) const = default;
};

// Merges SNS defaults for `protocol`, the topic's policy and the subscription's: for HTTP/S each
// section (retry, throttle, request) comes from the subscription if it sets it and the topic does
// not disable overrides, else from the topic if it sets it, else the default. Other protocols
// (email, email-json, …) are not configurable: their fixed policy, no throttle, default content
// type.
EffectiveDeliveryPolicy effective_delivery_policy(std::string_view protocol,
                                                  const TopicDeliveryPolicy* topic,
                                                  const SubscriptionDeliveryPolicy* subscription);

// GetTopicAttributes "EffectiveDeliveryPolicy": the topic's policy over the HTTP defaults,
// {"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,
// "numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},
// "disableSubscriptionOverrides":false,["defaultThrottlePolicy":{"maxReceivesPerSecond":n},]
// "defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}} for no policy.
std::string effective_topic_delivery_policy_json(const TopicDeliveryPolicy* topic);

}  // namespace pf::notify
