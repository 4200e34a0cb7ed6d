// The transports the dispatcher attempts deliveries through: HTTP/HTTPS POSTs (webhooks) and
// SMTP (protocols email and email-json). Each maps its client's result to SNS's idea of success:
// an HTTP answer 200-499 within the timeout is delivered (4xx is not retried, as on SNS); 5xx,
// timeouts and connection failures are retried; a destination the address policy refuses, a bad
// URL or an SMTP 5xx is permanent (dead letter at once).
#pragma once

#include "http/client.h"
#include "http/smtp_client.h"
#include "notify/delivery.h"

#include <memory>
#include <string>

namespace pf::notify {

class HttpTransport final : public Transport {
public:
    explicit HttpTransport(http::ClientOptions options) : client_(std::move(options)) {}
    AttemptResult attempt(const Delivery& delivery, std::chrono::milliseconds timeout) override;

private:
    http::HttpClient client_;
};

class EmailTransport final : public Transport {
public:
    // Without an SMTP client (serve.notify.smtp_url unset) every e-mail fails permanently with a
    // message naming the setting.
    explicit EmailTransport(std::unique_ptr<http::SmtpClient> client) : client_(std::move(client)) {}
    AttemptResult attempt(const Delivery& delivery, std::chrono::milliseconds timeout) override;

private:
    std::unique_ptr<http::SmtpClient> client_;
};

}  // namespace pf::notify
