// Sends one e-mail per call over SMTP (libcurl stays behind this header): the e-mail transport of
// notifications (SNS "email" / "email-json" subscriptions).
//
// The message is built here as RFC 5322 + MIME: Date, Message-ID, From, To, Subject (an RFC 2047
// encoded-word when not ASCII), MIME-Version, Content-Type text/plain; charset=UTF-8, and the
// body with CRLF line endings — 7bit when it is ASCII with short lines, quoted-printable
// otherwise. Dot-stuffing of the DATA stream is libcurl's job.
//
// The SMTP server is configured by the operator, not by a subscriber, so it is trusted: the
// webhook AddressPolicy does NOT apply to it (a relay on 127.0.0.1:25 or in the private network
// is the usual setup). Only the recipient comes from a subscriber, and it is validated as a plain
// ASCII address (local@domain: one '@', no spaces, CR/LF, quotes, comments or angle brackets;
// internationalized addresses are refused).
//
// Errors (Error::code) say what the caller should do:
//   Forbidden        the server answered 5xx (bad recipient, rejected message, auth refused) —
//                    permanent; the message names the SMTP reply code
//   InvalidArgument  a bad address, header or setting (not smtp:// or smtps://) — permanent
//   Timeout          the timeout ran out — retryable
//   Unavailable      4xx (greylisting, mailbox busy), connection or DNS failure, TLS failure
//                    (including STARTTLS required but not offered) — retryable
//   Internal         libcurl out of memory or misbehaving — retryable
//
// Thread-safe: send() is const and uses its own easy handle per call.
#pragma once

#include "base/result.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::http {

enum class StartTls {
    Off,      // plain SMTP (or smtps://, which is TLS from the first byte)
    Try,      // STARTTLS when the server offers it, plain otherwise
    Require,  // STARTTLS or fail (Unavailable)
};

struct SmtpSettings {
    std::string server_url;  // "smtp://host:25", "smtp://host:587", "smtps://host:465"
    std::string username;    // empty: no AUTH
    std::string password;
    StartTls starttls = StartTls::Try;
    std::chrono::milliseconds timeout{30'000};          // the whole conversation
    std::chrono::milliseconds connect_timeout{10'000};  // DNS + TCP + TLS handshake
    std::string ca_file;       // PEM bundle for the server's certificate; empty: the system's store
    bool verify_tls = true;    // false only for development relays with self-signed certificates
    std::string from_address;  // "notifications@example.com": envelope sender and From
    std::string from_name;     // optional display name ("Photoflux"), encoded when not ASCII
    std::string helo_domain;   // EHLO name; empty: the from address's domain
};

struct SmtpMessage {
    std::string to;       // one recipient address, "someone@example.com"
    std::string subject;  // UTF-8, one line (CR/LF are refused)
    std::string text;     // UTF-8 plain text; any line ending becomes CRLF
    // Extra headers ("X-Photoflux-Topic", ...). Names are tokens, values one line; the headers
    // this client writes itself (Date, From, To, Subject, Message-ID, MIME-Version,
    // Content-Type, Content-Transfer-Encoding) cannot be given again.
    std::vector<std::pair<std::string, std::string>> headers;
    // This send's total timeout instead of SmtpSettings::timeout (a delivery attempt's budget).
    std::optional<std::chrono::milliseconds> timeout;
};

struct SmtpReceipt {
    std::string message_id;  // the Message-ID header sent, "<...@domain>"
    int reply_code = 0;      // the server's last reply (250 after a successful DATA)
};

class SmtpClient {
public:
    // Settings are checked on every send (see validate()), not here.
    explicit SmtpClient(SmtpSettings settings);

    // The settings' own problems (scheme, from address, credentials with CR/LF), all listed.
    static Result<void> validate(const SmtpSettings& settings);

    Result<SmtpReceipt> send(const SmtpMessage& message) const;

    const SmtpSettings& settings() const { return settings_; }

private:
    SmtpSettings settings_;
};

// The RFC 5322 message exactly as it goes into DATA (before dot-stuffing), given the Date and
// Message-ID values; exposed for tests and for the e-mail transport's logs.
Result<std::string> build_email(const SmtpSettings& settings, const SmtpMessage& message,
                                const std::string& date, const std::string& message_id);

// An RFC 2047 "encoded-word" form of a header text when it is not plain printable ASCII
// (UTF-8, base64, split into words of at most 75 characters joined by CRLF SP); the text itself
// when it is.
std::string encode_header_text(std::string_view text);

// RFC 5322 date-time of a Unix time, in UTC: "Tue, 01 Jul 2025 12:00:00 +0000".
std::string rfc5322_date(std::int64_t unix_seconds);

}  // namespace pf::http
