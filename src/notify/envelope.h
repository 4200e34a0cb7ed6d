// The documents SNS delivers, byte for byte what a delivery sends: the signed JSON envelopes of
// HTTP/HTTPS and email-json (Notification, SubscriptionConfirmation, UnsubscribeConfirmation),
// the strings their signatures cover, and the plain-text bodies of protocol `email`.
//
// Signatures are computed over the original field values (real newlines, unescaped quotes), then
// the JSON is written by nlohmann_json, so a receiver that parses the JSON and rebuilds the
// string to sign gets exactly the signed bytes. The field order of the JSON follows SNS's
// documents; receivers must not depend on it (nor on whitespace).
#pragma once

#include "base/result.h"
#include "notify/message.h"
#include "notify/message_signer.h"

#include <chrono>
#include <map>
#include <utility>
#include <string>
#include <string_view>

namespace pf::notify {

// SNS's Timestamp: UTC with milliseconds, "2012-05-02T00:54:06.655Z".
std::string sns_timestamp(std::chrono::system_clock::time_point time);

// Per-subscriber links the server mints pointing at itself (under /_/).
struct EnvelopeUrls {
    std::string signing_cert_url;  // ends with MessageSigner::certificate_file_name()
    std::string unsubscribe_url;   // one click unsubscribes this subscription
};

enum class ConfirmationKind {
    Subscribe,    // Type "SubscriptionConfirmation", sent on Subscribe
    Unsubscribe,  // Type "UnsubscribeConfirmation", sent on Unsubscribe
};

struct ConfirmationFields {
    ConfirmationKind kind = ConfirmationKind::Subscribe;
    std::string message_id;  // uuid of this confirmation message
    std::string token;       // what ConfirmSubscription takes
    std::string topic_arn;
    std::string subscription_arn;  // Unsubscribe: named in its Message text; unused otherwise
    std::string subscribe_url;     // GET confirms (or, for Unsubscribe, restores) the subscription
    std::string timestamp;         // sns_timestamp() of when the confirmation was created
    std::string signing_cert_url;
};

// "SubscriptionConfirmation" or "UnsubscribeConfirmation".
std::string_view confirmation_type(ConfirmationKind kind);

// SNS's standard Message of a confirmation:
//   "You have chosen to subscribe to the topic <topic arn>.\nTo confirm the subscription, visit
//    the SubscribeURL included in this message."
//   "You have chosen to deactivate subscription <subscription arn>.\nTo cancel this operation and
//    restore the subscription, visit the SubscribeURL included in this message."
std::string confirmation_message(const ConfirmationFields& fields);

// The bytes a Notification's Signature covers: "Name\nValue\n" for Message (= message_text),
// MessageId, Subject (only when the message has one), Timestamp, TopicArn, Type, in that order.
std::string notification_string_to_sign(const PublishedMessage& message,
                                        std::string_view message_text);

// The bytes a confirmation's Signature covers: Message, MessageId, SubscribeURL, Timestamp,
// Token, TopicArn, Type.
std::string confirmation_string_to_sign(const ConfirmationFields& fields);

// The Notification JSON for one subscriber (HTTP/HTTPS body, email-json mail body): Type,
// MessageId, TopicArn, Subject (when set), Message, Timestamp, SignatureVersion ("1"/"2"),
// Signature, SigningCertURL, UnsubscribeURL, and MessageAttributes
// ({"name":{"Type":"String","Value":"v"}}, Binary values base64) when the message has attributes
// and was not published with MessageStructure=json (SNS does not deliver attributes then).
// `message_text` is this subscriber's text (MessageStructure=json already resolved).
// InvalidArgument for a signature version other than 1 or 2, or a field that is not UTF-8.
//
// A notification's signature covers the message, never the subscriber (the UnsubscribeURL is not
// signed), so the subscribers of one Publish that get the same text can share one RSA signature:
// pass the same cache for all of them (one Publish to 50 subscribers: 1 signature, not 50).
using SignatureCache = std::map<std::pair<int, std::string>, std::string>;  // (version, text)
Result<std::string> notification_json(const PublishedMessage& message,
                                      std::string_view message_text, const EnvelopeUrls& urls,
                                      int signature_version, const MessageSigner& signer,
                                      SignatureCache* cache = nullptr);

// The SubscriptionConfirmation / UnsubscribeConfirmation JSON: Type, MessageId, Token, TopicArn,
// Message (confirmation_message()), SubscribeURL, Timestamp, SignatureVersion, Signature,
// SigningCertURL. Errors as for notification_json.
Result<std::string> confirmation_json(const ConfirmationFields& fields, int signature_version,
                                      const MessageSigner& signer);

// Protocol `email`. Line breaks are "\n": the SMTP transport must send them as CRLF.
//
// The subject line of a notification: its Subject, or SNS's "AWS Notification Message".
std::string email_subject(const PublishedMessage& message);
// The message text, then SNS's footer with the unsubscribe link.
std::string email_text_body(std::string_view message_text, std::string_view unsubscribe_url);
// The subject and body of the e-mail that asks an `email` subscriber to confirm, with the link
// that confirms (an `email-json` subscriber gets confirmation_json() instead).
std::string confirmation_email_subject();
std::string confirmation_email_body(std::string_view topic_arn, std::string_view subscribe_url);

}  // namespace pf::notify
