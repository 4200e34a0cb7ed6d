#include "notify/sns_service.h"

#include "aws/sigv4.h"
#include "aws/time_format.h"
#include "aws/uri_encoding.h"
#include "base/ascii.h"
#include "base/logging.h"
#include "crypto/constant_time.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "crypto/random.h"
#include "notify/sns_xml.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <set>

namespace pf::notify {
namespace {

using Clock = std::chrono::system_clock;

constexpr std::size_t kPageSize = 100;
constexpr std::size_t kMaxTokenLength = 1024;
constexpr std::size_t kMaxTags = 50;
constexpr std::size_t kDefaultDeadLetterItems = 100;
constexpr std::size_t kMaxDeadLetterItems = 1000;
constexpr std::size_t kMaxReplayIds = 1000;

spdlog::logger& log() {
    static auto logger = component_logger("notify");
    return *logger;
}

constexpr std::array<std::string_view, 4> kTopicAttributes = {"DisplayName", "DeliveryPolicy",
                                                              "Policy", "SignatureVersion"};
constexpr std::array<std::string_view, 5> kSubscriptionAttributes = {
    "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "DeliveryPolicy", "RedrivePolicy"};

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& names, std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

SnsError missing(std::string_view name) {
    return invalid_parameter(name, "no value for required parameter");
}

// "true"/"false" in any case; nullopt for anything else.
std::optional<bool> parse_bool(std::string_view text) {
    if (ascii_iequals(text, "true")) {
        return true;
    }
    if (ascii_iequals(text, "false")) {
        return false;
    }
    return std::nullopt;
}

std::vector<std::string_view> split_colons(std::string_view text) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (;;) {
        std::size_t colon = text.find(':', start);
        parts.push_back(text.substr(start, colon == std::string_view::npos ? std::string_view::npos
                                                                           : colon - start));
        if (colon == std::string_view::npos) {
            return parts;
        }
        start = colon + 1;
    }
}

std::string encode_next_token(std::string_view kind, std::int64_t after) {
    return crypto::base64_encode(std::string(kind) + ":" + std::to_string(after));
}

// nullopt for a malformed token or one minted for another listing.
std::optional<std::int64_t> decode_next_token(std::string_view kind, std::string_view token) {
    auto decoded = crypto::base64_decode(token);
    if (!decoded) {
        return std::nullopt;
    }
    std::string_view text = *decoded;
    const std::string prefix = std::string(kind) + ":";
    if (!text.starts_with(prefix)) {
        return std::nullopt;
    }
    text.remove_prefix(prefix.size());
    std::int64_t after = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), after);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || after < 0) {
        return std::nullopt;
    }
    return after;
}

std::string default_topic_policy(const std::string& arn, const std::string& account) {
    return R"({"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{"Sid":)"
           R"("__default_statement_ID","Effect":"Allow","Principal":{"AWS":"*"},"Action":)"
           R"(["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:AddPermission",)"
           R"("SNS:RemovePermission","SNS:DeleteTopic","SNS:Subscribe",)"
           R"("SNS:ListSubscriptionsByTopic","SNS:Publish"],"Resource":")" +
           arn + R"(","Condition":{"StringEquals":{"AWS:SourceOwner":")" + account + R"("}}}]})";
}

bool is_batch_id(std::string_view id) {
    return !id.empty() && id.size() <= 80 && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_';
    });
}

std::string attribute_or(const std::map<std::string, std::string>& attributes,
                         const std::string& name, std::string fallback = {}) {
    auto it = attributes.find(name);
    return it == attributes.end() ? fallback : it->second;
}

// A SubscriptionArn parameter that must be well-formed but need not exist (dead letters outlive
// their subscription).
std::optional<SnsError> check_subscription_arn_shape(std::string_view arn) {
    auto parts = split_colons(arn);
    if (parts.size() != 7 || parts[0] != "arn" || parts[2] != "sns" || parts[6].empty()) {
        return invalid_parameter("SubscriptionArn");
    }
    return std::nullopt;
}

std::string iso_time_ms(std::int64_t unix_ms) {
    return aws::format_iso8601_millis(Clock::time_point(std::chrono::milliseconds(unix_ms)));
}

}  // namespace

std::string new_uuid() {
    std::string bytes = crypto::random_bytes(16);
    bytes[6] = static_cast<char>((static_cast<unsigned char>(bytes[6]) & 0x0F) | 0x40);
    bytes[8] = static_cast<char>((static_cast<unsigned char>(bytes[8]) & 0x3F) | 0x80);
    std::string hex = crypto::hex_encode(bytes);
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
           hex.substr(16, 4) + "-" + hex.substr(20);
}

SnsService::SnsService(Options options, SqliteNotifyStore& store, PublishSink& sink)
    : options_(std::move(options)), store_(store), sink_(sink) {
    // Empty seam members get the notify/ policy rules.
    PolicyValidators defaults = notify_policy_validators();
    PolicyValidators& v = options_.validators;
    if (!v.filter_policy)
        v.filter_policy = defaults.filter_policy;
    if (!v.filter_policy_scope)
        v.filter_policy_scope = defaults.filter_policy_scope;
    if (!v.topic_delivery_policy)
        v.topic_delivery_policy = defaults.topic_delivery_policy;
    if (!v.subscription_delivery_policy) {
        v.subscription_delivery_policy = defaults.subscription_delivery_policy;
    }
    if (!v.effective_topic_policy)
        v.effective_topic_policy = defaults.effective_topic_policy;
    if (!v.effective_subscription_policy) {
        v.effective_subscription_policy = defaults.effective_subscription_policy;
    }
    if (!options_.now) {
        options_.now = [] { return Clock::now(); };
    }
}

std::int64_t SnsService::now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(options_.now().time_since_epoch())
        .count();
}

std::string SnsService::timestamp() const {
    return aws::format_iso8601_millis(options_.now());
}

std::string SnsService::topic_arn(std::string_view name) const {
    return "arn:aws:sns:" + options_.region + ":" + options_.account_id + ":" + std::string(name);
}

std::string SnsService::subscribe_url(std::string_view arn, std::string_view token) const {
    std::string base = options_.public_base_url ? options_.public_base_url() : std::string();
    return base + std::string(kConfirmLinkPath) +
           "?Action=ConfirmSubscription&TopicArn=" + aws::uri_encode(arn, false) +
           "&Token=" + aws::uri_encode(token, false);
}

std::string SnsService::unsubscribe_url(const Subscription& subscription) const {
    std::string base = options_.public_base_url ? options_.public_base_url() : std::string();
    return base + std::string(kUnsubscribeLinkPath) +
           "?Action=Unsubscribe&SubscriptionArn=" + aws::uri_encode(subscription.arn, false) +
           "&Token=" + aws::uri_encode(subscription.unsubscribe_token, false);
}

namespace {

std::string resubscribe_mac(const std::string& secret, std::string_view topic_arn,
                            std::string_view protocol, std::string_view endpoint,
                            std::string_view expires) {
    std::string text;
    text.append(topic_arn).append("\n").append(protocol).append("\n").append(endpoint);
    text.append("\n").append(expires);
    return crypto::hex_encode(crypto::hmac_sha256(secret, text));
}

}  // namespace

std::string SnsService::resubscribe_url(const Subscription& subscription,
                                        std::string* token_out) const {
    if (options_.link_secret.empty()) {
        return {};
    }
    auto expires_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          options_.now().time_since_epoch() + options_.confirmation_ttl)
                          .count();
    std::string expires = std::to_string(expires_ms);
    std::string token = resubscribe_mac(options_.link_secret, subscription.topic_arn,
                                        subscription.protocol, subscription.endpoint, expires);
    if (token_out != nullptr) {
        *token_out = token;
    }
    std::string base = options_.public_base_url ? options_.public_base_url() : std::string();
    return base + std::string(kResubscribeLinkPath) +
           "?Action=Subscribe&TopicArn=" + aws::uri_encode(subscription.topic_arn, false) +
           "&Protocol=" + aws::uri_encode(subscription.protocol, false) +
           "&Endpoint=" + aws::uri_encode(subscription.endpoint, false) + "&Expires=" + expires +
           "&Token=" + token;
}

SnsReply SnsService::resubscribe_by_link(std::string_view topic_arn, std::string_view protocol,
                                         std::string_view endpoint, std::string_view expires,
                                         std::string_view token) {
    auto refused = [&] {
        return error_reply(sns_error(SnsErrorCode::AuthorizationError,
                                     "The resubscribe link is not valid or has expired."));
    };
    if (options_.link_secret.empty() || token.empty() || expires.empty() ||
        expires.find_first_not_of("0123456789") != std::string_view::npos ||
        expires.size() > 18) {
        return refused();
    }
    std::string expected = resubscribe_mac(options_.link_secret, topic_arn, protocol, endpoint,
                                           expires);
    if (!crypto::constant_time_equal(token, expected)) {
        return refused();
    }
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   options_.now().time_since_epoch())
                   .count();
    if (std::stoll(std::string(expires)) < now) {
        return refused();
    }
    auto topic = store_.get_topic(std::string(topic_arn));
    if (!topic) {
        return error_reply(from_error(topic.error()));
    }
    if (!*topic) {
        return error_reply(sns_error(SnsErrorCode::NotFound, "Topic does not exist"));
    }
    Subscription candidate;
    candidate.arn = std::string(topic_arn) + ":" + new_uuid();
    candidate.topic_arn = std::string(topic_arn);
    candidate.protocol = std::string(protocol);
    candidate.endpoint = std::string(endpoint);
    candidate.owner = options_.account_id;
    candidate.pending = false;
    candidate.unsubscribe_token = crypto::random_hex(32);
    candidate.created_ms = now;
    candidate.confirmed_ms = now;
    auto subscribed = store_.subscribe(candidate, std::nullopt);
    if (!subscribed) {
        return error_reply(from_error(subscribed.error()));
    }
    if (subscribed->subscription.pending) {
        auto confirmed = store_.confirm_by_config(subscribed->subscription.arn, now);
        if (!confirmed) {
            return error_reply(from_error(confirmed.error()));
        }
    }
    sink_.on_confirmed(subscribed->subscription);
    SnsXml out(false);
    out.element("SubscriptionArn", subscribed->subscription.arn);
    return reply("ConfirmSubscription", ActionResult(ActionOutput(out.take())));
}

// --- HTTP plumbing ---

void SnsService::handle(const http::Request& request, http::RequestBody& body,
                        http::Response& response) {
    auto send = [&](const SnsReply& reply) {
        std::vector<std::pair<std::string, std::string>> headers = {
            {"Content-Type", std::string(SnsReply::content_type)},
            {"x-amzn-RequestId", reply.request_id}};
        if (auto r = response.start(reply.status, std::move(headers), reply.body.size()); !r) {
            return;
        }
        if (auto r = response.write(std::span<const char>(reply.body.data(), reply.body.size()));
            !r) {
            return;
        }
        (void)response.finish();
    };
    auto too_large = [&] {
        response.close_after();
        send(error_reply(sns_error(SnsErrorCode::RequestEntityTooLarge,
                                   "The request body exceeds the maximum of " +
                                       std::to_string(options_.max_body_bytes) + " bytes.")));
    };
    if (request.content_length && *request.content_length > options_.max_body_bytes) {
        too_large();
        return;
    }
    std::string data;
    std::array<char, 64 * 1024> buffer{};
    for (;;) {
        auto n = body.read(std::span<char>(buffer.data(), buffer.size()));
        if (!n) {
            response.close_after();
            send(error_reply(
                invalid_parameter("the request body", "could not be read: " + n.error().message)));
            return;
        }
        if (*n == 0) {
            break;
        }
        if (data.size() + *n > options_.max_body_bytes) {
            too_large();
            return;
        }
        data.append(buffer.data(), *n);
    }
    send(handle_buffered(request, data));
}

SnsReply SnsService::error_reply(const SnsError& error) const {
    SnsReply reply;
    reply.request_id = new_uuid();
    reply.status = sns_error_info(error.code).status;
    reply.body = error_response_xml(error, reply.request_id);
    return reply;
}

SnsReply SnsService::reply(std::string_view action, const ActionResult& result) const {
    if (auto e = error_of(result)) {
        return error_reply(*e);
    }
    const ActionOutput& output = std::get<0>(result);
    SnsReply reply;
    reply.request_id = new_uuid();
    const std::string name(action);
    SnsXml xml;
    xml.open(name + "Response", kSnsNamespace);
    if (output) {
        xml.open(name + "Result").raw(*output).close();
    }
    xml.open("ResponseMetadata").element("RequestId", reply.request_id).close();
    reply.body = xml.take();
    return reply;
}

SnsReply SnsService::handle_buffered(const http::Request& request, std::string_view body) {
    if (request.method != "POST" && request.method != "GET") {
        return error_reply(
            sns_error(SnsErrorCode::InvalidAction,
                      "The SNS API accepts POST (form body) and GET requests only."));
    }
    Caller caller;
    if (auto e = authenticate(request, body, caller)) {
        return error_reply(*e);
    }
    if (auto trace = request.header("x-amzn-trace-id"); trace && trace->size() <= 256) {
        caller.trace_id = std::string(*trace);
    }
    auto query = SnsParams::parse(request.query());
    if (auto e = error_of(query)) {
        return error_reply(*e);
    }
    SnsParams params;
    if (request.method == "POST") {
        auto form = SnsParams::parse(body);
        if (auto e = error_of(form)) {
            return error_reply(*e);
        }
        params = std::move(std::get<0>(form));
    }
    params.merge(std::get<0>(query));
    return run(params, caller);
}

SnsReply SnsService::handle_trusted(std::string_view form_body) {
    // The limit handle() applies to a request body.
    if (form_body.size() > options_.max_body_bytes) {
        return error_reply(sns_error(SnsErrorCode::RequestEntityTooLarge,
                                     "The request body exceeds the maximum of " +
                                         std::to_string(options_.max_body_bytes) + " bytes."));
    }
    auto form = SnsParams::parse(form_body);
    if (auto e = error_of(form)) {
        return error_reply(*e);
    }
    Caller caller;
    caller.access_key = "(trusted)";
    return run(std::get<0>(form), caller);
}

SnsReply SnsService::run(const SnsParams& params, const Caller& caller) {
    auto action = params.get("Action");
    if (!action || action->empty()) {
        return error_reply(sns_error(SnsErrorCode::InvalidAction,
                                     "The request must contain the parameter Action."));
    }
    if (auto version = params.get("Version"); version && *version != "2010-03-31") {
        return error_reply(sns_error(SnsErrorCode::InvalidAction,
                                     "Could not find operation " + std::string(*action) +
                                         " for version " + std::string(*version)));
    }
    const std::string action_name(*action);
    return reply(action_name, dispatch(action_name, params, caller));
}

// --- SigV4 ---

std::optional<SnsError> SnsService::authenticate(const http::Request& request,
                                                 std::string_view body, Caller& caller) const {
    auto authorization = request.header("authorization");
    if (!authorization) {
        return sns_error(SnsErrorCode::MissingAuthenticationToken,
                         "Request is missing Authentication Token");
    }
    if (!authorization->starts_with(aws::kAlgorithm)) {
        return sns_error(SnsErrorCode::IncompleteSignature,
                         "Only AWS4-HMAC-SHA256 (Signature Version 4) is supported.");
    }
    auto parsed = aws::parse_authorization_header(*authorization);
    if (!parsed) {
        return sns_error(SnsErrorCode::IncompleteSignature,
                         "The Authorization header is malformed: " + parsed.error().message);
    }
    if (parsed->scope.service != "sns") {
        return sns_error(SnsErrorCode::SignatureDoesNotMatch,
                         "Credential should be scoped to correct service: 'sns'.");
    }
    const auto& signed_headers = parsed->signed_headers;
    if (std::find(signed_headers.begin(), signed_headers.end(), "host") == signed_headers.end()) {
        return sns_error(SnsErrorCode::SignatureDoesNotMatch, "The host header must be signed.");
    }
    auto secret = options_.secret_for ? options_.secret_for(parsed->access_key_id) : std::nullopt;
    if (!secret) {
        return sns_error(SnsErrorCode::InvalidClientTokenId,
                         "The security token included in the request is invalid.");
    }

    std::string amz_date;
    std::optional<Clock::time_point> request_time;
    if (auto d = request.header("x-amz-date")) {
        amz_date = std::string(*d);
        request_time = aws::parse_amz_date(*d);
    } else if (auto hd = request.header("date")) {
        request_time = aws::parse_http_date(*hd);
        if (request_time) {
            amz_date = aws::format_amz_date(*request_time);
        }
    }
    if (!request_time) {
        return sns_error(SnsErrorCode::IncompleteSignature,
                         "Authorization header requires existence of either a 'X-Amz-Date' or a "
                         "'Date' header.");
    }
    if (amz_date.substr(0, 8) != parsed->scope.date) {
        return sns_error(SnsErrorCode::SignatureDoesNotMatch,
                         "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                         "of date from HTTP: '" +
                             parsed->scope.date + "' != '" + amz_date.substr(0, 8) + "'");
    }
    const auto now = options_.now();
    if (*request_time + options_.max_clock_skew < now) {
        return sns_error(SnsErrorCode::SignatureDoesNotMatch,
                         "Signature expired: " + amz_date + " is now earlier than " +
                             aws::format_amz_date(now - options_.max_clock_skew) + " (" +
                             aws::format_amz_date(now) + " - 15 min.)");
    }
    if (*request_time - options_.max_clock_skew > now) {
        return sns_error(SnsErrorCode::SignatureDoesNotMatch,
                         "Signature not yet current: " + amz_date + " is still later than " +
                             aws::format_amz_date(now + options_.max_clock_skew) + " (" +
                             aws::format_amz_date(now) + " + 15 min.)");
    }

    auto path = aws::percent_decode_path(request.path());
    auto query = aws::parse_query(request.query());
    if (!path || !query) {
        return sns_error(SnsErrorCode::SignatureDoesNotMatch,
                         "The request URI has a malformed percent-encoding.");
    }
    aws::CanonicalRequestInput input;
    input.method = request.method;
    input.path = *path;
    input.s3_path_rules = false;
    input.query = std::move(*query);
    input.headers = aws::HeaderList(request.headers.begin(), request.headers.end());
    input.signed_headers = signed_headers;
    // SNS clients send no x-amz-content-sha256: the payload hash is the body's own.
    input.payload_hash = crypto::sha256_hex(body);
    const std::string canonical = aws::canonical_request(input);
    const std::string to_sign = aws::string_to_sign(amz_date, parsed->scope, canonical);
    const std::string expected = aws::signature(aws::signing_key(*secret, parsed->scope), to_sign);
    if (!crypto::constant_time_equal(expected, parsed->signature)) {
        return sns_error(SnsErrorCode::SignatureDoesNotMatch,
                         "The request signature we calculated does not match the signature you "
                         "provided. Check your AWS Secret Access Key and signing method. Consult "
                         "the service documentation for details.\n\nThe Canonical String for "
                         "this request should have been\n'" +
                             canonical + "'\n\nThe String-to-Sign should have been\n'" + to_sign +
                             "'\n");
    }
    caller.access_key = parsed->access_key_id;
    return std::nullopt;
}

// --- Dispatch ---

SnsService::ActionResult SnsService::dispatch(std::string_view action, const SnsParams& params,
                                              const Caller& caller) {
    (void)caller;
    if (action == "CreateTopic")
        return create_topic(params);
    if (action == "DeleteTopic")
        return delete_topic(params);
    if (action == "ListTopics")
        return list_topics(params);
    if (action == "GetTopicAttributes")
        return get_topic_attributes(params);
    if (action == "SetTopicAttributes")
        return set_topic_attributes(params);
    if (action == "Subscribe")
        return subscribe(params);
    if (action == "ConfirmSubscription")
        return confirm_subscription(params, true);
    if (action == "Unsubscribe")
        return unsubscribe(params);
    if (action == "ListSubscriptions")
        return list_subscriptions(params, false);
    if (action == "ListSubscriptionsByTopic")
        return list_subscriptions(params, true);
    if (action == "GetSubscriptionAttributes")
        return get_subscription_attributes(params);
    if (action == "SetSubscriptionAttributes")
        return set_subscription_attributes(params);
    if (action == "Publish")
        return publish(params, caller);
    if (action == "PublishBatch")
        return publish_batch(params);
    if (action == "ListTagsForResource")
        return list_tags_for_resource(params);
    if (action == "ListDeadLetters")
        return list_dead_letters(params);
    if (action == "ReplayDeadLetters")
        return replay_dead_letters(params);
    return sns_error(SnsErrorCode::InvalidAction,
                     "Could not find operation " + std::string(action) + " for version 2010-03-31");
}

SnsResult<Topic> SnsService::require_topic(std::string_view param_name, const SnsParams& params) {
    auto arn = params.get(param_name);
    if (!arn || arn->empty()) {
        return missing(param_name);
    }
    auto parts = split_colons(*arn);
    if (parts.size() < 6) {
        return invalid_parameter(param_name, "An ARN must have at least 6 elements, not " +
                                                 std::to_string(parts.size()));
    }
    if (parts.size() != 6 || parts[0] != "arn" || parts[2] != "sns" ||
        parts[3] != options_.region || parts[4] != options_.account_id || parts[5].empty()) {
        return invalid_parameter(param_name);
    }
    auto topic = store_.get_topic(std::string(*arn));
    if (!topic) {
        log().error("event=store_failed op=get_topic error=\"{}\"", topic.error().message);
        return from_error(topic.error());
    }
    if (!*topic) {
        return sns_error(SnsErrorCode::NotFound, "Topic does not exist");
    }
    return std::move(**topic);
}

SnsResult<Subscription> SnsService::require_subscription(const SnsParams& params) {
    auto arn = params.get("SubscriptionArn");
    if (!arn || arn->empty()) {
        return missing("SubscriptionArn");
    }
    auto parts = split_colons(*arn);
    if (parts.size() < 6) {
        return invalid_parameter("SubscriptionArn", "An ARN must have at least 6 elements, not " +
                                                        std::to_string(parts.size()));
    }
    if (parts.size() != 7 || parts[0] != "arn" || parts[2] != "sns") {
        return invalid_parameter("SubscriptionArn");
    }
    auto sub = store_.get_subscription(std::string(*arn));
    if (!sub) {
        log().error("event=store_failed op=get_subscription error=\"{}\"", sub.error().message);
        return from_error(sub.error());
    }
    if (!*sub) {
        return sns_error(SnsErrorCode::NotFound, "Subscription does not exist");
    }
    return std::move(**sub);
}

// --- Topics ---

std::optional<SnsError> SnsService::check_topic_attribute(std::string_view name,
                                                          std::string_view value) const {
    if (name == "DisplayName") {
        if (utf8_length(value) > 100) {
            return invalid_parameter("DisplayName", "must be at most 100 characters");
        }
    } else if (name == "DeliveryPolicy") {
        if (!value.empty()) {
            if (auto why = options_.validators.topic_delivery_policy(value)) {
                return sns_error(SnsErrorCode::InvalidParameter, *why);
            }
        }
    } else if (name == "Policy") {
        if (!value.empty()) {
            if (auto why = json_object_check(value)) {
                return invalid_parameter("Policy", *why);
            }
        }
    } else if (name == "SignatureVersion") {
        if (value != "1" && value != "2") {
            return invalid_parameter("SignatureVersion", "must be 1 or 2");
        }
    } else if (name == "FifoTopic" || name == "ContentBasedDeduplication" ||
               name == "FifoThroughputScope") {
        return invalid_parameter("Attributes", std::string(name) +
                                                   ": FIFO topics are not supported by this "
                                                   "server");
    } else {
        return invalid_parameter("AttributeName", "the attribute " + std::string(name) +
                                                      " is not supported (supported: "
                                                      "DisplayName, DeliveryPolicy, Policy, "
                                                      "SignatureVersion)");
    }
    return std::nullopt;
}

SnsService::ActionResult SnsService::create_topic(const SnsParams& params) {
    auto name = params.get("Name");
    if (!name) {
        return missing("Name");
    }
    if (auto e = validate_topic_name(*name)) {
        return *e;
    }
    auto requested = parse_attribute_map(params, "Attributes");
    if (auto e = error_of(requested)) {
        return *e;
    }
    std::map<std::string, std::string> attributes;
    for (const auto& [key, value] : std::get<0>(requested)) {
        if (key == "FifoTopic" && parse_bool(value) == false) {
            continue;  // a standard topic, said explicitly
        }
        if (auto e = check_topic_attribute(key, value)) {
            return *e;
        }
        if (value.empty() && key != "DisplayName") {
            continue;  // an empty policy is no policy
        }
        attributes[key] = value;
    }
    auto tags = parse_tags(params);
    if (auto e = error_of(tags)) {
        return *e;
    }
    const auto& tag_list = std::get<0>(tags);
    if (tag_list.size() > kMaxTags) {
        return invalid_parameter("Tags", "at most 50 tags per topic");
    }
    for (const auto& [key, value] : tag_list) {
        if (key.empty() || utf8_length(key) > 128 || utf8_length(value) > 256) {
            return invalid_parameter("Tags", "tag keys are 1-128 characters, values 0-256");
        }
        if (ascii_lowercase(key).starts_with("aws:")) {
            return invalid_parameter("Tags", "tag keys starting with aws: are reserved");
        }
    }

    Topic topic;
    topic.name = std::string(*name);
    topic.arn = topic_arn(*name);
    topic.attributes = attributes;
    topic.tags = tag_list;
    topic.created_ms = now_ms();
    auto outcome = store_.create_topic(topic);
    if (!outcome) {
        log().error("event=store_failed op=create_topic error=\"{}\"", outcome.error().message);
        return from_error(outcome.error());
    }
    if (!outcome->created) {
        // Idempotent: the same name with the same (or no) attributes is the same topic.
        const Topic& existing = outcome->topic;
        for (const auto& [key, value] : std::get<0>(requested)) {
            if (key == "FifoTopic") {
                continue;
            }
            if (attribute_or(existing.attributes, key) != value) {
                return invalid_parameter("Attributes",
                                         "Topic already exists with different attributes");
            }
        }
        if (!tag_list.empty()) {
            auto sorted = [](auto v) {
                std::sort(v.begin(), v.end());
                return v;
            };
            if (sorted(existing.tags) != sorted(tag_list)) {
                return invalid_parameter("Tags", "Topic already exists with different tags");
            }
        }
    }
    SnsXml out(false);
    out.element("TopicArn", outcome->topic.arn);
    return ActionOutput(out.take());
}

SnsService::ActionResult SnsService::delete_topic(const SnsParams& params) {
    auto arn = params.get("TopicArn");
    if (!arn || arn->empty()) {
        return missing("TopicArn");
    }
    auto parts = split_colons(*arn);
    if (parts.size() != 6 || parts[0] != "arn" || parts[2] != "sns") {
        return invalid_parameter("TopicArn");
    }
    auto removed = store_.delete_topic(std::string(*arn));
    if (!removed) {
        log().error("event=store_failed op=delete_topic error=\"{}\"", removed.error().message);
        return from_error(removed.error());
    }
    // Deleting a topic that does not exist is not an error (SNS: DeleteTopic is idempotent).
    if (*removed) {
        for (const auto& sub : **removed) {
            sink_.on_unsubscribed(sub, /*topic_deleted=*/true);
        }
    }
    return ActionOutput{};
}

SnsService::ActionResult SnsService::list_topics(const SnsParams& params) {
    std::int64_t after = 0;
    if (auto token = params.get("NextToken"); token && !token->empty()) {
        auto decoded = decode_next_token("topics", *token);
        if (!decoded) {
            return invalid_parameter("NextToken");
        }
        after = *decoded;
    }
    auto page = store_.list_topics(after, kPageSize);
    if (!page) {
        log().error("event=store_failed op=list_topics error=\"{}\"", page.error().message);
        return from_error(page.error());
    }
    SnsXml out(false);
    out.open("Topics");
    for (const auto& topic : page->items) {
        out.open("member").element("TopicArn", topic.arn).close();
    }
    out.close();
    if (page->next_after) {
        out.element("NextToken", encode_next_token("topics", *page->next_after));
    }
    return ActionOutput(out.take());
}

SnsService::ActionResult SnsService::get_topic_attributes(const SnsParams& params) {
    auto topic = require_topic("TopicArn", params);
    if (auto e = error_of(topic)) {
        return *e;
    }
    const Topic& t = std::get<0>(topic);
    auto counts = store_.subscription_counts(t.arn);
    if (!counts) {
        return from_error(counts.error());
    }
    const std::string delivery_policy = attribute_or(t.attributes, "DeliveryPolicy");
    SnsXml out(false);
    out.open("Attributes");
    out.entry("Policy", attribute_or(t.attributes, "Policy",
                                     default_topic_policy(t.arn, options_.account_id)));
    out.entry("Owner", options_.account_id);
    out.entry("SubscriptionsPending", std::to_string(counts->pending));
    out.entry("TopicArn", t.arn);
    out.entry("EffectiveDeliveryPolicy",
              options_.validators.effective_topic_policy(delivery_policy));
    out.entry("SubscriptionsConfirmed", std::to_string(counts->confirmed));
    out.entry("DisplayName", attribute_or(t.attributes, "DisplayName"));
    out.entry("SubscriptionsDeleted", std::to_string(counts->deleted));
    if (!delivery_policy.empty()) {
        out.entry("DeliveryPolicy", delivery_policy);
    }
    out.entry("SignatureVersion", attribute_or(t.attributes, "SignatureVersion", "1"));
    out.close();
    return ActionOutput(out.take());
}

SnsService::ActionResult SnsService::set_topic_attributes(const SnsParams& params) {
    auto topic = require_topic("TopicArn", params);
    if (auto e = error_of(topic)) {
        return *e;
    }
    auto name = params.get("AttributeName");
    if (!name || name->empty()) {
        return missing("AttributeName");
    }
    std::string value(params.get("AttributeValue").value_or(""));
    if (!one_of(kTopicAttributes, *name)) {
        return invalid_parameter("AttributeName",
                                 "the attribute " + std::string(*name) +
                                     " cannot be set (supported: DisplayName, DeliveryPolicy, "
                                     "Policy, SignatureVersion)");
    }
    if (auto e = check_topic_attribute(*name, value)) {
        return *e;
    }
    std::optional<std::string> stored;
    if (!value.empty() || *name == "DisplayName") {
        stored = value;
    }
    auto r = store_.set_topic_attribute(std::get<0>(topic).arn, std::string(*name), stored);
    if (!r) {
        return from_error(r.error());
    }
    return ActionOutput{};
}

SnsService::ActionResult SnsService::list_tags_for_resource(const SnsParams& params) {
    auto topic = require_topic("ResourceArn", params);
    if (auto e = error_of(topic)) {
        if (e->code == SnsErrorCode::NotFound) {
            return sns_error(SnsErrorCode::NotFound, "Resource does not exist");
        }
        return *e;
    }
    SnsXml out(false);
    out.open("Tags");
    for (const auto& [key, value] : std::get<0>(topic).tags) {
        out.open("member").element("Key", key).element("Value", value).close();
    }
    out.close();
    return ActionOutput(out.take());
}

// --- Subscriptions ---

std::optional<SnsError>
SnsService::check_subscription_attributes(std::string_view protocol,
                                          std::map<std::string, std::string>& attributes) const {
    for (auto it = attributes.begin(); it != attributes.end();) {
        const std::string& name = it->first;
        std::string& value = it->second;
        if (!one_of(kSubscriptionAttributes, name)) {
            return invalid_parameter("AttributeName",
                                     "the attribute " + name +
                                         " is not supported (supported: FilterPolicy, "
                                         "FilterPolicyScope, RawMessageDelivery, "
                                         "DeliveryPolicy, RedrivePolicy)");
        }
        if (name == "RawMessageDelivery") {
            auto flag = parse_bool(value);
            if (!flag) {
                return invalid_parameter("Attributes", "RawMessageDelivery: Invalid value [" +
                                                           value + "]. Must be true or false.");
            }
            if (*flag && (protocol == kProtocolEmail || protocol == kProtocolEmailJson)) {
                return invalid_parameter("Attributes",
                                         "Delivery protocol [" + std::string(protocol) +
                                             "] does not support raw message delivery.");
            }
            value = *flag ? "true" : "false";
        } else if (name == "FilterPolicyScope") {
            if (auto why = options_.validators.filter_policy_scope(value)) {
                return sns_error(SnsErrorCode::InvalidParameter, *why);
            }
        } else if (name == "FilterPolicy" || name == "DeliveryPolicy" || name == "RedrivePolicy") {
            if (value.empty() || (name == "FilterPolicy" && value == "{}")) {
                it = attributes.erase(it);  // removes the policy
                continue;
            }
        }
        ++it;
    }
    if (auto it = attributes.find("FilterPolicy"); it != attributes.end()) {
        const std::string scope =
            attribute_or(attributes, "FilterPolicyScope", "MessageAttributes");
        if (auto why = options_.validators.filter_policy(it->second, scope)) {
            return sns_error(SnsErrorCode::InvalidParameter, *why);
        }
    }
    if (auto it = attributes.find("DeliveryPolicy"); it != attributes.end()) {
        if (protocol != kProtocolHttp && protocol != kProtocolHttps) {
            return invalid_parameter("DeliveryPolicy", "Delivery protocol [" +
                                                           std::string(protocol) +
                                                           "] does not support delivery policies.");
        }
        if (auto why = options_.validators.subscription_delivery_policy(it->second)) {
            return sns_error(SnsErrorCode::InvalidParameter, *why);
        }
    }
    if (auto it = attributes.find("RedrivePolicy"); it != attributes.end()) {
        if (auto why = redrive_policy_check(it->second)) {
            return invalid_parameter("RedrivePolicy", *why);
        }
    }
    return std::nullopt;
}

SnsService::ActionResult SnsService::subscribe(const SnsParams& params) {
    auto topic = require_topic("TopicArn", params);
    if (auto e = error_of(topic)) {
        return *e;
    }
    auto protocol_param = params.get("Protocol");
    if (!protocol_param || protocol_param->empty()) {
        return missing("Protocol");
    }
    const std::string protocol = ascii_lowercase(*protocol_param);
    std::string endpoint(params.get("Endpoint").value_or(""));
    if (auto e = validate_subscription_endpoint(protocol, endpoint)) {
        return *e;
    }
    if (options_.endpoint_policy) {
        if (auto why = options_.endpoint_policy(protocol, endpoint)) {
            return invalid_parameter("Endpoint", *why);
        }
    }
    bool return_arn = false;
    if (auto flag = params.get("ReturnSubscriptionArn")) {
        auto parsed = parse_bool(*flag);
        if (!parsed) {
            return invalid_parameter("ReturnSubscriptionArn", "must be true or false");
        }
        return_arn = *parsed;
    }
    auto requested = parse_attribute_map(params, "Attributes");
    if (auto e = error_of(requested)) {
        return *e;
    }
    std::map<std::string, std::string> attributes = std::get<0>(requested);
    if (auto e = check_subscription_attributes(protocol, attributes)) {
        return *e;
    }

    const Topic& t = std::get<0>(topic);
    Subscription candidate;
    candidate.arn = t.arn + ":" + new_uuid();
    candidate.topic_arn = t.arn;
    candidate.protocol = protocol;
    candidate.endpoint = endpoint;
    candidate.owner = options_.account_id;
    candidate.attributes = attributes;
    candidate.pending = protocol != kProtocolSse;  // sse needs no confirmation
    candidate.unsubscribe_token = crypto::random_hex(32);
    candidate.created_ms = now_ms();
    candidate.confirmed_ms = candidate.pending ? 0 : candidate.created_ms;

    // A fresh token for every confirmation message; earlier ones stay valid until they expire.
    std::string token;
    std::optional<TokenGrant> grant;
    if (candidate.pending) {
        token = crypto::random_hex(64);
        grant = TokenGrant{crypto::sha256_hex(token),
                           candidate.created_ms +
                               static_cast<std::int64_t>(options_.confirmation_ttl.count())};
    }
    auto outcome = store_.subscribe(candidate, grant);
    if (!outcome) {
        log().error("event=store_failed op=subscribe error=\"{}\"", outcome.error().message);
        return from_error(outcome.error());
    }
    const Subscription& sub = outcome->subscription;
    if (!outcome->created && !std::get<0>(requested).empty() && sub.attributes != attributes) {
        return invalid_parameter("Attributes", "Subscription already exists with different "
                                               "attributes");
    }
    if (sub.pending) {
        ConfirmationRequest request{token, subscribe_url(sub.topic_arn, token), new_uuid(),
                                    timestamp()};
        if (auto r = sink_.on_subscribe_pending(sub, request); !r) {
            log().error("event=confirmation_failed subscription={} error=\"{}\"", sub.arn,
                        r.error().message);
            return from_error(r.error());
        }
    } else if (outcome->created) {
        sink_.on_confirmed(sub);
    }
    SnsXml out(false);
    out.element("SubscriptionArn", sub.pending && !return_arn ? "pending confirmation" : sub.arn);
    return ActionOutput(out.take());
}

SnsResult<std::string> SnsService::confirm(std::string_view arn, std::string_view token,
                                           bool authenticated, bool authenticate_on_unsubscribe) {
    if (arn.empty()) {
        return missing("TopicArn");
    }
    if (token.empty()) {
        return missing("Token");
    }
    auto parts = split_colons(arn);
    if (parts.size() != 6 || parts[0] != "arn" || parts[2] != "sns") {
        return invalid_parameter("TopicArn");
    }
    if (token.size() > kMaxTokenLength) {
        return invalid_parameter("Token");
    }
    ConfirmRequest request;
    request.topic_arn = std::string(arn);
    request.token_sha256_hex = crypto::sha256_hex(token);
    request.now_ms = now_ms();
    request.authenticated = authenticated;
    request.authenticate_on_unsubscribe = authenticate_on_unsubscribe;
    auto outcome = store_.confirm(request);
    if (!outcome) {
        if (outcome.error().code == ErrorCode::InvalidArgument) {
            return invalid_parameter("Token");
        }
        if (outcome.error().code != ErrorCode::NotFound) {
            log().error("event=store_failed op=confirm error=\"{}\"", outcome.error().message);
        }
        return from_error(outcome.error());
    }
    if (outcome->newly_confirmed) {
        sink_.on_confirmed(outcome->subscription);
    }
    return outcome->subscription.arn;
}

SnsService::ActionResult SnsService::confirm_subscription(const SnsParams& params,
                                                          bool authenticated) {
    bool auth_on_unsubscribe = false;
    if (auto flag = params.get("AuthenticateOnUnsubscribe"); flag && !flag->empty()) {
        auto parsed = parse_bool(*flag);
        if (!parsed) {
            return invalid_parameter("AuthenticateOnUnsubscribe", "must be true or false");
        }
        auth_on_unsubscribe = *parsed;
    }
    auto arn = confirm(params.get("TopicArn").value_or(""), params.get("Token").value_or(""),
                       authenticated, auth_on_unsubscribe);
    if (auto e = error_of(arn)) {
        return *e;
    }
    SnsXml out(false);
    out.element("SubscriptionArn", std::get<0>(arn));
    return ActionOutput(out.take());
}

SnsService::ActionResult SnsService::unsubscribe(const SnsParams& params) {
    auto sub = require_subscription(params);
    if (auto e = error_of(sub)) {
        return *e;
    }
    auto removed = store_.delete_subscription(std::get<0>(sub).arn);
    if (!removed) {
        log().error("event=store_failed op=unsubscribe error=\"{}\"", removed.error().message);
        return from_error(removed.error());
    }
    if (*removed) {
        sink_.on_unsubscribed(**removed, /*topic_deleted=*/false);
    }
    return ActionOutput{};
}

SnsService::ActionResult SnsService::list_subscriptions(const SnsParams& params, bool by_topic) {
    std::optional<std::string> topic_filter;
    const char* kind = "subscriptions";
    if (by_topic) {
        auto topic = require_topic("TopicArn", params);
        if (auto e = error_of(topic)) {
            return *e;
        }
        topic_filter = std::get<0>(topic).arn;
        kind = "topic-subscriptions";
    }
    std::int64_t after = 0;
    if (auto token = params.get("NextToken"); token && !token->empty()) {
        auto decoded = decode_next_token(kind, *token);
        if (!decoded) {
            return invalid_parameter("NextToken");
        }
        after = *decoded;
    }
    auto page = store_.list_subscriptions(topic_filter, after, kPageSize);
    if (!page) {
        log().error("event=store_failed op=list_subscriptions error=\"{}\"", page.error().message);
        return from_error(page.error());
    }
    SnsXml out(false);
    out.open("Subscriptions");
    for (const auto& s : page->items) {
        out.open("member")
            .element("SubscriptionArn", s.pending ? std::string("PendingConfirmation") : s.arn)
            .element("Owner", s.owner)
            .element("Protocol", s.protocol)
            .element("Endpoint", s.endpoint)
            .element("TopicArn", s.topic_arn)
            .close();
    }
    out.close();
    if (page->next_after) {
        out.element("NextToken", encode_next_token(kind, *page->next_after));
    }
    return ActionOutput(out.take());
}

SnsService::ActionResult SnsService::get_subscription_attributes(const SnsParams& params) {
    auto found = require_subscription(params);
    if (auto e = error_of(found)) {
        return *e;
    }
    const Subscription& s = std::get<0>(found);
    SnsXml out(false);
    out.open("Attributes");
    out.entry("ConfirmationWasAuthenticated", s.confirmation_authenticated ? "true" : "false");
    out.entry("PendingConfirmation", s.pending ? "true" : "false");
    out.entry("TopicArn", s.topic_arn);
    out.entry("Owner", s.owner);
    out.entry("RawMessageDelivery", s.raw_message_delivery() ? "true" : "false");
    out.entry("SubscriptionArn", s.arn);
    out.entry("Protocol", s.protocol);
    out.entry("Endpoint", s.endpoint);
    if (auto it = s.attributes.find("FilterPolicy"); it != s.attributes.end()) {
        out.entry("FilterPolicy", it->second);
        out.entry("FilterPolicyScope",
                  attribute_or(s.attributes, "FilterPolicyScope", "MessageAttributes"));
    } else if (auto scope = s.attributes.find("FilterPolicyScope"); scope != s.attributes.end()) {
        out.entry("FilterPolicyScope", scope->second);
    }
    const std::string own_policy = attribute_or(s.attributes, "DeliveryPolicy");
    if (!own_policy.empty()) {
        out.entry("DeliveryPolicy", own_policy);
    }
    if (s.protocol == kProtocolHttp || s.protocol == kProtocolHttps) {
        std::string topic_policy;
        if (auto topic = store_.get_topic(s.topic_arn); topic && *topic) {
            topic_policy = attribute_or((*topic)->attributes, "DeliveryPolicy");
        }
        out.entry("EffectiveDeliveryPolicy", options_.validators.effective_subscription_policy(
                                                 s.protocol, topic_policy, own_policy));
    }
    if (auto it = s.attributes.find("RedrivePolicy"); it != s.attributes.end()) {
        out.entry("RedrivePolicy", it->second);
    }
    out.close();
    return ActionOutput(out.take());
}

SnsService::ActionResult SnsService::set_subscription_attributes(const SnsParams& params) {
    auto found = require_subscription(params);
    if (auto e = error_of(found)) {
        return *e;
    }
    const Subscription& s = std::get<0>(found);
    auto name = params.get("AttributeName");
    if (!name || name->empty()) {
        return missing("AttributeName");
    }
    if (!one_of(kSubscriptionAttributes, *name)) {
        return invalid_parameter("AttributeName",
                                 "the attribute " + std::string(*name) +
                                     " cannot be set (supported: FilterPolicy, FilterPolicyScope, "
                                     "RawMessageDelivery, DeliveryPolicy, RedrivePolicy)");
    }
    std::map<std::string, std::string> attributes = s.attributes;
    attributes[std::string(*name)] = std::string(params.get("AttributeValue").value_or(""));
    if (auto e = check_subscription_attributes(s.protocol, attributes)) {
        return *e;
    }
    std::optional<std::string> value;
    if (auto it = attributes.find(std::string(*name)); it != attributes.end()) {
        value = it->second;
    }
    auto r = store_.set_subscription_attribute(s.arn, std::string(*name), value);
    if (!r) {
        return from_error(r.error());
    }
    return ActionOutput{};
}

// --- Publish ---

SnsResult<PublishedMessage> SnsService::build_message(const SnsParams& params, const Topic& topic) {
    for (const char* fifo_only : {"MessageGroupId", "MessageDeduplicationId"}) {
        if (params.has(fifo_only)) {
            return invalid_parameter(fifo_only, std::string("The request includes ") + fifo_only +
                                                    " parameter that is not valid for this "
                                                    "topic type");
        }
    }
    auto message = params.get("Message");
    if (!message) {
        return missing("Message");
    }
    if (message->empty()) {
        return invalid_parameter("Empty message");
    }
    PublishedMessage out;
    out.topic_arn = topic.arn;
    out.message = std::string(*message);
    if (auto subject = params.get("Subject")) {
        if (auto e = validate_subject(*subject)) {
            return *e;
        }
        out.subject = std::string(*subject);
    }
    if (auto structure = params.get("MessageStructure"); structure && !structure->empty()) {
        if (*structure != "json") {
            return invalid_parameter("MessageStructure", "the only supported value is json");
        }
        if (auto e = validate_json_structure(out.message)) {
            return *e;
        }
        out.json_structure = true;
    }
    auto raw = parse_message_attributes(params);
    if (auto e = error_of(raw)) {
        return *e;
    }
    auto attributes = validate_message_attributes(std::get<0>(raw));
    if (auto e = error_of(attributes)) {
        return *e;
    }
    out.attributes = std::move(std::get<0>(attributes));
    if (publish_size(out.message, out.attributes) > kMaxMessageBytes) {
        return invalid_parameter("Message too long");
    }
    out.message_id = new_uuid();
    out.timestamp = timestamp();
    return out;
}

SnsService::ActionResult SnsService::publish(const SnsParams& params, const Caller& caller) {
    if (params.has("PhoneNumber")) {
        return invalid_parameter("PhoneNumber", "SMS is not supported by this server");
    }
    const bool has_topic = params.has("TopicArn");
    const bool has_target = params.has("TargetArn");
    if (has_topic && has_target) {
        return invalid_parameter("TopicArn or TargetArn",
                                 "only one of TopicArn and TargetArn may be given");
    }
    if (!has_topic && !has_target) {
        return missing("TopicArn or TargetArn");
    }
    auto topic = require_topic(has_topic ? "TopicArn" : "TargetArn", params);
    if (auto e = error_of(topic)) {
        return *e;
    }
    auto message = build_message(params, std::get<0>(topic));
    if (auto e = error_of(message)) {
        return *e;
    }
    const PublishedMessage& m = std::get<0>(message);
    if (auto r = sink_.publish(std::get<0>(topic), m); !r) {
        log().error("event=publish_failed topic={} error=\"{}\"", m.topic_arn, r.error().message);
        return from_error(r.error());
    }
    // One line ties the publisher's trace (the upload, its event, the invocation) to the
    // MessageId every delivery of this message is logged with.
    log().info("event=published topic={} message_id={} subject=\"{}\" trace_id={}", m.topic_arn,
               m.message_id, m.subject.value_or(""), caller.trace_id);
    SnsXml out(false);
    out.element("MessageId", m.message_id);
    return ActionOutput(out.take());
}

Result<std::string> SnsService::publish_local(const std::string& topic_arn,
                                             const std::optional<std::string>& subject,
                                             const std::string& message) {
    auto topic = store_.get_topic(topic_arn);
    if (!topic) {
        return topic.error();
    }
    if (!*topic) {
        return make_error(ErrorCode::NotFound, "topic " + topic_arn + " does not exist");
    }
    if (message.empty() || publish_size(message, {}) > kMaxMessageBytes) {
        return make_error(ErrorCode::InvalidArgument,
                          "message for " + topic_arn + " is empty or longer than 256 KiB");
    }
    PublishedMessage m;
    m.message_id = new_uuid();
    m.topic_arn = topic_arn;
    m.subject = subject;
    m.message = message;
    m.timestamp = timestamp();
    if (auto r = sink_.publish(**topic, m); !r) {
        return r.error();
    }
    return m.message_id;
}

SnsService::ActionResult SnsService::publish_batch(const SnsParams& params) {
    auto topic = require_topic("TopicArn", params);
    if (auto e = error_of(topic)) {
        return *e;
    }
    constexpr std::string_view kPrefix = "PublishBatchRequestEntries.member.";
    auto indexes = params.indexes(kPrefix);
    if (auto e = error_of(indexes)) {
        return *e;
    }
    const auto& numbers = std::get<0>(indexes);
    if (numbers.empty()) {
        return sns_error(SnsErrorCode::EmptyBatchRequest,
                         "The batch request doesn't contain any entries.");
    }
    if (numbers.size() > kMaxBatchEntries) {
        return sns_error(SnsErrorCode::TooManyEntriesInBatchRequest,
                         "The batch request contains more entries than permissible.");
    }
    std::vector<std::pair<std::string, SnsParams>> entries;
    std::set<std::string> ids;
    std::size_t total = 0;
    for (std::size_t n : numbers) {
        SnsParams entry = params.under(std::string(kPrefix) + std::to_string(n) + ".");
        std::string id(entry.get("Id").value_or(""));
        if (!is_batch_id(id)) {
            return sns_error(SnsErrorCode::InvalidBatchEntryId,
                             "The Id of a batch entry in a batch request doesn't abide by the "
                             "specification.");
        }
        if (!ids.insert(id).second) {
            return sns_error(SnsErrorCode::BatchEntryIdsNotDistinct,
                             "Two or more batch entries in the request have the same Id.");
        }
        total += entry.get("Message").value_or("").size();
        const SnsParams attributes = entry.under("MessageAttributes.entry.");
        for (const auto& [name, value] : attributes.all()) {
            total += value.size();
            (void)name;
        }
        entries.emplace_back(std::move(id), std::move(entry));
    }
    if (total > kMaxMessageBytes) {
        return sns_error(SnsErrorCode::BatchRequestTooLong,
                         "The length of all the messages put together is more than the limit.");
    }

    SnsXml successful(false);
    SnsXml failed(false);
    for (const auto& [id, entry] : entries) {
        auto message = build_message(entry, std::get<0>(topic));
        std::optional<SnsError> error;
        if (auto e = error_of(message)) {
            error = *e;
        } else if (auto r = sink_.publish(std::get<0>(topic), std::get<0>(message)); !r) {
            log().error("event=publish_failed topic={} error=\"{}\"", std::get<0>(topic).arn,
                        r.error().message);
            error = from_error(r.error());
        }
        if (error) {
            const SnsErrorInfo& info = sns_error_info(error->code);
            failed.open("member")
                .element("Id", id)
                .element("Code", info.code)
                .element("Message", error->message)
                .element("SenderFault", info.sender ? "true" : "false")
                .close();
        } else {
            successful.open("member")
                .element("Id", id)
                .element("MessageId", std::get<0>(message).message_id)
                .close();
        }
    }
    SnsXml out(false);
    out.open("Successful").raw(successful.take()).close();
    out.open("Failed").raw(failed.take()).close();
    return ActionOutput(out.take());
}

// --- Dead letters (Photoflux extensions) ---

SnsService::ActionResult SnsService::list_dead_letters(const SnsParams& params) {
    std::optional<std::string> subscription;
    if (auto arn = params.get("SubscriptionArn"); arn && !arn->empty()) {
        if (auto e = check_subscription_arn_shape(*arn)) {
            return *e;
        }
        subscription = std::string(*arn);
    }
    std::size_t limit = kDefaultDeadLetterItems;
    if (auto max = params.get("MaxItems"); max && !max->empty()) {
        std::size_t value = 0;
        auto [end, ec] = std::from_chars(max->data(), max->data() + max->size(), value);
        if (ec != std::errc() || end != max->data() + max->size() || value < 1 ||
            value > kMaxDeadLetterItems) {
            return invalid_parameter("MaxItems", "must be a whole number from 1 to " +
                                                     std::to_string(kMaxDeadLetterItems));
        }
        limit = value;
    }
    // One more than asked tells whether there are more.
    auto letters = store_.dead_letters(subscription, limit + 1);
    if (!letters) {
        log().error("event=store_failed op=dead_letters error=\"{}\"", letters.error().message);
        return from_error(letters.error());
    }
    const bool truncated = letters->size() > limit;
    if (truncated) {
        letters->resize(limit);
    }
    SnsXml out(false);
    out.open("DeadLetters");
    for (const auto& letter : *letters) {
        const Delivery& d = letter.delivery;
        out.open("member")
            .element("DeliveryId", d.id)
            .element("MessageId", d.message_id)
            .element("MessageType", d.message_type)
            .element("TopicArn", d.topic_arn)
            .element("SubscriptionArn", d.subscription_arn)
            .element("Protocol", d.protocol)
            .element("Endpoint", d.endpoint)
            .element("Attempts", std::to_string(d.attempts))
            .element("DeadAt", iso_time_ms(letter.dead_at_ms))
            .element("Reason", letter.reason)
            .close();
    }
    out.close();
    out.element("IsTruncated", truncated ? "true" : "false");
    return ActionOutput(out.take());
}

SnsService::ActionResult SnsService::replay_dead_letters(const SnsParams& params) {
    bool all = false;
    if (auto flag = params.get("All"); flag && !flag->empty()) {
        auto parsed = parse_bool(*flag);
        if (!parsed) {
            return invalid_parameter("All", "must be true or false");
        }
        all = *parsed;
    }
    // DeliveryIds.member.N (a list of plain values), in N order.
    std::vector<std::pair<std::size_t, std::string>> numbered;
    const SnsParams members = params.under("DeliveryIds.member.");
    for (const auto& [suffix, value] : members.all()) {
        std::size_t n = 0;
        auto [end, ec] = std::from_chars(suffix.data(), suffix.data() + suffix.size(), n);
        if (ec != std::errc() || end != suffix.data() + suffix.size() || n < 1 ||
            n > kMaxReplayIds) {
            return invalid_parameter("DeliveryIds", "DeliveryIds.member." + suffix +
                                                        " is not a member name (N from 1 to " +
                                                        std::to_string(kMaxReplayIds) + ")");
        }
        if (value.empty()) {
            return invalid_parameter("DeliveryIds", "member " + suffix + " is empty");
        }
        numbered.emplace_back(n, value);
    }
    std::sort(numbered.begin(), numbered.end());
    std::vector<std::string> ids;
    for (const auto& [n, id] : numbered) {
        if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
            ids.push_back(id);
        }
    }
    const auto subscription_param = params.get("SubscriptionArn");
    const bool by_subscription = subscription_param && !subscription_param->empty();
    if (all && (by_subscription || !ids.empty())) {
        return invalid_parameter("All", "All=true replays every dead letter and cannot be "
                                        "combined with DeliveryIds or SubscriptionArn");
    }
    if (!all && !by_subscription && ids.empty()) {
        return invalid_parameter("DeliveryIds, SubscriptionArn or All",
                                 "name the dead letters to replay: DeliveryIds.member.N, a "
                                 "SubscriptionArn, or All=true for every one");
    }
    std::optional<Subscription> subscription;
    if (by_subscription) {
        auto found = require_subscription(params);
        if (auto e = error_of(found)) {
            if (e->code == SnsErrorCode::NotFound) {
                return sns_error(SnsErrorCode::NotFound,
                                 "Subscription does not exist: the dead letters of a deleted "
                                 "subscription can be listed but not replayed");
            }
            return *e;
        }
        subscription = std::move(std::get<0>(found));
    }

    // Dead letters of a deleted subscription stay where they are: replaying them would deliver to
    // an endpoint that unsubscribed. Confirmation messages belong to no subscription yet ("").
    auto live = [&](const std::string& arn) -> Result<bool> {
        if (arn.empty()) {
            return true;
        }
        auto found = store_.get_subscription(arn);
        if (!found) {
            return found.error();
        }
        return found->has_value();
    };
    SnsXml skipped(false);
    auto skip = [&](std::string_view id, std::string_view arn, std::string_view reason) {
        skipped.open("member");
        if (!id.empty()) {
            skipped.element("DeliveryId", id);
        }
        if (!arn.empty()) {
            skipped.element("SubscriptionArn", arn);
        }
        skipped.element("Reason", reason).close();
    };
    auto failed = [&](const Error& error) {
        log().error("event=store_failed op=replay error=\"{}\"", error.message);
        return from_error(error);
    };

    const std::int64_t now = now_ms();
    std::size_t replayed = 0;
    if (!ids.empty()) {
        std::vector<std::string> chosen;
        for (const auto& id : ids) {
            auto letter = store_.dead_letter_by_id(id);
            if (!letter) {
                return failed(letter.error());
            }
            if (!*letter) {
                skip(id, {}, "not a dead letter (unknown id, or replayed already)");
                continue;
            }
            const std::string& owner = (*letter)->delivery.subscription_arn;
            if (subscription && owner != subscription->arn) {
                skip(id, owner, "belongs to another subscription than SubscriptionArn");
                continue;
            }
            auto alive = live(owner);
            if (!alive) {
                return failed(alive.error());
            }
            if (!*alive) {
                skip(id, owner, "its subscription was deleted");
                continue;
            }
            chosen.push_back(id);
        }
        if (!chosen.empty()) {
            auto moved = store_.replay(chosen, std::nullopt, now);
            if (!moved) {
                return failed(moved.error());
            }
            replayed += *moved;
        }
    } else if (subscription) {
        auto moved = store_.replay({}, subscription->arn, now);
        if (!moved) {
            return failed(moved.error());
        }
        replayed += *moved;
    } else {
        auto owners = store_.dead_letter_subscriptions();
        if (!owners) {
            return failed(owners.error());
        }
        for (const auto& owner : *owners) {
            auto alive = live(owner);
            if (!alive) {
                return failed(alive.error());
            }
            if (!*alive) {
                skip({}, owner, "the subscription was deleted; its dead letters are kept");
                continue;
            }
            auto moved = store_.replay({}, owner, now);
            if (!moved) {
                return failed(moved.error());
            }
            replayed += *moved;
        }
    }
    if (replayed > 0) {
        log().info("event=dead_letters_replayed count={}", replayed);
        if (options_.on_replayed) {
            options_.on_replayed();
        }
    }
    SnsXml out(false);
    out.element("Replayed", std::to_string(replayed));
    out.open("Skipped").raw(skipped.take()).close();
    return ActionOutput(out.take());
}

// --- Declared topics and subscriptions (config) ---

Result<SnsService::DeclaredOutcome>
SnsService::apply_declared(const std::vector<DeclaredTopic>& topics) {
    struct PlannedSubscription {
        const DeclaredSubscription* declared;
        std::string protocol;
        std::map<std::string, std::string> attributes;  // normalised
    };
    struct PlannedTopic {
        const DeclaredTopic* declared;
        std::map<std::string, std::string> attributes;
        std::vector<PlannedSubscription> subscriptions;
    };
    std::vector<std::string> problems;
    auto problem = [&](const std::string& label, const std::string& message) {
        problems.push_back(label + ": " + message);
    };
    auto report = [&](std::string_view what) {
        std::string message(what);
        for (const auto& p : problems) {
            message += "\n" + p;
        }
        return make_error(ErrorCode::InvalidArgument, message);
    };

    // 1. Everything is checked before anything is created.
    std::vector<PlannedTopic> plan;
    for (const auto& t : topics) {
        PlannedTopic planned{&t, {}, {}};
        if (auto e = validate_topic_name(t.name)) {
            problem(t.label + ".name", e->message);
        }
        for (const auto& [key, value] : t.attributes) {
            if (!one_of(kTopicAttributes, key)) {
                problem(t.label + ".attributes." + key,
                        "not a topic attribute (supported: DisplayName, DeliveryPolicy, Policy, "
                        "SignatureVersion)");
                continue;
            }
            if (auto e = check_topic_attribute(key, value)) {
                problem(t.label + ".attributes." + key, e->message);
                continue;
            }
            if (!value.empty() || key == "DisplayName") {
                planned.attributes[key] = value;
            }
        }
        for (const auto& s : t.subscriptions) {
            PlannedSubscription sub{&s, ascii_lowercase(s.protocol), s.attributes};
            if (sub.protocol == kProtocolSse) {
                problem(s.label + ".protocol",
                        "sse subscriptions are opened by browsers; they cannot be declared");
                continue;
            }
            if (auto e = validate_subscription_endpoint(sub.protocol, s.endpoint)) {
                problem(s.label, e->message);
                continue;
            }
            if (options_.endpoint_policy) {
                if (auto why = options_.endpoint_policy(sub.protocol, s.endpoint)) {
                    problem(s.label + ".endpoint", *why);
                    continue;
                }
            }
            if (auto e = check_subscription_attributes(sub.protocol, sub.attributes)) {
                problem(s.label, e->message);
                continue;
            }
            planned.subscriptions.push_back(std::move(sub));
        }
        plan.push_back(std::move(planned));
    }
    if (!problems.empty()) {
        return report("invalid declared topics or subscriptions:");
    }

    // 2. Create, or bring the existing ones in line with the declaration.
    DeclaredOutcome outcome;
    const std::int64_t now = now_ms();
    auto store_failed = [&](const std::string& label, const Error& error) {
        log().error("event=store_failed op=apply_declared what={} error=\"{}\"", label,
                    error.message);
        return make_error(error.code, label + ": " + error.message);
    };
    for (const auto& planned : plan) {
        const DeclaredTopic& t = *planned.declared;
        Topic topic;
        topic.name = t.name;
        topic.arn = topic_arn(t.name);
        topic.attributes = planned.attributes;
        topic.created_ms = now;
        auto created = store_.create_topic(topic);
        if (!created) {
            return store_failed(t.label, created.error());
        }
        if (created->created) {
            ++outcome.topics_created;
        } else {
            for (const auto& [key, value] : planned.attributes) {
                auto it = created->topic.attributes.find(key);
                if (it != created->topic.attributes.end() && it->second == value) {
                    continue;
                }
                if (auto r = store_.set_topic_attribute(topic.arn, key, value); !r) {
                    return store_failed(t.label, r.error());
                }
                ++outcome.attributes_updated;
            }
        }
        for (const auto& planned_sub : planned.subscriptions) {
            const DeclaredSubscription& s = *planned_sub.declared;
            Subscription candidate;
            candidate.arn = topic.arn + ":" + new_uuid();
            candidate.topic_arn = topic.arn;
            candidate.protocol = planned_sub.protocol;
            candidate.endpoint = s.endpoint;
            candidate.owner = options_.account_id;
            candidate.attributes = planned_sub.attributes;
            candidate.pending = false;
            candidate.confirmed_by_config = true;
            candidate.unsubscribe_token = crypto::random_hex(32);
            candidate.created_ms = now;
            candidate.confirmed_ms = now;
            auto subscribed = store_.subscribe(candidate, std::nullopt);
            if (!subscribed) {
                return store_failed(s.label, subscribed.error());
            }
            Subscription stored = subscribed->subscription;
            bool activated = subscribed->created;
            if (subscribed->created) {
                ++outcome.subscriptions_created;
            } else {
                if (stored.pending || !stored.confirmed_by_config) {
                    const bool was_pending = stored.pending;
                    auto confirmed = store_.confirm_by_config(stored.arn, now);
                    if (!confirmed) {
                        return store_failed(s.label, confirmed.error());
                    }
                    stored = std::move(*confirmed);
                    if (was_pending) {
                        ++outcome.subscriptions_confirmed;
                        activated = true;
                    }
                }
                std::map<std::string, std::string> merged = stored.attributes;
                for (const auto& [key, value] : planned_sub.attributes) {
                    merged[key] = value;
                }
                if (merged != stored.attributes) {
                    if (auto e = check_subscription_attributes(stored.protocol, merged)) {
                        problem(s.label, e->message + " (together with the attributes " +
                                             stored.arn + " has already)");
                        continue;
                    }
                    for (const auto& [key, value] : planned_sub.attributes) {
                        if (attribute_or(stored.attributes, key) == value &&
                            stored.attributes.count(key)) {
                            continue;
                        }
                        if (auto r = store_.set_subscription_attribute(stored.arn, key, value);
                            !r) {
                            return store_failed(s.label, r.error());
                        }
                        stored.attributes[key] = value;
                        ++outcome.attributes_updated;
                    }
                }
            }
            if (activated) {
                sink_.on_confirmed(stored);
            }
        }
    }
    if (!problems.empty()) {
        return report("declared subscriptions that could not be applied:");
    }
    log().info("event=declared_applied topics={} topics_created={} subscriptions_created={} "
               "subscriptions_confirmed={} attributes_updated={}",
               topics.size(), outcome.topics_created, outcome.subscriptions_created,
               outcome.subscriptions_confirmed, outcome.attributes_updated);
    return outcome;
}

// --- Links ---

SnsReply SnsService::confirm_by_token(std::string_view arn, std::string_view token) {
    auto result = confirm(arn, token, /*authenticated=*/false, false);
    if (auto e = error_of(result)) {
        return error_reply(*e);
    }
    SnsXml out(false);
    out.element("SubscriptionArn", std::get<0>(result));
    return reply("ConfirmSubscription", ActionResult(ActionOutput(out.take())));
}

SnsReply SnsService::unsubscribe_by_link(std::string_view subscription_arn,
                                         std::string_view token) {
    SnsParams params;
    params.set("SubscriptionArn", std::string(subscription_arn));
    auto sub = require_subscription(params);
    if (auto e = error_of(sub)) {
        return error_reply(*e);
    }
    const Subscription& s = std::get<0>(sub);
    if (token.empty() || !crypto::constant_time_equal(token, s.unsubscribe_token)) {
        return error_reply(sns_error(SnsErrorCode::AuthorizationError,
                                     "The unsubscribe token is not valid for this subscription."));
    }
    if (s.authenticate_on_unsubscribe) {
        return error_reply(sns_error(SnsErrorCode::AuthorizationError,
                                     "This subscription requires an authenticated Unsubscribe "
                                     "call (AuthenticateOnUnsubscribe)."));
    }
    auto removed = store_.delete_subscription(s.arn);
    if (!removed) {
        log().error("event=store_failed op=unsubscribe error=\"{}\"", removed.error().message);
        return error_reply(from_error(removed.error()));
    }
    if (*removed) {
        sink_.on_unsubscribed(**removed, /*topic_deleted=*/false);
    }
    return reply("Unsubscribe", ActionResult(ActionOutput{}));
}

}  // namespace pf::notify
