#include "aws/sns_client.h"

#include "aws/endpoint_url.h"
#include "aws/request_executor.h"
#include "aws/response_xml.h"
#include "aws/uri_encoding.h"

#include <algorithm>

namespace pf::aws {
namespace {

constexpr std::size_t kMaxMessageBytes = 256 * 1024;  // message and attributes together
constexpr std::size_t kMaxSubjectChars = 99;          // "fewer than 100"
constexpr std::size_t kMaxAttributes = 10;
constexpr std::size_t kMaxAttributeNameBytes = 256;

// <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>
std::optional<ServiceError> read_sns_error(std::string_view body) {
    auto doc = XmlResponse::parse(body);
    if (!doc) {
        return std::nullopt;
    }
    const XmlElement root = doc->root();
    std::optional<XmlElement> error = root.name() == "Error" ? std::optional(root) : root.child("Error");
    if (!error) {
        if (auto errors = root.child("Errors")) {
            error = errors->child("Error");
        }
    }
    if (!error) {
        return std::nullopt;
    }
    return ServiceError{error->child_text("Code"), error->child_text("Message"),
                        root.child_text("RequestId")};
}

std::size_t utf8_chars(std::string_view text) {
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

Result<void> validate(const SnsPublish& request) {
    auto invalid = [](std::string message) {
        return make_error(ErrorCode::InvalidArgument, "SNS Publish: " + message);
    };
    if (request.topic_arn.empty()) {
        return invalid("no topic ARN");
    }
    if (request.message.empty()) {
        return invalid("the message is empty (SNS requires one)");
    }
    if (utf8_chars(request.subject) > kMaxSubjectChars) {
        return invalid("the subject must be shorter than 100 characters");
    }
    if (request.subject.find_first_of("\r\n") != std::string::npos) {
        return invalid("the subject must not contain line breaks");
    }
    if (request.string_attributes.size() > kMaxAttributes) {
        return invalid(std::to_string(request.string_attributes.size()) +
                       " message attributes; SNS allows 10");
    }
    std::size_t total = request.message.size();
    for (const auto& [name, value] : request.string_attributes) {
        if (name.empty() || name.size() > kMaxAttributeNameBytes) {
            return invalid("message attribute names are 1 to 256 bytes");
        }
        if (value.empty()) {
            return invalid("message attribute \"" + name + "\" has an empty value");
        }
        total += name.size() + value.size() + 6;  // + "String"
    }
    if (total > kMaxMessageBytes) {
        return invalid("message and attributes are " + std::to_string(total) +
                       " bytes; SNS allows 262144");
    }
    return {};
}

}  // namespace

std::string publish_form(const SnsPublish& request) {
    std::string body = "Action=Publish&Version=2010-03-31";
    auto add = [&](const std::string& name, std::string_view value) {
        body += "&" + name + "=" + form_encode(value);
    };
    add("TopicArn", request.topic_arn);
    add("Message", request.message);
    if (!request.subject.empty()) {
        add("Subject", request.subject);
    }
    for (std::size_t i = 0; i < request.string_attributes.size(); ++i) {
        const std::string entry = "MessageAttributes.entry." + std::to_string(i + 1);
        add(entry + ".Name", request.string_attributes[i].first);
        add(entry + ".Value.DataType", "String");
        add(entry + ".Value.StringValue", request.string_attributes[i].second);
    }
    return body;
}

SnsClient::SnsClient(HttpTransport& transport, SnsClientOptions options)
    : transport_(transport), options_(std::move(options)) {
    ExecutorConfig config;
    config.service = "sns";
    config.region = options_.region;
    config.credentials = options_.credentials;
    config.retry = options_.retry;
    config.extra_headers = options_.extra_headers;
    config.clock = options_.clock;
    config.sleep = options_.sleep;
    config.read_error = read_sns_error;
    executor_ = std::make_unique<RequestExecutor>(transport_, std::move(config));
}

SnsClient::SnsClient(SnsClient&&) noexcept = default;
SnsClient::~SnsClient() = default;

Result<std::string> SnsClient::publish(const SnsPublish& request) {
    if (auto ok = validate(request); !ok) {
        return ok.error();
    }
    auto endpoint = EndpointUrl::parse(options_.endpoint.url);
    if (!endpoint) {
        return endpoint.error();
    }
    OutgoingRequest out;
    out.method = "POST";
    out.path = endpoint->base_path.empty() ? std::string("/") : endpoint->base_path + "/";
    out.endpoint = std::move(*endpoint);
    out.headers = {{"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
    out.body = publish_form(request);
    out.timeout = options_.request_timeout;
    out.what = "SNS Publish " + request.topic_arn;
    auto response = executor_->execute(out);
    if (!response) {
        return response.error();
    }
    auto doc = XmlResponse::parse(response->body);
    std::string message_id;
    if (doc) {
        if (auto result = doc->root().child("PublishResult")) {
            message_id = result->child_text("MessageId");
        }
    }
    if (message_id.empty()) {
        return make_error(ErrorCode::Internal, out.what + ": the answer has no MessageId");
    }
    return message_id;
}

SnsClientOptions sns_client_options(const AwsEnvironment& environment) {
    SnsClientOptions options;
    options.endpoint = environment.endpoint("sns");
    options.region = environment.region;
    options.credentials = environment.credentials;
    return options;
}

}  // namespace pf::aws
