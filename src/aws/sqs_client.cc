#include "aws/sqs_client.h"

#include "aws/endpoint_url.h"
#include "aws/request_executor.h"
#include "base/json_depth.h"
#include "base/logging.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace pf::aws {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// aws-protocols.md §6.2. SQS itself now takes 1 MiB bodies; 256 KiB is the long-standing limit
// every SQS-compatible server accepts, and S3 events are far below it.
constexpr std::size_t kMaxBodyBytes = 256 * 1024;
constexpr int kMaxMessages = 10;
constexpr seconds kMaxWait{20};
constexpr seconds kMaxVisibility{43'200};
constexpr std::size_t kMaxQueueNameChars = 80;
constexpr std::size_t kMaxReceiptHandleBytes = 8 * 1024;  // AWS's are ~400 bytes
constexpr std::size_t kMaxQueueUrlBytes = 2 * 1024;
// An answer holds at most 10 messages of at most 1 MiB (what SQS allows today) plus attributes.
constexpr std::size_t kMaxAnswerBytes = 16u << 20;
constexpr std::size_t kMaxAnswerDepth = 16;  // Messages[] / {} / MessageAttributes{} / {}
// A receive may take `wait`; the answer still has to arrive after it.
constexpr seconds kReceiveTimeoutMargin{30};

// The error codes the executor cannot see: SQS's query-compatible code comes in a header
// (x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender) and the executor's error
// reader gets the body only. Requests are sent synchronously on the calling thread, so a
// thread-local slot set up around one execute() sees exactly that call's attempts.
struct ErrorCapture {
    std::string type_code;   // from the body's __type, namespace removed
    std::string query_code;  // from x-amzn-query-error, ";Sender" removed
};
thread_local ErrorCapture* t_capture = nullptr;

class CaptureScope {
public:
    explicit CaptureScope(ErrorCapture& capture) : previous_(t_capture) { t_capture = &capture; }
    ~CaptureScope() { t_capture = previous_; }
    CaptureScope(const CaptureScope&) = delete;
    CaptureScope& operator=(const CaptureScope&) = delete;

private:
    ErrorCapture* previous_;
};

class QueryErrorTransport final : public HttpTransport {
public:
    explicit QueryErrorTransport(HttpTransport& inner) : inner_(inner) {}
    Result<TransportResponse> send(const TransportRequest& request, ByteSink* sink) override {
        auto response = inner_.send(request, sink);
        if (response && t_capture != nullptr) {
            // Each attempt overwrites: the last answer is the one the caller gets.
            std::string code;
            if (response->status < 200 || response->status > 299) {
                code = response->header("x-amzn-query-error");
                code = code.substr(0, code.find(';'));
            }
            t_capture->query_code = std::move(code);
            t_capture->type_code.clear();
        }
        return response;
    }

private:
    HttpTransport& inner_;
};

// Answers are ours to parse only within bounds; nullopt (never an exception) otherwise.
std::optional<json> parse_bounded(std::string_view text) {
    if (text.size() > kMaxAnswerBytes || json_nesting_exceeds(text, kMaxAnswerDepth)) {
        return std::nullopt;
    }
    json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (document.is_discarded()) {
        return std::nullopt;
    }
    return document;
}

std::string string_member(const json& object, const char* name) {
    if (!object.is_object()) {
        return {};
    }
    const auto it = object.find(name);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// {"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"..."} (older servers: "Message",
// or a bare "AWS.SimpleQueueService.NonExistentQueue" type).
std::optional<ServiceError> read_sqs_error(std::string_view body) {
    auto document = parse_bounded(body);
    if (!document || !document->is_object()) {
        if (t_capture != nullptr && !t_capture->query_code.empty()) {
            return ServiceError{t_capture->query_code, {}, {}};
        }
        return std::nullopt;
    }
    std::string type = string_member(*document, "__type");
    if (const auto hash = type.rfind('#'); hash != std::string::npos) {
        type.erase(0, hash + 1);
    }
    if (const auto colon = type.find(':'); colon != std::string::npos) {
        type.erase(colon);  // "Code:http://internal.amazon.com/..." (some JSON services)
    }
    std::string message = string_member(*document, "message");
    if (message.empty()) {
        message = string_member(*document, "Message");
    }
    if (t_capture != nullptr) {
        t_capture->type_code = type;
        if (type.empty()) {
            type = t_capture->query_code;
        }
    }
    if (type.empty() && message.empty()) {
        return std::nullopt;
    }
    return ServiceError{type, message, {}};
}

bool is_queue_missing(const ErrorCapture& capture) {
    return capture.type_code == "QueueDoesNotExist" || capture.type_code == "NonExistentQueue" ||
           capture.type_code == "AWS.SimpleQueueService.NonExistentQueue" ||
           capture.query_code == "AWS.SimpleQueueService.NonExistentQueue" ||
           capture.query_code == "QueueDoesNotExist";
}

bool is_access_denied(const ErrorCapture& capture) {
    return capture.type_code == "AccessDeniedException" || capture.type_code == "AccessDenied" ||
           capture.query_code == "AccessDenied";
}

Error invalid(std::string_view action, const std::string& message) {
    return make_error(ErrorCode::InvalidArgument, "SQS " + std::string(action) + ": " + message);
}

// SQS message bodies: valid UTF-8 of the characters #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
// #x10000-#x10FFFF (anything else is refused by SQS with InvalidMessageContents).
std::optional<std::string> body_problem(std::string_view body) {
    std::size_t i = 0;
    while (i < body.size()) {
        const auto byte = static_cast<unsigned char>(body[i]);
        std::uint32_t code = 0;
        std::size_t length = 0;
        if (byte < 0x80) {
            code = byte;
            length = 1;
        } else if ((byte & 0xE0) == 0xC0) {
            code = byte & 0x1F;
            length = 2;
        } else if ((byte & 0xF0) == 0xE0) {
            code = byte & 0x0F;
            length = 3;
        } else if ((byte & 0xF8) == 0xF0) {
            code = byte & 0x07;
            length = 4;
        } else {
            return "invalid UTF-8 at byte " + std::to_string(i);
        }
        if (i + length > body.size()) {
            return "truncated UTF-8 sequence at byte " + std::to_string(i);
        }
        for (std::size_t k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(body[i + k]);
            if ((next & 0xC0) != 0x80) {
                return "invalid UTF-8 at byte " + std::to_string(i);
            }
            code = (code << 6) | (next & 0x3F);
        }
        static constexpr std::uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
        if (code < kMinForLength[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
            return "invalid UTF-8 at byte " + std::to_string(i);
        }
        const bool allowed = code == 0x9 || code == 0xA || code == 0xD ||
                             (code >= 0x20 && code <= 0xD7FF) ||
                             (code >= 0xE000 && code <= 0xFFFD) || code >= 0x10000;
        if (!allowed) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "%04X", static_cast<unsigned>(code));
            return "character U+" + std::string(hex) + " at byte " + std::to_string(i) +
                   " is not allowed in SQS messages";
        }
        i += length;
    }
    return std::nullopt;
}

Result<void> check_queue_url(std::string_view action, const std::string& queue_url) {
    if (queue_url.empty()) {
        return invalid(action, "no queue URL");
    }
    if (queue_url.size() > kMaxQueueUrlBytes) {
        return invalid(action, "the queue URL is longer than 2 KiB");
    }
    if (body_problem(queue_url)) {
        return invalid(action, "the queue URL is not valid text");
    }
    return {};
}

Result<void> check_receipt_handle(std::string_view action, const std::string& handle) {
    if (handle.empty()) {
        return invalid(action, "no receipt handle");
    }
    if (handle.size() > kMaxReceiptHandleBytes) {
        return invalid(action, "the receipt handle is longer than 8 KiB");
    }
    if (body_problem(handle)) {
        return invalid(action, "the receipt handle is not valid text");
    }
    return {};
}

std::string md5_hex(std::string_view text) {
    const auto digest = crypto::md5(text);
    return crypto::hex_encode(std::span<const std::uint8_t>(digest.data(), digest.size()));
}

std::string lowercase_hex(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](char c) {
        return c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return text;
}

struct Call {
    std::string_view action;      // "ReceiveMessage"
    const json& body;
    std::string endpoint_hint;    // the queue URL, when there is one
    std::optional<milliseconds> timeout;
    std::string what;             // for messages
};

// The endpoint a call goes to: the configured one when it was set explicitly (AWS_ENDPOINT_URL*,
// as botocore does); otherwise the queue URL's own scheme and host, so a queue URL of any
// SQS-compatible server works without extra settings (as the JS SDK v3 does).
Result<EndpointUrl> endpoint_for(const SqsClientOptions& options, const std::string& queue_url) {
    if (!options.endpoint.custom && !queue_url.empty()) {
        if (auto from_queue = EndpointUrl::parse(queue_url)) {
            from_queue->base_path.clear();
            return from_queue;
        }
    }
    return EndpointUrl::parse(options.endpoint.url);
}

Result<json> execute(RequestExecutor& executor, const SqsClientOptions& options, const Call& call) {
    auto endpoint = endpoint_for(options, call.endpoint_hint);
    if (!endpoint) {
        return endpoint.error();
    }
    OutgoingRequest out;
    out.method = "POST";
    out.path = endpoint->base_path.empty() ? std::string("/") : endpoint->base_path + "/";
    out.endpoint = std::move(*endpoint);
    out.headers = {{"content-type", "application/x-amz-json-1.0"},
                   {"x-amz-target", "AmazonSQS." + std::string(call.action)},
                   // Query-compatible error codes in x-amzn-query-error, as botocore asks.
                   {"x-amzn-query-mode", "true"}};
    try {
        out.body = call.body.dump(-1, ' ', false, json::error_handler_t::strict);
    } catch (const std::exception&) {
        return invalid(call.action, "a request field is not valid UTF-8");
    }
    out.timeout = call.timeout;
    out.what = call.what;

    ErrorCapture capture;
    Result<TransportResponse> response = [&] {
        CaptureScope scope(capture);
        return executor.execute(out);
    }();
    if (!response) {
        Error error = response.error();
        if (is_queue_missing(capture)) {
            error.code = ErrorCode::NotFound;
        } else if (is_access_denied(capture)) {
            error.code = ErrorCode::Forbidden;
        }
        return error;
    }
    if (response->body.empty()) {
        return json::object();  // DeleteMessage / ChangeMessageVisibility may answer nothing
    }
    auto document = parse_bounded(response->body);
    if (!document || !document->is_object()) {
        return make_error(ErrorCode::Internal,
                          call.what + ": the answer is not a JSON object (" +
                              std::to_string(response->body.size()) + " bytes)");
    }
    return std::move(*document);
}

std::shared_ptr<spdlog::logger> logger() {
    static const auto instance = component_logger("aws");
    return instance;
}

// One entry of ReceiveMessage's Messages[]; nullopt (and a warning naming the message) when it
// cannot be handed on: no ReceiptHandle to settle it with, or a body that is not what SQS hashed.
std::optional<SqsMessage> read_message(const json& entry, const std::string& queue_url) {
    SqsMessage message;
    message.message_id = string_member(entry, "MessageId");
    message.receipt_handle = string_member(entry, "ReceiptHandle");
    message.md5_of_body = string_member(entry, "MD5OfBody");
    if (!entry.is_object() || !entry.contains("Body") || !entry["Body"].is_string()) {
        logger()->warn("sqs.receive.skipped queue={} message_id={} reason=\"no Body\"", queue_url,
                       message.message_id);
        return std::nullopt;
    }
    message.body = entry["Body"].get<std::string>();
    if (message.receipt_handle.empty()) {
        logger()->warn("sqs.receive.skipped queue={} message_id={} reason=\"no ReceiptHandle\"",
                       queue_url, message.message_id);
        return std::nullopt;
    }
    if (!message.md5_of_body.empty()) {
        const std::string actual = md5_hex(message.body);
        if (lowercase_hex(message.md5_of_body) != actual) {
            // Not handed on and not deleted: it reappears after its visibility timeout, and a
            // body that keeps arriving damaged ends in the dead-letter queue.
            logger()->warn(
                "sqs.receive.skipped queue={} message_id={} reason=\"body MD5 mismatch: "
                "MD5OfBody {} but the body received hashes to {}\"",
                queue_url, message.message_id, message.md5_of_body, actual);
            return std::nullopt;
        }
    }
    if (const auto it = entry.find("Attributes"); it != entry.end() && it->is_object()) {
        for (const auto& [name, value] : it->items()) {
            message.attributes[name] = value.is_string() ? value.get<std::string>() : value.dump();
        }
    }
    return message;
}

}  // namespace

int SqsMessage::receive_count() const {
    const auto it = attributes.find("ApproximateReceiveCount");
    if (it == attributes.end()) {
        return 0;
    }
    int count = 0;
    const auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), count);
    return ec == std::errc() && end == it->second.data() + it->second.size() && count > 0 ? count : 0;
}

SqsClient::SqsClient(HttpTransport& transport, SqsClientOptions options)
    : transport_(transport),
      options_(std::move(options)),
      wire_(std::make_unique<QueryErrorTransport>(transport_)) {
    ExecutorConfig config;
    config.service = "sqs";
    config.region = options_.region;
    config.credentials = options_.credentials;
    config.retry = options_.retry;
    config.clock = options_.clock;
    config.sleep = options_.sleep;
    config.read_error = read_sqs_error;
    executor_ = std::make_unique<RequestExecutor>(*wire_, std::move(config));
}

SqsClient::SqsClient(SqsClient&&) noexcept = default;
SqsClient::~SqsClient() = default;

Result<std::vector<SqsMessage>> SqsClient::receive(const SqsReceive& request) {
    constexpr std::string_view kAction = "ReceiveMessage";
    if (auto ok = check_queue_url(kAction, request.queue_url); !ok) {
        return ok.error();
    }
    if (request.max_messages < 1 || request.max_messages > kMaxMessages) {
        return invalid(kAction, "MaxNumberOfMessages " + std::to_string(request.max_messages) +
                                    " is outside 1-10");
    }
    if (request.wait < seconds(0) || request.wait > kMaxWait) {
        return invalid(kAction, "WaitTimeSeconds " + std::to_string(request.wait.count()) +
                                    " is outside 0-20");
    }
    if (request.visibility_timeout &&
        (*request.visibility_timeout < seconds(0) || *request.visibility_timeout > kMaxVisibility)) {
        return invalid(kAction, "VisibilityTimeout " +
                                    std::to_string(request.visibility_timeout->count()) +
                                    " is outside 0-43200");
    }
    const json names = json::array({"ApproximateReceiveCount", "SentTimestamp"});
    json body = {{"QueueUrl", request.queue_url},
                 {"MaxNumberOfMessages", request.max_messages},
                 {"WaitTimeSeconds", request.wait.count()},
                 // Both spellings: older servers know AttributeNames only.
                 {"MessageSystemAttributeNames", names},
                 {"AttributeNames", names}};
    if (request.visibility_timeout) {
        body["VisibilityTimeout"] = request.visibility_timeout->count();
    }
    // The server holds the request for up to `wait`: the budget must outlast it.
    milliseconds timeout = std::chrono::duration_cast<milliseconds>(request.wait + kReceiveTimeoutMargin);
    if (options_.request_timeout && *options_.request_timeout > timeout) {
        timeout = *options_.request_timeout;
    }
    auto answer = execute(*executor_, options_,
                          {kAction, body, request.queue_url, timeout,
                           "SQS ReceiveMessage " + request.queue_url});
    if (!answer) {
        return answer.error();
    }
    std::vector<SqsMessage> messages;
    const auto it = answer->find("Messages");
    if (it == answer->end() || it->is_null()) {
        return messages;
    }
    if (!it->is_array()) {
        return make_error(ErrorCode::Internal,
                          "SQS ReceiveMessage " + request.queue_url + ": Messages is not a list");
    }
    for (const auto& entry : *it) {
        if (auto message = read_message(entry, request.queue_url)) {
            messages.push_back(std::move(*message));
        }
    }
    return messages;
}

Result<void> SqsClient::delete_message(const std::string& queue_url, const std::string& receipt_handle) {
    constexpr std::string_view kAction = "DeleteMessage";
    if (auto ok = check_queue_url(kAction, queue_url); !ok) {
        return ok.error();
    }
    if (auto ok = check_receipt_handle(kAction, receipt_handle); !ok) {
        return ok.error();
    }
    const json body = {{"QueueUrl", queue_url}, {"ReceiptHandle", receipt_handle}};
    auto answer = execute(*executor_, options_,
                          {kAction, body, queue_url, options_.request_timeout,
                           "SQS DeleteMessage " + queue_url});
    if (!answer) {
        return answer.error();
    }
    return {};
}

Result<void> SqsClient::change_visibility(const std::string& queue_url,
                                          const std::string& receipt_handle,
                                          std::chrono::seconds visibility_timeout) {
    constexpr std::string_view kAction = "ChangeMessageVisibility";
    if (auto ok = check_queue_url(kAction, queue_url); !ok) {
        return ok.error();
    }
    if (auto ok = check_receipt_handle(kAction, receipt_handle); !ok) {
        return ok.error();
    }
    if (visibility_timeout < seconds(0) || visibility_timeout > kMaxVisibility) {
        return invalid(kAction, "VisibilityTimeout " + std::to_string(visibility_timeout.count()) +
                                    " is outside 0-43200");
    }
    const json body = {{"QueueUrl", queue_url},
                       {"ReceiptHandle", receipt_handle},
                       {"VisibilityTimeout", visibility_timeout.count()}};
    auto answer = execute(*executor_, options_,
                          {kAction, body, queue_url, options_.request_timeout,
                           "SQS ChangeMessageVisibility " + queue_url});
    if (!answer) {
        return answer.error();
    }
    return {};
}

Result<std::string> SqsClient::send(const std::string& queue_url, const std::string& body) {
    constexpr std::string_view kAction = "SendMessage";
    if (auto ok = check_queue_url(kAction, queue_url); !ok) {
        return ok.error();
    }
    if (body.empty()) {
        return invalid(kAction, "the message body is empty (SQS requires one)");
    }
    if (body.size() > kMaxBodyBytes) {
        return invalid(kAction, "the message body is " + std::to_string(body.size()) +
                                    " bytes; the limit is 262144");
    }
    if (auto problem = body_problem(body)) {
        return invalid(kAction, "the message body: " + *problem);
    }
    const json request = {{"QueueUrl", queue_url}, {"MessageBody", body}};
    const std::string what = "SQS SendMessage " + queue_url;
    auto answer = execute(*executor_, options_,
                          {kAction, request, queue_url, options_.request_timeout, what});
    if (!answer) {
        return answer.error();
    }
    std::string message_id = string_member(*answer, "MessageId");
    if (message_id.empty()) {
        return make_error(ErrorCode::Internal, what + ": the answer has no MessageId");
    }
    const std::string md5 = string_member(*answer, "MD5OfMessageBody");
    const std::string expected = md5_hex(body);
    if (md5.empty() || lowercase_hex(md5) != expected) {
        // The queue holds a message, but maybe not this body: the caller must not count it sent.
        return make_error(ErrorCode::Internal,
                          what + ": MD5OfMessageBody " + (md5.empty() ? "missing" : md5) +
                              " does not match the body sent (" + expected + "), message " +
                              message_id);
    }
    return message_id;
}

Result<std::string> SqsClient::queue_url(const std::string& queue_name,
                                         const std::string& owner_account) {
    constexpr std::string_view kAction = "GetQueueUrl";
    // 1-80 of [A-Za-z0-9_-], FIFO queues ending in ".fifo".
    std::string_view stem = queue_name;
    if (stem.ends_with(".fifo")) {
        stem.remove_suffix(5);
    }
    const bool name_ok = !stem.empty() && queue_name.size() <= kMaxQueueNameChars &&
                         std::all_of(stem.begin(), stem.end(), [](char c) {
                             return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                    (c >= '0' && c <= '9') || c == '-' || c == '_';
                         });
    if (!name_ok) {
        return invalid(kAction, "queue names are 1-80 letters, digits, '-' and '_' (\".fifo\" "
                                "suffix allowed)");
    }
    const bool owner_ok = owner_account.empty() ||
                          (owner_account.size() == 12 &&
                           std::all_of(owner_account.begin(), owner_account.end(),
                                       [](char c) { return c >= '0' && c <= '9'; }));
    if (!owner_ok) {
        return invalid(kAction, "the owner account must be 12 digits");
    }
    json body = {{"QueueName", queue_name}};
    if (!owner_account.empty()) {
        body["QueueOwnerAWSAccountId"] = owner_account;
    }
    const std::string what = "SQS GetQueueUrl " + queue_name;
    auto answer = execute(*executor_, options_, {kAction, body, {}, options_.request_timeout, what});
    if (!answer) {
        return answer.error();
    }
    std::string url = string_member(*answer, "QueueUrl");
    if (url.empty()) {
        return make_error(ErrorCode::Internal, what + ": the answer has no QueueUrl");
    }
    return url;
}

SqsClientOptions sqs_client_options(const AwsEnvironment& environment) {
    SqsClientOptions options;
    options.endpoint = environment.endpoint("sqs");
    options.region = environment.region;
    options.credentials = environment.credentials;
    return options;
}

}  // namespace pf::aws
