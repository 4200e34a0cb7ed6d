#include "notify/envelope.h"

#include "aws/time_format.h"
#include "crypto/encoding.h"

#include <nlohmann/json.hpp>

#include <utility>

namespace pf::notify {
namespace {

// Insertion-ordered, so the document reads in SNS's field order.
using Json = nlohmann::ordered_json;

void append_field(std::string& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.push_back('\n');
    out.append(value);
    out.push_back('\n');
}

// nlohmann_json refuses (throws) on a string that is not UTF-8 rather than writing a document a
// receiver cannot parse; that is a caller's input problem, so it becomes InvalidArgument.
Result<std::string> serialise(const Json& document, std::string_view what) {
    try {
        return document.dump(2, ' ', false, Json::error_handler_t::strict);
    } catch (const Json::exception& e) {
        return make_error(ErrorCode::InvalidArgument,
                          std::string(what) + " has a field that is not UTF-8: " + e.what());
    }
}

Json message_attributes(const PublishedMessage& message) {
    Json attributes = Json::object();
    for (const MessageAttribute& attribute : message.attributes) {
        attributes[attribute.name] = Json{
            {"Type", attribute.data_type},
            {"Value", attribute.is_binary() ? crypto::base64_encode(attribute.binary_value)
                                            : attribute.string_value},
        };
    }
    return attributes;
}

}  // namespace

std::string sns_timestamp(std::chrono::system_clock::time_point time) {
    return aws::format_iso8601_millis(time);
}

std::string_view confirmation_type(ConfirmationKind kind) {
    return kind == ConfirmationKind::Subscribe ? "SubscriptionConfirmation"
                                               : "UnsubscribeConfirmation";
}

std::string confirmation_message(const ConfirmationFields& fields) {
    if (fields.kind == ConfirmationKind::Subscribe) {
        return "You have chosen to subscribe to the topic " + fields.topic_arn +
               ".\nTo confirm the subscription, visit the SubscribeURL included in this message.";
    }
    return "You have chosen to deactivate subscription " + fields.subscription_arn +
           ".\nTo cancel this operation and restore the subscription, visit the SubscribeURL "
           "included in this message.";
}

std::string notification_string_to_sign(const PublishedMessage& message,
                                        std::string_view message_text) {
    std::string out;
    append_field(out, "Message", message_text);
    append_field(out, "MessageId", message.message_id);
    if (message.subject.has_value()) {
        append_field(out, "Subject", *message.subject);
    }
    append_field(out, "Timestamp", message.timestamp);
    append_field(out, "TopicArn", message.topic_arn);
    append_field(out, "Type", "Notification");
    return out;
}

std::string confirmation_string_to_sign(const ConfirmationFields& fields) {
    std::string out;
    append_field(out, "Message", confirmation_message(fields));
    append_field(out, "MessageId", fields.message_id);
    append_field(out, "SubscribeURL", fields.subscribe_url);
    append_field(out, "Timestamp", fields.timestamp);
    append_field(out, "Token", fields.token);
    append_field(out, "TopicArn", fields.topic_arn);
    append_field(out, "Type", confirmation_type(fields.kind));
    return out;
}

Result<std::string> notification_json(const PublishedMessage& message,
                                      std::string_view message_text, const EnvelopeUrls& urls,
                                      int signature_version, const MessageSigner& signer,
                                      SignatureCache* cache) {
    std::pair<int, std::string> key{signature_version, std::string(message_text)};
    Result<std::string> signature = std::string();
    if (cache != nullptr) {
        if (auto it = cache->find(key); it != cache->end()) {
            signature = it->second;
        }
    }
    if (signature->empty()) {
        signature = signer.sign_base64(signature_version,
                                       notification_string_to_sign(message, message_text));
        if (!signature) {
            return signature.error();
        }
        if (cache != nullptr) {
            cache->emplace(std::move(key), *signature);
        }
    }
    Json document = Json::object();
    document["Type"] = "Notification";
    document["MessageId"] = message.message_id;
    document["TopicArn"] = message.topic_arn;
    if (message.subject.has_value()) {
        document["Subject"] = *message.subject;
    }
    document["Message"] = message_text;
    document["Timestamp"] = message.timestamp;
    document["SignatureVersion"] = std::to_string(signature_version);
    document["Signature"] = std::move(*signature);
    document["SigningCertURL"] = urls.signing_cert_url;
    document["UnsubscribeURL"] = urls.unsubscribe_url;
    if (!message.attributes.empty() && !message.json_structure) {
        document["MessageAttributes"] = message_attributes(message);
    }
    return serialise(document, "notification " + message.message_id);
}

Result<std::string> confirmation_json(const ConfirmationFields& fields, int signature_version,
                                      const MessageSigner& signer) {
    auto signature = signer.sign_base64(signature_version, confirmation_string_to_sign(fields));
    if (!signature) {
        return signature.error();
    }
    Json document = Json::object();
    document["Type"] = confirmation_type(fields.kind);
    document["MessageId"] = fields.message_id;
    document["Token"] = fields.token;
    document["TopicArn"] = fields.topic_arn;
    document["Message"] = confirmation_message(fields);
    document["SubscribeURL"] = fields.subscribe_url;
    document["Timestamp"] = fields.timestamp;
    document["SignatureVersion"] = std::to_string(signature_version);
    document["Signature"] = std::move(*signature);
    document["SigningCertURL"] = fields.signing_cert_url;
    return serialise(document,
                     std::string(confirmation_type(fields.kind)) + " " + fields.message_id);
}

std::string email_subject(const PublishedMessage& message) {
    // SNS refuses an empty Subject at Publish; should one arrive anyway, a mailbox shows it as no
    // subject at all, so it gets the default too.
    if (message.subject.has_value() && !message.subject->empty()) {
        return *message.subject;
    }
    return "AWS Notification Message";
}

std::string email_text_body(std::string_view message_text, std::string_view unsubscribe_url) {
    std::string body(message_text);
    body += "\n\n--\nIf you wish to stop receiving notifications from this topic, please click or "
            "visit the link below to unsubscribe:\n";
    body += unsubscribe_url;
    body += "\n\nPlease do not reply directly to this email.\n";
    return body;
}

std::string confirmation_email_subject() {
    return "AWS Notification - Subscription Confirmation";
}

std::string confirmation_email_body(std::string_view topic_arn, std::string_view subscribe_url) {
    std::string body = "You have chosen to subscribe to the topic:\n";
    body += topic_arn;
    body += "\n\nTo confirm this subscription, click or visit the link below (if this was in error "
            "no action is necessary):\n";
    body += subscribe_url;
    body += "\n\nPlease do not reply directly to this email.\n";
    return body;
}

}  // namespace pf::notify
