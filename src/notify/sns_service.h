// SnsService: the SNS-compatible Query API of `photoflux serve`. The API router hands it every
// request whose SigV4 credential scope names service "sns" (POST form body, or GET with the
// parameters in the query). It reads the body (bounded), verifies the SigV4 signature itself
// (Authorization header, body SHA-256 as the payload hash, 15-minute skew, constant-time
// compare), dispatches on Action, records topics and subscriptions in the SqliteNotifyStore and
// hands confirmations, unsubscriptions and published messages to the PublishSink. Responses and
// errors are SNS's XML documents.
//
// Photoflux extension actions, same auth and XML conventions: ListDeadLetters (optional
// SubscriptionArn, MaxItems 1-1000, default 100) and ReplayDeadLetters (DeliveryIds.member.N
// and/or SubscriptionArn, or All=true), over the delivery queue's dead letters.
//
// The unauthenticated links the service mints (SubscribeURL, UnsubscribeURL) live under
// /_/sns/; the integrator routes them to confirm_by_token() and unsubscribe_by_link().
#pragma once

#include "http/server.h"
#include "notify/notify_store.h"
#include "notify/publish_sink.h"
#include "notify/sns_error.h"
#include "notify/sns_form.h"
#include "notify/sns_validation.h"

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::notify {

// Paths of the links, relative to the public base URL.
inline constexpr std::string_view kConfirmLinkPath = "/_/sns/confirm";  // ?TopicArn=&Token=
// ?TopicArn=&Protocol=&Endpoint=&Expires=&Token=: the SubscribeURL of an UnsubscribeConfirmation
// (GET restores the subscription, as on SNS).
inline constexpr std::string_view kResubscribeLinkPath = "/_/sns/resubscribe";
inline constexpr std::string_view kUnsubscribeLinkPath =
    "/_/sns/unsubscribe";  // ?SubscriptionArn=&Token=

// A complete SNS reply: what handle() writes, and what the link handlers return.
struct SnsReply {
    int status = 200;
    std::string body;        // XML
    std::string request_id;  // also sent as x-amzn-RequestId
    static constexpr std::string_view content_type = "text/xml";
};

class SnsService {
public:
    struct Options {
        std::string region = "us-east-1";
        std::string account_id = "000000000000";
        // The secret access key of an access key id, or nullopt when unknown.
        std::function<std::optional<std::string>(std::string_view access_key)> secret_for;
        // The public base URL of this server ("http://127.0.0.1:9000", no trailing slash), used
        // for SubscribeURL and UnsubscribeURL.
        std::function<std::string()> public_base_url;
        std::function<std::chrono::system_clock::time_point()> now = [] {
            return std::chrono::system_clock::now();
        };
        std::chrono::milliseconds max_clock_skew{15 * 60 * 1000};
        // Body limit: 256 KiB of message (and attributes) percent-encoded (x3) plus the rest.
        std::size_t max_body_bytes = 3 * 262144 + 64 * 1024;
        // How long a confirmation token is valid (SNS: three days).
        std::chrono::milliseconds confirmation_ttl{72LL * 3600 * 1000};
        // Keys the resubscribe links of UnsubscribeConfirmations (a secret only this server
        // knows; empty: no resubscribe links).
        std::string link_secret;
        // SEAM for the policy validators of filter_policy.h / delivery_policy.h (see
        // sns_validation.h); empty members fall back to structural checks.
        PolicyValidators validators;
        // Optional extra check of a subscription endpoint (e.g. refuse private addresses early);
        // returns the reason to refuse, or nullopt.
        std::function<std::optional<std::string>(std::string_view protocol,
                                                 std::string_view endpoint)>
            endpoint_policy;
        // Called after ReplayDeadLetters moved dead letters back into the delivery queue: the
        // integrator wakes the dispatcher so they are attempted now, not at its next poll.
        std::function<void()> on_replayed;
    };

    // A topic or subscription declared outside the API (the config file's serve.notify.topics).
    // `label` names the declaration in error messages ("serve.notify.topics[0]").
    struct DeclaredSubscription {
        std::string label;
        std::string protocol;
        std::string endpoint;
        std::map<std::string, std::string> attributes;  // the API's names (RawMessageDelivery...)
    };
    struct DeclaredTopic {
        std::string label;
        std::string name;
        std::map<std::string, std::string> attributes;  // DisplayName, DeliveryPolicy, ...
        std::vector<DeclaredSubscription> subscriptions;
    };
    struct DeclaredOutcome {
        std::size_t topics_created = 0;
        std::size_t subscriptions_created = 0;
        std::size_t subscriptions_confirmed = 0;  // existed pending, confirmed by the declaration
        std::size_t attributes_updated = 0;       // declared values that replaced stored ones
    };

    SnsService(Options options, SqliteNotifyStore& store, PublishSink& sink);

    // Serves one request (authenticated with SigV4) and writes the XML reply.
    void handle(const http::Request& request, http::RequestBody& body, http::Response& response);

    // The same without the HTTP plumbing: the caller supplies the whole body (tests, routers
    // that already read it). Authenticates like handle().
    SnsReply handle_buffered(const http::Request& request, std::string_view body);

    // One request of a caller the integrator already authenticated (the web console's signed-in
    // session): the form body (Action=...&Version=...) is parsed and limited as handle() does and
    // the action runs with the same validation and errors; only the SigV4 check is skipped.
    SnsReply handle_trusted(std::string_view form_body);

    // GET /_/sns/confirm?TopicArn=..&Token=.. (no signature: the token is the secret). Returns
    // the ConfirmSubscriptionResponse XML, or the ErrorResponse.
    SnsReply confirm_by_token(std::string_view topic_arn, std::string_view token);
    // GET /_/sns/unsubscribe?SubscriptionArn=..&Token=.. (the token minted with the
    // subscription). Refused (AuthorizationError) when the subscription was confirmed with
    // AuthenticateOnUnsubscribe=true. Returns the UnsubscribeResponse XML.
    SnsReply unsubscribe_by_link(std::string_view subscription_arn, std::string_view token);

    // The links, as envelopes and confirmation messages carry them.
    std::string subscribe_url(std::string_view topic_arn, std::string_view token) const;
    std::string unsubscribe_url(const Subscription& subscription) const;
    // The link that restores a removed subscription (topic, protocol, endpoint), valid for the
    // confirmation TTL: an HMAC under Options::link_secret, so nothing is stored for it. Empty
    // when there is no link secret. `token_out` receives the token alone (the envelope's Token).
    std::string resubscribe_url(const Subscription& subscription, std::string* token_out) const;
    // GET /_/sns/resubscribe?...: checks the link and creates the subscription again, confirmed
    // (the link proves the endpoint received the UnsubscribeConfirmation).
    SnsReply resubscribe_by_link(std::string_view topic_arn, std::string_view protocol,
                                 std::string_view endpoint, std::string_view expires,
                                 std::string_view token);

    std::string topic_arn(std::string_view name) const;

    // A Publish from inside serve (S3 event notifications whose destination is a topic): a fresh
    // MessageId and Timestamp, the same size limit and fan-out as the API's Publish. NotFound when
    // the topic does not exist; returns the MessageId.
    Result<std::string> publish_local(const std::string& topic_arn,
                                      const std::optional<std::string>& subject,
                                      const std::string& message);

    // Creates the declared topics and subscriptions, checked with the very rules of CreateTopic
    // and Subscribe (names, endpoints, endpoint_policy, attribute validators). Idempotent: an
    // existing topic or subscription is kept (same ARN) and its declared attributes are set to the
    // declared values (attributes not declared are left as they are). Subscriptions are created
    // confirmed (confirmed_by_config, no confirmation message); a pending one is confirmed.
    // Every invalid declaration is reported at once (InvalidArgument, one line each, prefixed by
    // its label), and then nothing is created.
    Result<DeclaredOutcome> apply_declared(const std::vector<DeclaredTopic>& topics);

private:
    struct Caller {
        std::string access_key;
        std::string trace_id;  // X-Amzn-Trace-Id of the request, logged with what it published
    };
    // The Result content of a successful action (nullopt: the action has no Result element).
    using ActionOutput = std::optional<std::string>;
    using ActionResult = SnsResult<ActionOutput>;

    std::optional<SnsError> authenticate(const http::Request& request, std::string_view body,
                                         Caller& caller) const;
    // Checks Action and Version, runs the action and renders its reply.
    SnsReply run(const SnsParams& params, const Caller& caller);
    SnsReply reply(std::string_view action, const ActionResult& result) const;
    SnsReply error_reply(const SnsError& error) const;
    ActionResult dispatch(std::string_view action, const SnsParams& params, const Caller& caller);

    ActionResult create_topic(const SnsParams& params);
    ActionResult delete_topic(const SnsParams& params);
    ActionResult list_topics(const SnsParams& params);
    ActionResult get_topic_attributes(const SnsParams& params);
    ActionResult set_topic_attributes(const SnsParams& params);
    ActionResult subscribe(const SnsParams& params);
    ActionResult confirm_subscription(const SnsParams& params, bool authenticated);
    ActionResult unsubscribe(const SnsParams& params);
    ActionResult list_subscriptions(const SnsParams& params, bool by_topic);
    ActionResult get_subscription_attributes(const SnsParams& params);
    ActionResult set_subscription_attributes(const SnsParams& params);
    ActionResult publish(const SnsParams& params, const Caller& caller);
    ActionResult publish_batch(const SnsParams& params);
    ActionResult list_tags_for_resource(const SnsParams& params);
    // Photoflux extensions: the dead letters of the delivery queue.
    ActionResult list_dead_letters(const SnsParams& params);
    ActionResult replay_dead_letters(const SnsParams& params);

    // A parsed, validated Publish (or batch entry) for `topic`, or the reason it is invalid.
    SnsResult<PublishedMessage> build_message(const SnsParams& params, const Topic& topic);
    // Resolves a TopicArn parameter: InvalidParameter for a malformed or foreign ARN, NotFound
    // when no such topic.
    SnsResult<Topic> require_topic(std::string_view param_name, const SnsParams& params);
    SnsResult<Subscription> require_subscription(const SnsParams& params);
    std::optional<SnsError> check_topic_attribute(std::string_view name,
                                                  std::string_view value) const;
    // Normalises (RawMessageDelivery lowercased, empty values removed) and validates the
    // complete attribute map a subscription of `protocol` would have.
    std::optional<SnsError>
    check_subscription_attributes(std::string_view protocol,
                                  std::map<std::string, std::string>& attributes) const;
    SnsResult<std::string> confirm(std::string_view topic_arn, std::string_view token,
                                   bool authenticated, bool authenticate_on_unsubscribe);

    std::int64_t now_ms() const;
    std::string timestamp() const;

    Options options_;
    SqliteNotifyStore& store_;
    PublishSink& sink_;
};

// A random (version 4) UUID in its canonical lowercase form.
std::string new_uuid();

}  // namespace pf::notify
