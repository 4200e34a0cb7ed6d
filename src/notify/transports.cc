#include "notify/transports.h"

namespace pf::notify {
namespace {

// Errors no retry can fix: the destination is refused by policy, or the request is malformed.
bool is_permanent(const Error& error) {
    return error.code == ErrorCode::Forbidden || error.code == ErrorCode::InvalidArgument;
}

AttemptResult failed(const Error& error) {
    return {is_permanent(error) ? Outcome::Permanent : Outcome::Retryable, error.message};
}

}  // namespace

AttemptResult HttpTransport::attempt(const Delivery& delivery, std::chrono::milliseconds timeout) {
    http::ClientRequest request;
    request.method = "POST";
    request.url = delivery.endpoint;
    request.headers = delivery.headers;
    request.body = delivery.body;
    request.timeout = timeout;
    auto response = client_.send(request);
    if (!response) {
        return failed(response.error());
    }
    std::string detail = "HTTP " + std::to_string(response->status);
    if (response->status >= 200 && response->status < 500) {
        return {Outcome::Delivered, detail};
    }
    return {Outcome::Retryable, detail};
}

AttemptResult EmailTransport::attempt(const Delivery& delivery, std::chrono::milliseconds timeout) {
    if (!client_) {
        return {Outcome::Permanent,
                "no SMTP server is configured (set serve.notify.smtp_url) for " +
                    delivery.protocol + " subscriptions"};
    }
    http::SmtpMessage message;
    message.to = delivery.endpoint;
    message.subject = delivery.subject;
    message.text = delivery.body;
    message.timeout = timeout;
    auto sent = client_->send(message);
    if (!sent) {
        return failed(sent.error());
    }
    return {Outcome::Delivered, "SMTP " + std::to_string(sent->reply_code)};
}

}  // namespace pf::notify
