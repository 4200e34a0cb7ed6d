#include "notify/delivery_policy.h"

#include "base/json_depth.h"

#include "base/ascii.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>

namespace pf::notify {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;
using std::chrono::milliseconds;

Error invalid(std::string detail) {
    return make_error(ErrorCode::InvalidArgument, "Invalid parameter: DeliveryPolicy: " + detail);
}

std::string join(std::string_view path, std::string_view key) {
    std::string out(path);
    if (!out.empty()) {
        out += '.';
    }
    out += key;
    return out;
}

bool is_blank(std::string_view text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

std::string_view trim(std::string_view text) {
    const auto blank = [](char c) { return c == ' ' || c == '\t'; };
    while (!text.empty() && blank(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && blank(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

Result<Json> parse_document(std::string_view text) {
    if (text.size() > kMaxDeliveryPolicyBytes) {
        return invalid("policy is larger than " + std::to_string(kMaxDeliveryPolicyBytes) +
                       " bytes");
    }
    if (json_nesting_exceeds(text, static_cast<std::size_t>(kMaxDeliveryPolicyDepth))) {
        return invalid("policy is nested too deeply");
    }
    Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
        return invalid("failed to parse JSON");
    }
    if (!doc.is_object()) {
        return invalid("policy must be a JSON object");
    }
    return doc;
}

// Every key of `object` must be one of `allowed`.
Result<void> check_keys(const Json& object, std::string_view path,
                        std::initializer_list<std::string_view> allowed) {
    for (const auto& item : object.items()) {
        if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end()) {
            return invalid(join(path, item.key()) + " is not a valid field");
        }
    }
    return {};
}

// The member `key` of `object`, or nullptr when it is absent or null (SNS's own output writes
// unset values as null).
const Json* member(const Json& object, std::string_view key) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
        return nullptr;
    }
    return &*it;
}

// Saturates to int so that range checks report the right bound for huge values.
int saturate(std::int64_t value) {
    return static_cast<int>(std::clamp<std::int64_t>(value, std::numeric_limits<int>::min(),
                                                     std::numeric_limits<int>::max()));
}

std::optional<int> parse_decimal(std::string_view text) {
    text = trim(text);
    bool negative = false;
    if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
        negative = text.front() == '-';
        text.remove_prefix(1);
    }
    if (text.empty() || text.size() > 12) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        value = value * 10 + (c - '0');
    }
    return saturate(negative ? -value : value);
}

Result<std::optional<int>> get_int(const Json& object, std::string_view key,
                                   std::string_view path) {
    const Json* value = member(object, key);
    if (value == nullptr) {
        return std::optional<int>();
    }
    if (value->is_number_unsigned()) {
        std::uint64_t v = value->get<std::uint64_t>();
        return std::optional<int>(v > static_cast<std::uint64_t>(std::numeric_limits<int>::max())
                                      ? std::numeric_limits<int>::max()
                                      : static_cast<int>(v));
    }
    if (value->is_number_integer()) {
        return std::optional<int>(saturate(value->get<std::int64_t>()));
    }
    if (value->is_string()) {
        if (auto parsed = parse_decimal(value->get_ref<const std::string&>())) {
            return std::optional<int>(*parsed);
        }
    }
    return invalid(join(path, key) + " must be an integer");
}

Result<std::optional<bool>> get_bool(const Json& object, std::string_view key,
                                     std::string_view path) {
    const Json* value = member(object, key);
    if (value == nullptr) {
        return std::optional<bool>();
    }
    if (value->is_boolean()) {
        return std::optional<bool>(value->get<bool>());
    }
    if (value->is_string()) {
        const auto& text = value->get_ref<const std::string&>();
        if (ascii_iequals(text, "true")) {
            return std::optional<bool>(true);
        }
        if (ascii_iequals(text, "false")) {
            return std::optional<bool>(false);
        }
    }
    return invalid(join(path, key) + " must be a boolean");
}

Result<std::optional<std::string>> get_string(const Json& object, std::string_view key,
                                              std::string_view path) {
    const Json* value = member(object, key);
    if (value == nullptr) {
        return std::optional<std::string>();
    }
    if (!value->is_string()) {
        return invalid(join(path, key) + " must be a string");
    }
    return std::optional<std::string>(value->get<std::string>());
}

// A section that must be an object when present; nullptr when absent or null.
Result<const Json*> get_object(const Json& object, std::string_view key, std::string_view path) {
    const Json* value = member(object, key);
    if (value != nullptr && !value->is_object()) {
        return invalid(join(path, key) + " must be a JSON object");
    }
    return value;
}

Result<RetryPolicy> parse_retry_policy(const Json& object, std::string_view path) {
    if (auto keys =
            check_keys(object, path,
                       {"minDelayTarget", "maxDelayTarget", "numRetries", "numNoDelayRetries",
                        "numMinDelayRetries", "numMaxDelayRetries", "backoffFunction"});
        !keys) {
        return keys.error();
    }
    RetryPolicy policy;
    // Required: SNS refuses a retry policy without its delays and retry count.
    struct Required {
        std::string_view key;
        int RetryPolicy::*field;
    };
    for (const Required& r : {Required{"minDelayTarget", &RetryPolicy::min_delay_target_s},
                              Required{"maxDelayTarget", &RetryPolicy::max_delay_target_s},
                              Required{"numRetries", &RetryPolicy::num_retries}}) {
        auto value = get_int(object, r.key, path);
        if (!value) {
            return value.error();
        }
        if (!value->has_value()) {
            return invalid(join(path, r.key) + " must be specified");
        }
        policy.*r.field = **value;
    }
    struct Optional {
        std::string_view key;
        int RetryPolicy::*field;
    };
    for (const Optional& o :
         {Optional{"numNoDelayRetries", &RetryPolicy::num_no_delay_retries},
          Optional{"numMinDelayRetries", &RetryPolicy::num_min_delay_retries},
          Optional{"numMaxDelayRetries", &RetryPolicy::num_max_delay_retries}}) {
        auto value = get_int(object, o.key, path);
        if (!value) {
            return value.error();
        }
        policy.*o.field = value->value_or(0);
    }
    auto function = get_string(object, "backoffFunction", path);
    if (!function) {
        return function.error();
    }
    if (function->has_value()) {
        auto parsed = parse_backoff_function(**function);
        if (!parsed) {
            return invalid(join(path, "backoffFunction") +
                           " must be one of linear, arithmetic, geometric, exponential");
        }
        policy.backoff_function = *parsed;
    }
    if (auto valid = policy.validate(path); !valid) {
        return valid.error();
    }
    return policy;
}

Result<std::optional<int>> parse_throttle_policy(const Json& object, std::string_view path) {
    if (auto keys = check_keys(object, path, {"maxReceivesPerSecond"}); !keys) {
        return keys.error();
    }
    auto rate = get_int(object, "maxReceivesPerSecond", path);
    if (!rate) {
        return rate.error();
    }
    if (rate->has_value() && **rate < 1) {
        return invalid(join(path, "maxReceivesPerSecond") + " must be greater than or equal to 1");
    }
    return *rate;
}

Result<std::optional<std::string>> parse_request_policy(const Json& object, std::string_view path) {
    if (auto keys = check_keys(object, path, {"headerContentType"}); !keys) {
        return keys.error();
    }
    auto type = get_string(object, "headerContentType", path);
    if (!type) {
        return type.error();
    }
    if (type->has_value()) {
        std::string value(trim(**type));
        if (!is_supported_header_content_type(value)) {
            return invalid(join(path, "headerContentType") + " is not a supported content type");
        }
        return std::optional<std::string>(std::move(value));
    }
    return std::optional<std::string>();
}

// A sickly retry policy (older SNS) is checked like a healthy one and otherwise ignored.
Result<void> check_ignored_retry_policy(const Json& object, std::string_view key,
                                        std::string_view path) {
    auto section = get_object(object, key, path);
    if (!section) {
        return section.error();
    }
    if (*section != nullptr) {
        auto policy = parse_retry_policy(**section, join(path, key));
        if (!policy) {
            return policy.error();
        }
    }
    return {};
}

OrderedJson retry_json(const RetryPolicy& policy) {
    OrderedJson out = OrderedJson::object();
    out["minDelayTarget"] = policy.min_delay_target_s;
    out["maxDelayTarget"] = policy.max_delay_target_s;
    out["numRetries"] = policy.num_retries;
    out["numMaxDelayRetries"] = policy.num_max_delay_retries;
    out["numNoDelayRetries"] = policy.num_no_delay_retries;
    out["numMinDelayRetries"] = policy.num_min_delay_retries;
    out["backoffFunction"] = std::string(to_string(policy.backoff_function));
    return out;
}

OrderedJson throttle_json(const std::optional<int>& rate) {
    if (!rate) {
        return nullptr;
    }
    OrderedJson out = OrderedJson::object();
    out["maxReceivesPerSecond"] = *rate;
    return out;
}

OrderedJson request_json(const std::optional<std::string>& content_type) {
    if (!content_type) {
        return nullptr;
    }
    OrderedJson out = OrderedJson::object();
    out["headerContentType"] = *content_type;
    return out;
}

std::string dump(const OrderedJson& doc) {
    return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

milliseconds seconds_to_ms(double seconds) {
    return milliseconds(std::llround(seconds * 1000.0));
}

// The delay of backoff retry k (0-based) of n, in seconds.
double backoff_seconds(const RetryPolicy& policy, int k, int n) {
    const double lo = policy.min_delay_target_s;
    const double hi = policy.max_delay_target_s;
    if (n <= 1 || hi <= lo) {
        return lo;
    }
    const double span = hi - lo;
    switch (policy.backoff_function) {
    case BackoffFunction::Linear:
        return lo + span * k / (n - 1);
    case BackoffFunction::Arithmetic:
        return lo + span * (static_cast<double>(k) * (k + 1)) / (static_cast<double>(n - 1) * n);
    case BackoffFunction::Geometric:
        if (lo <= 0) {
            return lo + span * k / (n - 1);
        }
        if (k == n - 1) {
            return hi;
        }
        return lo * std::pow(hi / lo, static_cast<double>(k) / (n - 1));
    case BackoffFunction::Exponential:
        return lo + span * (std::ldexp(1.0, k) - 1.0) / (std::ldexp(1.0, n - 1) - 1.0);
    }
    return lo;
}

constexpr std::array<std::string_view, 13> kHeaderContentTypes = {
    "application/json",
    "application/xml",
    "application/atom+xml",
    "application/octet-stream",
    "application/soap+xml",
    "application/x-www-form-urlencoded",
    "application/xhtml+xml",
    "multipart/mixed",
    "text/css",
    "text/csv",
    "text/html",
    "text/plain",
    "text/xml",
};

bool is_http_protocol(std::string_view protocol) {
    return ascii_iequals(protocol, "http") || ascii_iequals(protocol, "https");
}

}  // namespace

std::string_view to_string(BackoffFunction function) {
    switch (function) {
    case BackoffFunction::Linear:
        return "linear";
    case BackoffFunction::Arithmetic:
        return "arithmetic";
    case BackoffFunction::Geometric:
        return "geometric";
    case BackoffFunction::Exponential:
        return "exponential";
    }
    return "linear";
}

std::optional<BackoffFunction> parse_backoff_function(std::string_view name) {
    for (BackoffFunction f : {BackoffFunction::Linear, BackoffFunction::Arithmetic,
                              BackoffFunction::Geometric, BackoffFunction::Exponential}) {
        if (ascii_iequals(name, to_string(f))) {
            return f;
        }
    }
    return std::nullopt;
}

RetryPolicy RetryPolicy::http_default() {
    return RetryPolicy{};
}

RetryPolicy RetryPolicy::smtp_default() {
    RetryPolicy p;
    p.min_delay_target_s = 10;
    p.max_delay_target_s = 600;
    p.num_retries = 50;
    p.num_no_delay_retries = 0;
    p.num_min_delay_retries = 2;
    p.num_max_delay_retries = 38;
    p.backoff_function = BackoffFunction::Exponential;
    return p;
}

RetryPolicy RetryPolicy::aws_managed_default() {
    RetryPolicy p;
    p.min_delay_target_s = 1;
    p.max_delay_target_s = 20;
    p.num_retries = 100'015;
    p.num_no_delay_retries = 3;
    p.num_min_delay_retries = 2;
    p.num_max_delay_retries = 100'000;
    p.backoff_function = BackoffFunction::Exponential;
    return p;
}

RetryPolicy RetryPolicy::default_for(std::string_view protocol) {
    if (ascii_iequals(protocol, "email") || ascii_iequals(protocol, "email-json")) {
        return smtp_default();
    }
    if (ascii_iequals(protocol, "sqs") || ascii_iequals(protocol, "lambda") ||
        ascii_iequals(protocol, "firehose")) {
        return aws_managed_default();
    }
    return http_default();
}

int RetryPolicy::num_backoff_retries() const {
    return std::max(0, num_retries - std::max(0, num_no_delay_retries) -
                           std::max(0, num_min_delay_retries) - std::max(0, num_max_delay_retries));
}

std::optional<milliseconds> RetryPolicy::base_delay(int retry) const {
    if (retry < 1 || retry > num_retries) {
        return std::nullopt;
    }
    int r = retry;
    const int no_delay = std::max(0, num_no_delay_retries);
    if (r <= no_delay) {
        return milliseconds(0);
    }
    r -= no_delay;
    const int pre = std::max(0, num_min_delay_retries);
    if (r <= pre) {
        return seconds_to_ms(min_delay_target_s);
    }
    r -= pre;
    const int backoff = num_backoff_retries();
    if (r <= backoff) {
        return seconds_to_ms(backoff_seconds(*this, r - 1, backoff));
    }
    return seconds_to_ms(max_delay_target_s);
}

std::optional<milliseconds> RetryPolicy::delay_before_retry(int retry, double jitter_unit) const {
    auto base = base_delay(retry);
    if (!base) {
        return std::nullopt;
    }
    if (!(jitter_unit > 0.0)) {  // also NaN
        jitter_unit = 0.0;
    }
    jitter_unit = std::min(jitter_unit, 1.0);
    const auto cut =
        std::llround(static_cast<double>(base->count()) * kJitterFraction * jitter_unit);
    return *base - milliseconds(cut);
}

milliseconds RetryPolicy::total_retry_time() const {
    milliseconds total{0};
    for (int r = 1; r <= num_retries; ++r) {
        total += *base_delay(r);
    }
    return total;
}

Result<void> RetryPolicy::validate(std::string_view path) const {
    const auto field = [&](std::string_view key) { return join(path, key); };
    if (num_retries < 0) {
        return invalid(field("numRetries") + " must be greater than or equal to 0");
    }
    if (num_retries > kMaxNumRetries) {
        return invalid(field("numRetries") + " must be less than or equal to " +
                       std::to_string(kMaxNumRetries));
    }
    if (min_delay_target_s < kMinDelayTargetSeconds) {
        return invalid(field("minDelayTarget") + " must be greater than or equal to " +
                       std::to_string(kMinDelayTargetSeconds));
    }
    if (max_delay_target_s > kMaxDelayTargetSeconds) {
        return invalid(field("maxDelayTarget") + " must be less than or equal to " +
                       std::to_string(kMaxDelayTargetSeconds));
    }
    if (min_delay_target_s > max_delay_target_s) {
        return invalid(field("minDelayTarget") + " must be less than or equal to maxDelayTarget");
    }
    for (auto [key, value] :
         {std::pair<std::string_view, int>{"numNoDelayRetries", num_no_delay_retries},
          std::pair<std::string_view, int>{"numMinDelayRetries", num_min_delay_retries},
          std::pair<std::string_view, int>{"numMaxDelayRetries", num_max_delay_retries}}) {
        if (value < 0) {
            return invalid(field(key) + " must be greater than or equal to 0");
        }
    }
    if (std::int64_t{num_no_delay_retries} + num_min_delay_retries + num_max_delay_retries >
        num_retries) {
        return invalid(std::string(path) +
                       ": numNoDelayRetries + numMinDelayRetries + numMaxDelayRetries must be "
                       "less than or equal to numRetries");
    }
    if (total_retry_time() > std::chrono::seconds(kMaxTotalRetrySeconds)) {
        return invalid(std::string(path) + ": Total policy retry time cannot be greater than " +
                       std::to_string(kMaxTotalRetrySeconds) + " seconds");
    }
    return {};
}

bool is_supported_header_content_type(std::string_view value) {
    value = trim(value);
    std::string_view media = value;
    std::string_view params;
    if (auto semi = value.find(';'); semi != std::string_view::npos) {
        media = trim(value.substr(0, semi));
        params = trim(value.substr(semi + 1));
        // Only a UTF-8 charset: the bodies are UTF-8.
        auto eq = params.find('=');
        if (eq == std::string_view::npos || !ascii_iequals(trim(params.substr(0, eq)), "charset")) {
            return false;
        }
        std::string_view charset = trim(params.substr(eq + 1));
        if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') {
            charset = charset.substr(1, charset.size() - 2);
        }
        if (!ascii_iequals(charset, "utf-8")) {
            return false;
        }
    }
    return std::any_of(kHeaderContentTypes.begin(), kHeaderContentTypes.end(),
                       [&](std::string_view known) { return ascii_iequals(media, known); });
}

Result<TopicDeliveryPolicy> parse_topic_delivery_policy(std::string_view json) {
    TopicDeliveryPolicy policy;
    if (is_blank(json)) {
        return policy;
    }
    auto doc = parse_document(json);
    if (!doc) {
        return doc.error();
    }
    if (auto keys = check_keys(*doc, "", {"http"}); !keys) {
        return keys.error();
    }
    auto http = get_object(*doc, "http", "");
    if (!http) {
        return http.error();
    }
    if (*http == nullptr) {
        return policy;
    }
    const Json& section = **http;
    const std::string path = "http";
    if (auto keys = check_keys(section, path,
                               {"defaultHealthyRetryPolicy", "defaultSicklyRetryPolicy",
                                "disableSubscriptionOverrides", "defaultThrottlePolicy",
                                "defaultRequestPolicy"});
        !keys) {
        return keys.error();
    }
    auto healthy = get_object(section, "defaultHealthyRetryPolicy", path);
    if (!healthy) {
        return healthy.error();
    }
    if (*healthy != nullptr) {
        auto retry = parse_retry_policy(**healthy, join(path, "defaultHealthyRetryPolicy"));
        if (!retry) {
            return retry.error();
        }
        policy.default_healthy_retry_policy = *retry;
    }
    if (auto sickly = check_ignored_retry_policy(section, "defaultSicklyRetryPolicy", path);
        !sickly) {
        return sickly.error();
    }
    auto disable = get_bool(section, "disableSubscriptionOverrides", path);
    if (!disable) {
        return disable.error();
    }
    policy.disable_subscription_overrides = disable->value_or(false);
    auto throttle = get_object(section, "defaultThrottlePolicy", path);
    if (!throttle) {
        return throttle.error();
    }
    if (*throttle != nullptr) {
        auto rate = parse_throttle_policy(**throttle, join(path, "defaultThrottlePolicy"));
        if (!rate) {
            return rate.error();
        }
        policy.default_max_receives_per_second = *rate;
    }
    auto request = get_object(section, "defaultRequestPolicy", path);
    if (!request) {
        return request.error();
    }
    if (*request != nullptr) {
        auto type = parse_request_policy(**request, join(path, "defaultRequestPolicy"));
        if (!type) {
            return type.error();
        }
        policy.default_header_content_type = *type;
    }
    return policy;
}

Result<SubscriptionDeliveryPolicy> parse_subscription_delivery_policy(std::string_view json) {
    SubscriptionDeliveryPolicy policy;
    if (is_blank(json)) {
        return policy;
    }
    auto doc = parse_document(json);
    if (!doc) {
        return doc.error();
    }
    const Json& root = *doc;
    if (auto keys = check_keys(root, "",
                               {"healthyRetryPolicy", "sicklyRetryPolicy", "throttlePolicy",
                                "requestPolicy", "guaranteed"});
        !keys) {
        return keys.error();
    }
    auto healthy = get_object(root, "healthyRetryPolicy", "");
    if (!healthy) {
        return healthy.error();
    }
    if (*healthy != nullptr) {
        auto retry = parse_retry_policy(**healthy, "healthyRetryPolicy");
        if (!retry) {
            return retry.error();
        }
        policy.healthy_retry_policy = *retry;
    }
    if (auto sickly = check_ignored_retry_policy(root, "sicklyRetryPolicy", ""); !sickly) {
        return sickly.error();
    }
    if (auto guaranteed = get_bool(root, "guaranteed", ""); !guaranteed) {
        return guaranteed.error();
    }
    auto throttle = get_object(root, "throttlePolicy", "");
    if (!throttle) {
        return throttle.error();
    }
    if (*throttle != nullptr) {
        auto rate = parse_throttle_policy(**throttle, "throttlePolicy");
        if (!rate) {
            return rate.error();
        }
        policy.max_receives_per_second = *rate;
    }
    auto request = get_object(root, "requestPolicy", "");
    if (!request) {
        return request.error();
    }
    if (*request != nullptr) {
        auto type = parse_request_policy(**request, "requestPolicy");
        if (!type) {
            return type.error();
        }
        policy.header_content_type = *type;
    }
    return policy;
}

std::string TopicDeliveryPolicy::to_json() const {
    OrderedJson http = OrderedJson::object();
    if (default_healthy_retry_policy) {
        http["defaultHealthyRetryPolicy"] = retry_json(*default_healthy_retry_policy);
    }
    http["disableSubscriptionOverrides"] = disable_subscription_overrides;
    if (default_max_receives_per_second) {
        http["defaultThrottlePolicy"] = throttle_json(default_max_receives_per_second);
    }
    if (default_header_content_type) {
        http["defaultRequestPolicy"] = request_json(default_header_content_type);
    }
    OrderedJson doc = OrderedJson::object();
    doc["http"] = std::move(http);
    return dump(doc);
}

std::string SubscriptionDeliveryPolicy::to_json() const {
    OrderedJson doc = OrderedJson::object();
    doc["healthyRetryPolicy"] =
        healthy_retry_policy ? retry_json(*healthy_retry_policy) : OrderedJson(nullptr);
    doc["sicklyRetryPolicy"] = nullptr;
    doc["throttlePolicy"] = throttle_json(max_receives_per_second);
    doc["requestPolicy"] = request_json(header_content_type);
    doc["guaranteed"] = false;
    return dump(doc);
}

std::string EffectiveDeliveryPolicy::to_json() const {
    OrderedJson doc = OrderedJson::object();
    doc["healthyRetryPolicy"] = retry_json(retry);
    doc["sicklyRetryPolicy"] = nullptr;
    doc["throttlePolicy"] = throttle_json(max_receives_per_second);
    doc["requestPolicy"] = request_json(header_content_type);
    doc["guaranteed"] = false;
    return dump(doc);
}

EffectiveDeliveryPolicy effective_delivery_policy(std::string_view protocol,
                                                  const TopicDeliveryPolicy* topic,
                                                  const SubscriptionDeliveryPolicy* subscription) {
    EffectiveDeliveryPolicy effective;
    effective.retry = RetryPolicy::default_for(protocol);
    if (!is_http_protocol(protocol)) {
        return effective;  // SNS-defined policy, not configurable
    }
    const bool overrides = topic == nullptr || !topic->disable_subscription_overrides;
    const SubscriptionDeliveryPolicy* sub = overrides ? subscription : nullptr;

    if (sub != nullptr && sub->healthy_retry_policy) {
        effective.retry = *sub->healthy_retry_policy;
    } else if (topic != nullptr && topic->default_healthy_retry_policy) {
        effective.retry = *topic->default_healthy_retry_policy;
    }
    if (sub != nullptr && sub->max_receives_per_second) {
        effective.max_receives_per_second = sub->max_receives_per_second;
    } else if (topic != nullptr && topic->default_max_receives_per_second) {
        effective.max_receives_per_second = topic->default_max_receives_per_second;
    }
    if (sub != nullptr && sub->header_content_type) {
        effective.header_content_type = *sub->header_content_type;
    } else if (topic != nullptr && topic->default_header_content_type) {
        effective.header_content_type = *topic->default_header_content_type;
    }
    return effective;
}

std::string effective_topic_delivery_policy_json(const TopicDeliveryPolicy* topic) {
    TopicDeliveryPolicy effective;
    if (topic != nullptr) {
        effective = *topic;
    }
    if (!effective.default_healthy_retry_policy) {
        effective.default_healthy_retry_policy = RetryPolicy::http_default();
    }
    if (!effective.default_header_content_type) {
        effective.default_header_content_type = std::string(kDefaultHeaderContentType);
    }
    return effective.to_json();
}

}  // namespace pf::notify
