#include "notify/delivery_policy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace pf::notify {
namespace {

using std::chrono::milliseconds;

// The delays before retries 1..num_retries without jitter, in ms.
std::vector<long long> schedule(const RetryPolicy& policy) {
    std::vector<long long> out;
    for (int retry = 1;; ++retry) {
        auto delay = policy.delay_before_retry(retry, 0.0);
        if (!delay) {
            break;
        }
        out.push_back(delay->count());
    }
    return out;
}

RetryPolicy phased(BackoffFunction function) {
    RetryPolicy p;
    p.min_delay_target_s = 2;
    p.max_delay_target_s = 32;
    p.num_retries = 10;
    p.num_no_delay_retries = 1;
    p.num_min_delay_retries = 2;
    p.num_max_delay_retries = 3;
    p.backoff_function = function;
    return p;
}

// --- Default schedules -----------------------------------------------------------------------

TEST(RetryPolicyTest, HttpDefaultIsThreeRetriesTwentySecondsApart) {
    const RetryPolicy p = RetryPolicy::http_default();
    EXPECT_EQ(p.num_retries, 3);
    EXPECT_EQ(p.min_delay_target_s, 20);
    EXPECT_EQ(p.max_delay_target_s, 20);
    EXPECT_EQ(p.num_no_delay_retries, 0);
    EXPECT_EQ(p.num_min_delay_retries, 0);
    EXPECT_EQ(p.num_max_delay_retries, 0);
    EXPECT_EQ(p.backoff_function, BackoffFunction::Linear);
    EXPECT_EQ(schedule(p), (std::vector<long long>{20'000, 20'000, 20'000}));
    EXPECT_EQ(p.delay_before_retry(4, 0.0), std::nullopt);
    EXPECT_EQ(p.total_retry_time(), milliseconds(60'000));
    EXPECT_TRUE(p.validate("http.defaultHealthyRetryPolicy"));
    EXPECT_EQ(RetryPolicy::default_for("http"), p);
    EXPECT_EQ(RetryPolicy::default_for("https"), p);
}

TEST(RetryPolicyTest, SmtpPolicyHasFourPhasesAndFiftyRetries) {
    const RetryPolicy p = RetryPolicy::smtp_default();
    EXPECT_EQ(RetryPolicy::default_for("email"), p);
    EXPECT_EQ(RetryPolicy::default_for("email-json"), p);
    const std::vector<long long> delays = schedule(p);
    ASSERT_EQ(delays.size(), 50u);
    // 0 immediate; 2 at 10 s; 10 exponential from 10 s to 600 s; 38 at 600 s.
    const std::vector<long long> head = {10'000, 10'000, 10'000, 11'155,  13'464,  18'082,
                                         27'319, 45'793, 82'740, 156'634, 304'423, 600'000};
    EXPECT_EQ(std::vector<long long>(delays.begin(), delays.begin() + 12), head);
    for (std::size_t i = 12; i < delays.size(); ++i) {
        EXPECT_EQ(delays[i], 600'000) << "retry " << i + 1;
    }
    EXPECT_EQ(p.delay_before_retry(51, 0.0), std::nullopt);
    // About six and a half hours in all.
    EXPECT_GT(p.total_retry_time(), std::chrono::hours(6));
    EXPECT_LT(p.total_retry_time(), std::chrono::hours(7));
}

TEST(RetryPolicyTest, AwsManagedPolicyShape) {
    const RetryPolicy p = RetryPolicy::aws_managed_default();
    EXPECT_EQ(RetryPolicy::default_for("sqs"), p);
    EXPECT_EQ(p.num_retries, 100'015);
    EXPECT_EQ(p.delay_before_retry(3, 0.0), milliseconds(0));
    EXPECT_EQ(p.delay_before_retry(4, 0.0), milliseconds(1'000));
    EXPECT_EQ(p.delay_before_retry(6, 0.0), milliseconds(1'000));    // backoff starts at min
    EXPECT_EQ(p.delay_before_retry(15, 0.0), milliseconds(20'000));  // and ends at max
    EXPECT_EQ(p.delay_before_retry(100'015, 0.0), milliseconds(20'000));
    EXPECT_EQ(p.delay_before_retry(100'016, 0.0), std::nullopt);
}

// --- The four phases and the four backoff functions ------------------------------------------

TEST(RetryPolicyTest, LinearBackoffAcrossAllPhases) {
    // 1 immediate, 2 at min, 4 backoff (2 -> 32 s), 3 at max.
    EXPECT_EQ(schedule(phased(BackoffFunction::Linear)),
              (std::vector<long long>{0, 2'000, 2'000, 2'000, 12'000, 22'000, 32'000, 32'000,
                                      32'000, 32'000}));
}

TEST(RetryPolicyTest, ArithmeticBackoffAcrossAllPhases) {
    EXPECT_EQ(schedule(phased(BackoffFunction::Arithmetic)),
              (std::vector<long long>{0, 2'000, 2'000, 2'000, 7'000, 17'000, 32'000, 32'000, 32'000,
                                      32'000}));
}

TEST(RetryPolicyTest, GeometricBackoffAcrossAllPhases) {
    EXPECT_EQ(schedule(phased(BackoffFunction::Geometric)),
              (std::vector<long long>{0, 2'000, 2'000, 2'000, 5'040, 12'699, 32'000, 32'000, 32'000,
                                      32'000}));
}

TEST(RetryPolicyTest, ExponentialBackoffAcrossAllPhases) {
    EXPECT_EQ(schedule(phased(BackoffFunction::Exponential)),
              (std::vector<long long>{0, 2'000, 2'000, 2'000, 6'286, 14'857, 32'000, 32'000, 32'000,
                                      32'000}));
}

TEST(RetryPolicyTest, BackoffFunctionsStartAtMinEndAtMaxAndAreOrdered) {
    // SNS's graph: 10 retries from 5 s to 260 s.
    auto backoff_only = [](BackoffFunction f) {
        RetryPolicy p;
        p.min_delay_target_s = 5;
        p.max_delay_target_s = 260;
        p.num_retries = 10;
        p.backoff_function = f;
        return schedule(p);
    };
    const auto linear = backoff_only(BackoffFunction::Linear);
    const auto arithmetic = backoff_only(BackoffFunction::Arithmetic);
    const auto geometric = backoff_only(BackoffFunction::Geometric);
    const auto exponential = backoff_only(BackoffFunction::Exponential);
    for (const auto* s : {&linear, &arithmetic, &geometric, &exponential}) {
        ASSERT_EQ(s->size(), 10u);
        EXPECT_EQ(s->front(), 5'000);
        EXPECT_EQ(s->back(), 260'000);
        EXPECT_TRUE(std::is_sorted(s->begin(), s->end()));
    }
    for (std::size_t i = 1; i + 1 < 10; ++i) {
        EXPECT_GT(linear[i], arithmetic[i]) << i;
        EXPECT_GT(arithmetic[i], geometric[i]) << i;
        EXPECT_GT(geometric[i], exponential[i]) << i;
    }
}

TEST(RetryPolicyTest, SingleBackoffRetryUsesMinDelay) {
    RetryPolicy p;
    p.min_delay_target_s = 3;
    p.max_delay_target_s = 9;
    p.num_retries = 3;
    p.num_min_delay_retries = 1;
    p.num_max_delay_retries = 1;
    p.backoff_function = BackoffFunction::Exponential;
    EXPECT_EQ(schedule(p), (std::vector<long long>{3'000, 3'000, 9'000}));
}

TEST(RetryPolicyTest, ExhaustionAndOutOfRangeRetries) {
    RetryPolicy none;
    none.num_retries = 0;
    EXPECT_EQ(none.delay_before_retry(1, 0.0), std::nullopt);
    EXPECT_EQ(none.total_retry_time(), milliseconds(0));
    const RetryPolicy p = RetryPolicy::http_default();
    EXPECT_EQ(p.delay_before_retry(0, 0.0), std::nullopt);
    EXPECT_EQ(p.delay_before_retry(-1, 0.0), std::nullopt);
    EXPECT_EQ(p.delay_before_retry(std::numeric_limits<int>::max(), 0.0), std::nullopt);
}

TEST(RetryPolicyTest, JitterOnlyShortensAndIsBounded) {
    const RetryPolicy p = RetryPolicy::http_default();
    EXPECT_EQ(p.delay_before_retry(1, 0.0), milliseconds(20'000));
    EXPECT_EQ(p.delay_before_retry(1, 0.5), milliseconds(19'000));
    EXPECT_EQ(p.delay_before_retry(1, 1.0), milliseconds(18'000));
    EXPECT_EQ(p.delay_before_retry(1, 7.0), milliseconds(18'000));   // clamped
    EXPECT_EQ(p.delay_before_retry(1, -3.0), milliseconds(20'000));  // clamped
    EXPECT_EQ(p.delay_before_retry(1, std::nan("")), milliseconds(20'000));
    for (int i = 0; i <= 100; ++i) {
        const auto d = p.delay_before_retry(2, i / 100.0);
        ASSERT_TRUE(d);
        EXPECT_LE(*d, milliseconds(20'000));
        EXPECT_GE(*d, milliseconds(18'000));
    }
    // Immediate retries stay immediate.
    EXPECT_EQ(phased(BackoffFunction::Linear).delay_before_retry(1, 1.0), milliseconds(0));
}

TEST(RetryPolicyTest, BackoffFunctionNames) {
    EXPECT_EQ(to_string(BackoffFunction::Arithmetic), "arithmetic");
    EXPECT_EQ(parse_backoff_function("geometric"), BackoffFunction::Geometric);
    EXPECT_EQ(parse_backoff_function("EXPONENTIAL"), BackoffFunction::Exponential);
    EXPECT_EQ(parse_backoff_function("Linear"), BackoffFunction::Linear);
    EXPECT_EQ(parse_backoff_function("cubic"), std::nullopt);
}

// --- Parsing and validation ------------------------------------------------------------------

constexpr const char* kTopicPolicy =
    R"({"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":5,"maxDelayTarget":30,)"
    R"("numRetries":10,"numNoDelayRetries":1,"numMinDelayRetries":2,"numMaxDelayRetries":3,)"
    R"("backoffFunction":"exponential"},"disableSubscriptionOverrides":false,)"
    R"("defaultThrottlePolicy":{"maxReceivesPerSecond":5},)"
    R"("defaultRequestPolicy":{"headerContentType":"application/json"}}})";

TEST(DeliveryPolicyParseTest, TopicPolicyParsesAndPrintsCanonically) {
    auto parsed = parse_topic_delivery_policy(kTopicPolicy);
    ASSERT_TRUE(parsed) << parsed.error().message;
    ASSERT_TRUE(parsed->default_healthy_retry_policy);
    const RetryPolicy& r = *parsed->default_healthy_retry_policy;
    EXPECT_EQ(r.min_delay_target_s, 5);
    EXPECT_EQ(r.max_delay_target_s, 30);
    EXPECT_EQ(r.num_retries, 10);
    EXPECT_EQ(r.num_no_delay_retries, 1);
    EXPECT_EQ(r.num_min_delay_retries, 2);
    EXPECT_EQ(r.num_max_delay_retries, 3);
    EXPECT_EQ(r.backoff_function, BackoffFunction::Exponential);
    EXPECT_FALSE(parsed->disable_subscription_overrides);
    EXPECT_EQ(parsed->default_max_receives_per_second, 5);
    EXPECT_EQ(parsed->default_header_content_type, "application/json");
    // SNS's key order: the phase counts come max, no, min.
    EXPECT_EQ(parsed->to_json(),
              R"({"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":5,"maxDelayTarget":30,)"
              R"("numRetries":10,"numMaxDelayRetries":3,"numNoDelayRetries":1,)"
              R"("numMinDelayRetries":2,"backoffFunction":"exponential"},)"
              R"("disableSubscriptionOverrides":false,"defaultThrottlePolicy":)"
              R"({"maxReceivesPerSecond":5},"defaultRequestPolicy":)"
              R"({"headerContentType":"application/json"}}})");
    // The canonical text parses to the same policy.
    auto again = parse_topic_delivery_policy(parsed->to_json());
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *parsed);
}

TEST(DeliveryPolicyParseTest, SubscriptionPolicyParsesAndPrintsAsSnsShowsIt) {
    auto parsed = parse_subscription_delivery_policy(
        R"({"healthyRetryPolicy":{"minDelayTarget":2,"maxDelayTarget":4,"numRetries":2},)"
        R"("throttlePolicy":{"maxReceivesPerSecond":1},)"
        R"("requestPolicy":{"headerContentType":"text/plain"}})");
    ASSERT_TRUE(parsed) << parsed.error().message;
    ASSERT_TRUE(parsed->healthy_retry_policy);
    EXPECT_EQ(parsed->healthy_retry_policy->backoff_function, BackoffFunction::Linear);
    EXPECT_EQ(parsed->healthy_retry_policy->num_no_delay_retries, 0);
    EXPECT_EQ(parsed->max_receives_per_second, 1);
    EXPECT_EQ(parsed->header_content_type, "text/plain");
    EXPECT_EQ(parsed->to_json(),
              R"({"healthyRetryPolicy":{"minDelayTarget":2,"maxDelayTarget":4,"numRetries":2,)"
              R"("numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,)"
              R"("backoffFunction":"linear"},"sicklyRetryPolicy":null,)"
              R"("throttlePolicy":{"maxReceivesPerSecond":1},)"
              R"("requestPolicy":{"headerContentType":"text/plain"},"guaranteed":false})");
    // What SNS prints can be set back.
    auto again = parse_subscription_delivery_policy(parsed->to_json());
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(*again, *parsed);
}

TEST(DeliveryPolicyParseTest, LenientWhereSnsIs) {
    // Empty text: no policy.
    auto empty = parse_topic_delivery_policy("  ");
    ASSERT_TRUE(empty);
    EXPECT_EQ(*empty, TopicDeliveryPolicy{});
    auto empty_sub = parse_subscription_delivery_policy("");
    ASSERT_TRUE(empty_sub);
    EXPECT_EQ(*empty_sub, SubscriptionDeliveryPolicy{});
    // Integers in strings, nulls for unset values, upper-case function names, a UTF-8 charset.
    auto parsed = parse_subscription_delivery_policy(
        R"({"healthyRetryPolicy":{"minDelayTarget":"5","maxDelayTarget":20,"numRetries":5,)"
        R"("numMaxDelayRetries":null,"numNoDelayRetries":null,"numMinDelayRetries":null,)"
        R"("backoffFunction":"EXPONENTIAL"},"sicklyRetryPolicy":null,"throttlePolicy":null,)"
        R"("requestPolicy":{"headerContentType":"application/json; charset=UTF-8"},)"
        R"("guaranteed":false})");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->healthy_retry_policy->min_delay_target_s, 5);
    EXPECT_EQ(parsed->healthy_retry_policy->backoff_function, BackoffFunction::Exponential);
    EXPECT_EQ(parsed->max_receives_per_second, std::nullopt);
    EXPECT_EQ(parsed->header_content_type, "application/json; charset=UTF-8");
    auto topic = parse_topic_delivery_policy(R"({"http":{"disableSubscriptionOverrides":"true"}})");
    ASSERT_TRUE(topic) << topic.error().message;
    EXPECT_TRUE(topic->disable_subscription_overrides);
}

TEST(DeliveryPolicyParseTest, BoundaryValuesAreAccepted) {
    // 100 retries 1 s apart (100 s), and exactly 3600 s in all.
    for (const char* text :
         {R"({"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":1,"numRetries":100}})",
          R"({"healthyRetryPolicy":{"minDelayTarget":1200,"maxDelayTarget":1200,"numRetries":3}})",
          R"({"healthyRetryPolicy":{"minDelayTarget":3600,"maxDelayTarget":3600,"numRetries":1}})",
          R"({"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":3600,"numRetries":0}})",
          R"({"healthyRetryPolicy":{"minDelayTarget":5,"maxDelayTarget":30,"numRetries":6,)"
          R"("numNoDelayRetries":1,"numMinDelayRetries":2,"numMaxDelayRetries":3}})"}) {
        auto parsed = parse_subscription_delivery_policy(text);
        EXPECT_TRUE(parsed) << text << ": " << parsed.error().message;
    }
}

struct InvalidCase {
    const char* name;
    bool topic;
    std::string json;
    std::string message;  // after "Invalid parameter: DeliveryPolicy: "
};

std::string sub_retry(const std::string& fields) {
    return R"({"healthyRetryPolicy":{)" + fields + "}}";
}
std::string topic_retry(const std::string& fields) {
    return R"({"http":{"defaultHealthyRetryPolicy":{)" + fields + "}}}";
}

class DeliveryPolicyInvalidTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(DeliveryPolicyInvalidTest, RefusedWithSnsWording) {
    const InvalidCase& c = GetParam();
    const Error error = c.topic ? parse_topic_delivery_policy(c.json).error()
                                : parse_subscription_delivery_policy(c.json).error();
    EXPECT_EQ(error.code, ErrorCode::InvalidArgument);
    EXPECT_EQ(error.message, "Invalid parameter: DeliveryPolicy: " + c.message) << c.json;
    EXPECT_EQ(error.client_message(), error.message);
}

const std::string kDelays = R"("minDelayTarget":20,"maxDelayTarget":20,)";

INSTANTIATE_TEST_SUITE_P(
    Cases, DeliveryPolicyInvalidTest,
    ::testing::Values(
        InvalidCase{"NotJson", false, "{", "failed to parse JSON"},
        InvalidCase{"TrailingData", false, "{} {}", "failed to parse JSON"},
        InvalidCase{"Array", false, "[]", "policy must be a JSON object"},
        InvalidCase{"Null", true, "null", "policy must be a JSON object"},
        InvalidCase{"MissingMin", false, sub_retry(R"("maxDelayTarget":20,"numRetries":3)"),
                    "healthyRetryPolicy.minDelayTarget must be specified"},
        InvalidCase{"MissingMax", true, topic_retry(R"("minDelayTarget":20,"numRetries":3)"),
                    "http.defaultHealthyRetryPolicy.maxDelayTarget must be specified"},
        InvalidCase{"MissingRetries", false,
                    sub_retry(R"("minDelayTarget":20,"maxDelayTarget":20)"),
                    "healthyRetryPolicy.numRetries must be specified"},
        InvalidCase{"TooManyRetries", false,
                    sub_retry(R"("minDelayTarget":1,"maxDelayTarget":1,"numRetries":101)"),
                    "healthyRetryPolicy.numRetries must be less than or equal to 100"},
        InvalidCase{"NegativeRetries", true, topic_retry(kDelays + R"("numRetries":-1)"),
                    "http.defaultHealthyRetryPolicy.numRetries must be greater than or equal to 0"},
        InvalidCase{"MinZero", false,
                    sub_retry(R"("minDelayTarget":0,"maxDelayTarget":0,"numRetries":0)"),
                    "healthyRetryPolicy.minDelayTarget must be greater than or equal to 1"},
        InvalidCase{"MaxTooLarge", false,
                    sub_retry(R"("minDelayTarget":1,"maxDelayTarget":3601,"numRetries":0)"),
                    "healthyRetryPolicy.maxDelayTarget must be less than or equal to 3600"},
        InvalidCase{
            "MinAboveMax", false,
            sub_retry(R"("minDelayTarget":40,"maxDelayTarget":30,"numRetries":1)"),
            "healthyRetryPolicy.minDelayTarget must be less than or equal to maxDelayTarget"},
        InvalidCase{"NegativePhase", false,
                    sub_retry(kDelays + R"("numRetries":3,"numMinDelayRetries":-1)"),
                    "healthyRetryPolicy.numMinDelayRetries must be greater than or equal to 0"},
        InvalidCase{
            "PhasesAboveRetries", true,
            topic_retry(
                kDelays +
                R"("numRetries":5,"numNoDelayRetries":2,"numMinDelayRetries":2,"numMaxDelayRetries":2)"),
            "http.defaultHealthyRetryPolicy: numNoDelayRetries + numMinDelayRetries + "
            "numMaxDelayRetries must be less than or equal to numRetries"},
        InvalidCase{"HugePhase", false,
                    sub_retry(kDelays + R"("numRetries":3,"numNoDelayRetries":99999999999)"),
                    "healthyRetryPolicy: numNoDelayRetries + numMinDelayRetries + "
                    "numMaxDelayRetries must be less than or equal to numRetries"},
        InvalidCase{"UnknownBackoff", false,
                    sub_retry(kDelays + R"("numRetries":3,"backoffFunction":"cubic")"),
                    "healthyRetryPolicy.backoffFunction must be one of linear, arithmetic, "
                    "geometric, exponential"},
        InvalidCase{"TotalTimeOverAnHour", true,
                    topic_retry(R"("minDelayTarget":3599,"maxDelayTarget":3600,"numRetries":3)"),
                    "http.defaultHealthyRetryPolicy: Total policy retry time cannot be greater "
                    "than 3600 seconds"},
        InvalidCase{
            "TotalTimeOverAnHourInBackoff", false,
            sub_retry(
                R"("minDelayTarget":1,"maxDelayTarget":3600,"numRetries":2,"backoffFunction":"geometric")"),
            "healthyRetryPolicy: Total policy retry time cannot be greater than 3600 seconds"},
        InvalidCase{
            "ZeroThrottle", true,
            R"({"http":{"defaultThrottlePolicy":{"maxReceivesPerSecond":0}}})",
            "http.defaultThrottlePolicy.maxReceivesPerSecond must be greater than or equal to 1"},
        InvalidCase{"BadContentType", false,
                    R"({"requestPolicy":{"headerContentType":"text/bogus"}})",
                    "requestPolicy.headerContentType is not a supported content type"},
        InvalidCase{
            "OtherCharset", true,
            R"({"http":{"defaultRequestPolicy":{"headerContentType":"application/json; charset=latin1"}}})",
            "http.defaultRequestPolicy.headerContentType is not a supported content type"},
        InvalidCase{"UnknownTopLevel", true, R"({"https":{}})", "https is not a valid field"},
        InvalidCase{"UnknownInHttp", true, R"({"http":{"bogus":1}})",
                    "http.bogus is not a valid field"},
        InvalidCase{"UnknownInRetry", false, sub_retry(kDelays + R"("numRetries":3,"numRetry":3)"),
                    "healthyRetryPolicy.numRetry is not a valid field"},
        InvalidCase{"TopicFormForSubscription", false, "{\"http\":{}}",
                    "http is not a valid field"},
        InvalidCase{"FractionalRetries", false, sub_retry(kDelays + R"("numRetries":1.5)"),
                    "healthyRetryPolicy.numRetries must be an integer"},
        InvalidCase{"TextRetries", false, sub_retry(kDelays + R"("numRetries":"three")"),
                    "healthyRetryPolicy.numRetries must be an integer"},
        InvalidCase{"BoolOverrides", true, R"({"http":{"disableSubscriptionOverrides":"yes"}})",
                    "http.disableSubscriptionOverrides must be a boolean"},
        InvalidCase{"SectionNotObject", false, R"({"healthyRetryPolicy":5})",
                    "healthyRetryPolicy must be a JSON object"},
        InvalidCase{"ContentTypeNotString", false, R"({"requestPolicy":{"headerContentType":1}})",
                    "requestPolicy.headerContentType must be a string"},
        InvalidCase{"SicklyChecked", false, R"({"sicklyRetryPolicy":{"numRetries":1}})",
                    "sicklyRetryPolicy.minDelayTarget must be specified"},
        InvalidCase{"TooDeep", false, R"({"a":[[[[[[[[[[1]]]]]]]]]]})",
                    "policy is nested too deeply"},
        InvalidCase{"TooLarge", false, "{\"x\":\"" + std::string(40'000, 'a') + "\"}",
                    "policy is larger than 32768 bytes"}),
    [](const ::testing::TestParamInfo<InvalidCase>& param_info) {
        return std::string(param_info.param.name);
    });

TEST(DeliveryPolicyParseTest, ValidateMatchesParse) {
    RetryPolicy p = RetryPolicy::http_default();
    EXPECT_TRUE(p.validate("healthyRetryPolicy"));
    p.num_retries = 101;
    EXPECT_FALSE(p.validate("healthyRetryPolicy"));
    // SNS's own SMTP policy is longer than a custom policy may be.
    EXPECT_FALSE(RetryPolicy::smtp_default().validate("x"));
}

TEST(DeliveryPolicyParseTest, SupportedContentTypes) {
    for (const char* ok :
         {"text/plain", "text/plain; charset=UTF-8", "application/json", "APPLICATION/XML",
          "text/html;charset=utf-8", "text/csv", "application/x-www-form-urlencoded",
          "application/json; charset=\"utf-8\""}) {
        EXPECT_TRUE(is_supported_header_content_type(ok)) << ok;
    }
    for (const char* bad : {"", "text", "text/bogus", "image/jpeg", "text/plain; charset=latin1",
                            "text/plain; boundary=x", "text/plain;"}) {
        EXPECT_FALSE(is_supported_header_content_type(bad)) << bad;
    }
}

// --- Effective policy ------------------------------------------------------------------------

constexpr const char* kDefaultSubscriptionEffective =
    R"({"healthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,)"
    R"("numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,)"
    R"("backoffFunction":"linear"},"sicklyRetryPolicy":null,"throttlePolicy":null,)"
    R"("requestPolicy":{"headerContentType":"text/plain; charset=UTF-8"},"guaranteed":false})";

TEST(EffectiveDeliveryPolicyTest, DefaultsWithoutPolicies) {
    const EffectiveDeliveryPolicy e = effective_delivery_policy("https", nullptr, nullptr);
    EXPECT_EQ(e.retry, RetryPolicy::http_default());
    EXPECT_EQ(e.max_receives_per_second, std::nullopt);
    EXPECT_EQ(e.header_content_type, "text/plain; charset=UTF-8");
    EXPECT_EQ(e.to_json(), kDefaultSubscriptionEffective);
}

TEST(EffectiveDeliveryPolicyTest, TopicEffectivePolicyAsGetTopicAttributesShowsIt) {
    // What AWS reports for a topic without a DeliveryPolicy.
    EXPECT_EQ(effective_topic_delivery_policy_json(nullptr),
              R"({"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,)"
              R"("numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,)"
              R"("numMinDelayRetries":0,"backoffFunction":"linear"},)"
              R"("disableSubscriptionOverrides":false,)"
              R"("defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}})");
    auto throttled = parse_topic_delivery_policy(
        R"({"http":{"disableSubscriptionOverrides":true,"defaultThrottlePolicy":{"maxReceivesPerSecond":3}}})");
    ASSERT_TRUE(throttled);
    EXPECT_EQ(effective_topic_delivery_policy_json(&*throttled),
              R"({"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,)"
              R"("numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,)"
              R"("numMinDelayRetries":0,"backoffFunction":"linear"},)"
              R"("disableSubscriptionOverrides":true,)"
              R"("defaultThrottlePolicy":{"maxReceivesPerSecond":3},)"
              R"("defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}})");
}

TEST(EffectiveDeliveryPolicyTest, TopicPolicyAppliesToItsHttpSubscriptions) {
    auto topic = parse_topic_delivery_policy(kTopicPolicy);
    ASSERT_TRUE(topic);
    const EffectiveDeliveryPolicy e = effective_delivery_policy("http", &*topic, nullptr);
    EXPECT_EQ(e.retry, *topic->default_healthy_retry_policy);
    EXPECT_EQ(e.max_receives_per_second, 5);
    EXPECT_EQ(e.header_content_type, "application/json");
    EXPECT_EQ(e.to_json(),
              R"({"healthyRetryPolicy":{"minDelayTarget":5,"maxDelayTarget":30,"numRetries":10,)"
              R"("numMaxDelayRetries":3,"numNoDelayRetries":1,"numMinDelayRetries":2,)"
              R"("backoffFunction":"exponential"},"sicklyRetryPolicy":null,)"
              R"("throttlePolicy":{"maxReceivesPerSecond":5},)"
              R"("requestPolicy":{"headerContentType":"application/json"},"guaranteed":false})");
}

TEST(EffectiveDeliveryPolicyTest, SubscriptionOverridesSectionBySection) {
    auto topic = parse_topic_delivery_policy(kTopicPolicy);
    ASSERT_TRUE(topic);
    auto retry_only = parse_subscription_delivery_policy(
        R"({"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":2,"numRetries":4}})");
    ASSERT_TRUE(retry_only);
    EffectiveDeliveryPolicy e = effective_delivery_policy("https", &*topic, &*retry_only);
    EXPECT_EQ(e.retry, *retry_only->healthy_retry_policy);
    EXPECT_EQ(e.max_receives_per_second, 5);               // from the topic
    EXPECT_EQ(e.header_content_type, "application/json");  // from the topic

    auto request_only =
        parse_subscription_delivery_policy(R"({"requestPolicy":{"headerContentType":"text/xml"}})");
    ASSERT_TRUE(request_only);
    e = effective_delivery_policy("http", &*topic, &*request_only);
    EXPECT_EQ(e.retry, *topic->default_healthy_retry_policy);
    EXPECT_EQ(e.header_content_type, "text/xml");

    auto throttle_only =
        parse_subscription_delivery_policy(R"({"throttlePolicy":{"maxReceivesPerSecond":50}})");
    ASSERT_TRUE(throttle_only);
    EXPECT_EQ(effective_delivery_policy("http", &*topic, &*throttle_only).max_receives_per_second,
              50);
    // Without a topic policy the subscription's sections apply over the defaults.
    e = effective_delivery_policy("http", nullptr, &*request_only);
    EXPECT_EQ(e.retry, RetryPolicy::http_default());
    EXPECT_EQ(e.header_content_type, "text/xml");
}

TEST(EffectiveDeliveryPolicyTest, DisableSubscriptionOverridesKeepsTheTopicPolicy) {
    auto topic = parse_topic_delivery_policy(
        R"({"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":5,"maxDelayTarget":5,"numRetries":1},)"
        R"("disableSubscriptionOverrides":true}})");
    ASSERT_TRUE(topic);
    auto sub = parse_subscription_delivery_policy(
        R"({"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":2,"numRetries":4},)"
        R"("throttlePolicy":{"maxReceivesPerSecond":7},"requestPolicy":{"headerContentType":"text/xml"}})");
    ASSERT_TRUE(sub);
    const EffectiveDeliveryPolicy e = effective_delivery_policy("https", &*topic, &*sub);
    EXPECT_EQ(e.retry, *topic->default_healthy_retry_policy);
    // Sections the topic does not set come from the defaults, not from the subscription.
    EXPECT_EQ(e.max_receives_per_second, std::nullopt);
    EXPECT_EQ(e.header_content_type, "text/plain; charset=UTF-8");
}

TEST(EffectiveDeliveryPolicyTest, EmailIsNotConfigurable) {
    auto topic = parse_topic_delivery_policy(kTopicPolicy);
    auto sub = parse_subscription_delivery_policy(
        R"({"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":2,"numRetries":4}})");
    ASSERT_TRUE(topic);
    ASSERT_TRUE(sub);
    for (const char* protocol : {"email", "email-json"}) {
        const EffectiveDeliveryPolicy e = effective_delivery_policy(protocol, &*topic, &*sub);
        EXPECT_EQ(e.retry, RetryPolicy::smtp_default()) << protocol;
        EXPECT_EQ(e.max_receives_per_second, std::nullopt);
        EXPECT_EQ(e.header_content_type, "text/plain; charset=UTF-8");
    }
}

}  // namespace
}  // namespace pf::notify
