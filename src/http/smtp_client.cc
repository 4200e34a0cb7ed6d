// SmtpClient on libcurl's SMTP support: MAIL FROM / RCPT TO / DATA with the message built here
// (see smtp_client.h). The server's last reply line is captured through the debug callback so
// that an error says what the server said ("550 5.1.1 <x@example.com>: user unknown").
#include "http/smtp_client.h"

#include "base/ascii.h"
#include "crypto/encoding.h"
#include "crypto/random.h"
#include "http/curl_support.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>

namespace pf::http {
namespace {

constexpr std::size_t kMaxReplyText = 512;

bool is_printable_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

bool has_line_break(std::string_view s) {
    return s.find_first_of("\r\n") != std::string_view::npos || s.find('\0') != s.npos;
}

// A header field name: printable ASCII except ':' and space (RFC 5322 ftext).
bool is_field_name(std::string_view s) {
    return !s.empty() && s.size() <= 76 && std::all_of(s.begin(), s.end(), [](char c) {
        return c > 0x20 && c <= 0x7e && c != ':';
    });
}

// A plain addr-spec (local@domain), ASCII, no quoting, no comments, no angle brackets.
std::string check_address(std::string_view what, std::string_view address) {
    const std::string quoted =
        std::string(what) + " \"" + std::string(address.substr(0, 80)) + "\"";
    if (address.empty()) {
        return std::string(what) + " is empty";
    }
    if (address.size() > 254) {
        return quoted + " is longer than 254 characters";
    }
    const bool allowed_chars = std::all_of(address.begin(), address.end(), [](char c) {
        return c > 0x20 && c < 0x7f &&
               std::string_view("<>()[],;:\"\\").find(c) == std::string_view::npos;
    });
    if (!allowed_chars) {
        return quoted + " holds a space, a control or non-ASCII character, or one of <>()[],;:\"\\";
    }
    const auto at = address.find('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == address.size() ||
        address.find('@', at + 1) != std::string_view::npos) {
        return quoted + " is not of the form local@domain";
    }
    if (at > 64) {
        return quoted + " has a local part longer than 64 characters";
    }
    return {};
}

std::string_view domain_of(std::string_view address) {
    const auto at = address.rfind('@');
    return at == std::string_view::npos ? std::string_view("localhost") : address.substr(at + 1);
}

// Any line ending (CRLF, LF, lone CR) becomes CRLF, and the text ends with one.
std::string to_crlf(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 32 + 2);
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\r') {
            if (i + 1 < text.size() && text[i + 1] == '\n') {
                ++i;
            }
            out += "\r\n";
        } else if (c == '\n') {
            out += "\r\n";
        } else {
            out += c;
        }
    }
    if (!out.ends_with("\r\n")) {
        out += "\r\n";
    }
    return out;
}

// Whether a CRLF text can go as 7bit: ASCII, no NUL or stray control bytes, lines <= 998.
bool fits_7bit(std::string_view crlf_text) {
    std::size_t line = 0;
    for (std::size_t i = 0; i < crlf_text.size(); ++i) {
        const auto u = static_cast<unsigned char>(crlf_text[i]);
        if (u == '\r' && i + 1 < crlf_text.size() && crlf_text[i + 1] == '\n') {
            line = 0;
            ++i;
            continue;
        }
        if (u >= 0x80 || u == 0 || u == 0x7f || (u < 0x20 && u != '\t')) {
            return false;
        }
        if (++line > 998) {
            return false;
        }
    }
    return true;
}

// RFC 2045 quoted-printable of a CRLF text: hard line breaks stay CRLF, lines are at most 76
// characters with soft breaks ("=" CRLF), trailing white space is encoded.
std::string quoted_printable(std::string_view crlf_text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(crlf_text.size() * 2);
    std::size_t start = 0;
    while (start < crlf_text.size()) {
        std::size_t end = crlf_text.find("\r\n", start);
        const bool last = end == std::string_view::npos;
        if (last) {
            end = crlf_text.size();
        }
        const std::string_view line = crlf_text.substr(start, end - start);
        std::size_t column = 0;
        for (std::size_t i = 0; i < line.size(); ++i) {
            const auto u = static_cast<unsigned char>(line[i]);
            const bool at_end = i + 1 == line.size();
            const bool literal =
                (u >= 33 && u <= 126 && u != '=') || ((u == ' ' || u == '\t') && !at_end);
            char token[3] = {static_cast<char>(u), 0, 0};
            std::size_t token_size = 1;
            if (!literal) {
                token[0] = '=';
                token[1] = hex[u >> 4];
                token[2] = hex[u & 0x0f];
                token_size = 3;
            }
            // Leave room for the soft break's "=" unless this is the line's last token.
            const std::size_t limit = at_end ? 76 : 75;
            if (column + token_size > limit) {
                out += "=\r\n";
                column = 0;
            }
            out.append(token, token_size);
            column += token_size;
        }
        if (!last) {
            out += "\r\n";
        }
        start = last ? end : end + 2;
    }
    return out;
}

// "Subject: long words..." folded at spaces so lines stay near 78 characters.
std::string fold(std::string_view field_name, std::string_view value) {
    std::string out = std::string(field_name) + ": ";
    std::size_t column = out.size();
    std::size_t i = 0;
    while (i < value.size()) {
        // The next run: leading spaces plus one word.
        std::size_t j = i;
        while (j < value.size() && value[j] == ' ') {
            ++j;
        }
        while (j < value.size() && value[j] != ' ') {
            ++j;
        }
        const std::string_view run = value.substr(i, j - i);
        if (column + run.size() > 78 && column > field_name.size() + 2 && run.front() == ' ') {
            out += "\r\n";
            column = 0;
        }
        out += run;
        column += run.size();
        i = j;
    }
    return out + "\r\n";
}

// A display name: as is when it is a plain atom sequence, quoted when it has specials, encoded
// when it is not ASCII.
std::string display_name(std::string_view name) {
    if (!is_printable_ascii(name) || name.find("=?") != std::string_view::npos) {
        return encode_header_text(name);
    }
    const bool plain = std::all_of(name.begin(), name.end(), [](char c) {
        return std::string_view("()<>[]:;@\\,.\"").find(c) == std::string_view::npos;
    });
    if (plain) {
        return std::string(name);
    }
    std::string out = "\"";
    for (char c : name) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out + "\"";
}

struct UrlDeleter {
    void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

std::string url_part(CURLU* url, CURLUPart part) {
    char* value = nullptr;
    if (curl_url_get(url, part, &value, 0) != CURLUE_OK || value == nullptr) {
        return {};
    }
    std::string out = value;
    curl_free(value);
    return out;
}

// The DATA stream, fed to libcurl's read callback.
struct Upload {
    std::string_view remaining;
    // The server's 4xx/5xx reply line while it stands: a later success (HELO after a refused
    // EHLO) clears it, the 221 answering curl's QUIT after a failure does not.
    std::string error_reply;
};

// The reply code a server line starts with ("550 5.1.1 ..." -> 550), or 0.
int reply_code_of(std::string_view line) {
    if (line.size() < 3 ||
        !std::all_of(line.begin(), line.begin() + 3, [](char c) { return c >= '0' && c <= '9'; })) {
        return 0;
    }
    return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* userdata) {
    auto* upload = static_cast<Upload*>(userdata);
    const std::size_t n = std::min(size * count, upload->remaining.size());
    std::memcpy(buffer, upload->remaining.data(), n);
    upload->remaining.remove_prefix(n);
    return n;
}

// Keeps the server's replies (CURLINFO_HEADER_IN), nothing else: never the message or AUTH.
int on_debug(CURL* /*handle*/, curl_infotype type, char* data, std::size_t size, void* userdata) {
    if (type != CURLINFO_HEADER_IN) {
        return 0;
    }
    auto* upload = static_cast<Upload*>(userdata);
    std::string_view line(data, std::min(size, kMaxReplyText));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
        line.remove_suffix(1);
    }
    const int code = reply_code_of(line);
    if (code >= 400) {
        upload->error_reply.assign(line.begin(), line.end());
    } else if (code >= 200 && code != 221) {
        upload->error_reply.clear();
    }
    return 0;
}

class Setter {
public:
    explicit Setter(CURL* handle) : handle_(handle) {}
    template <typename T>
    void operator()(CURLoption option, T value) {
        if (result_ == CURLE_OK) {
            result_ = curl_easy_setopt(handle_, option, value);
        }
    }
    CURLcode result() const { return result_; }

private:
    CURL* handle_;
    CURLcode result_ = CURLE_OK;
};

}  // namespace

std::string encode_header_text(std::string_view text) {
    if (is_printable_ascii(text) && text.find("=?") == std::string_view::npos) {
        return std::string(text);
    }
    // "=?UTF-8?B?" + 60 base64 characters + "?=" is 72 <= 75; 60 characters carry 45 bytes.
    constexpr std::size_t kBytesPerWord = 45;
    std::string out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = std::min(text.size(), start + kBytesPerWord);
        // Never split a UTF-8 sequence: back up to the start of a character.
        while (end < text.size() && end > start + 1 &&
               (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) {
            --end;
        }
        if (!out.empty()) {
            out += "\r\n ";
        }
        out += "=?UTF-8?B?" + crypto::base64_encode(text.substr(start, end - start)) + "?=";
        start = end;
    }
    return out;
}

std::string rfc5322_date(std::int64_t unix_seconds) {
    static constexpr std::array<const char*, 7> days = {"Sun", "Mon", "Tue", "Wed",
                                                        "Thu", "Fri", "Sat"};
    static constexpr std::array<const char*, 12> months = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const auto t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d +0000",
                  days[static_cast<std::size_t>(tm.tm_wday) % 7], tm.tm_mday,
                  months[static_cast<std::size_t>(tm.tm_mon) % 12], tm.tm_year + 1900, tm.tm_hour,
                  tm.tm_min, tm.tm_sec);
    return buffer;
}

Result<std::string> build_email(const SmtpSettings& settings, const SmtpMessage& message,
                                const std::string& date, const std::string& message_id) {
    std::vector<std::string> problems;
    if (auto p = check_address("from address", settings.from_address); !p.empty()) {
        problems.push_back(p);
    }
    if (auto p = check_address("recipient", message.to); !p.empty()) {
        problems.push_back(p);
    }
    if (has_line_break(settings.from_name)) {
        problems.push_back("from name holds a line break");
    }
    if (has_line_break(message.subject)) {
        problems.push_back("subject holds a line break");
    }
    static constexpr std::array<std::string_view, 9> own = {
        "Date",       "From",         "To",           "Subject",
        "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
        "Bcc"};
    for (const auto& [name, value] : message.headers) {
        if (!is_field_name(name)) {
            problems.push_back("header name \"" + name.substr(0, 80) + "\" is not a field name");
        } else if (std::any_of(own.begin(), own.end(),
                               [&](std::string_view o) { return ascii_iequals(o, name); })) {
            problems.push_back("header \"" + name + "\" is written by the client");
        }
        if (has_line_break(value)) {
            problems.push_back("header \"" + name.substr(0, 80) + "\" holds a line break");
        }
    }
    if (!problems.empty()) {
        std::string joined;
        for (const std::string& p : problems) {
            joined += (joined.empty() ? "" : "; ") + p;
        }
        return make_error(ErrorCode::InvalidArgument, "e-mail not sent: " + joined);
    }

    const std::string body = to_crlf(message.text);
    const bool seven_bit = fits_7bit(body);

    std::string out;
    out.reserve(body.size() + 1024);
    out += "Date: " + date + "\r\n";
    out += "Message-ID: " + message_id + "\r\n";
    if (settings.from_name.empty()) {
        out += "From: " + settings.from_address + "\r\n";
    } else {
        out += "From: " + display_name(settings.from_name) + " <" + settings.from_address + ">\r\n";
    }
    out += "To: " + message.to + "\r\n";
    const std::string subject = encode_header_text(message.subject);
    out += subject.find("=?") == 0 ? "Subject: " + subject + "\r\n" : fold("Subject", subject);
    for (const auto& [name, value] : message.headers) {
        const std::string encoded = encode_header_text(value);
        out += encoded.find("=?") == 0 ? name + ": " + encoded + "\r\n" : fold(name, encoded);
    }
    out += "MIME-Version: 1.0\r\n";
    out += "Content-Type: text/plain; charset=UTF-8\r\n";
    out += seven_bit ? "Content-Transfer-Encoding: 7bit\r\n"
                     : "Content-Transfer-Encoding: quoted-printable\r\n";
    out += "\r\n";
    out += seven_bit ? body : quoted_printable(body);
    if (!out.ends_with("\r\n")) {
        out += "\r\n";
    }
    return out;
}

SmtpClient::SmtpClient(SmtpSettings settings) : settings_(std::move(settings)) {
    curl::ensure_global_init();
}

Result<void> SmtpClient::validate(const SmtpSettings& settings) {
    std::vector<std::string> problems;
    curl::ensure_global_init();
    std::unique_ptr<CURLU, UrlDeleter> url(curl_url());
    if (!url) {
        return make_error(ErrorCode::Internal, "libcurl: out of memory");
    }
    if (const CURLUcode rc = curl_url_set(url.get(), CURLUPART_URL, settings.server_url.c_str(), 0);
        rc != CURLUE_OK) {
        problems.push_back("server URL \"" + settings.server_url.substr(0, 200) +
                           "\": " + curl_url_strerror(rc));
    } else {
        const std::string scheme = ascii_lowercase(url_part(url.get(), CURLUPART_SCHEME));
        if (scheme != "smtp" && scheme != "smtps") {
            problems.push_back("server URL scheme \"" + scheme + "\" is not smtp or smtps");
        }
        const std::string path = url_part(url.get(), CURLUPART_PATH);
        if (!path.empty() && path != "/") {
            problems.push_back("server URL has a path; set helo_domain for the EHLO name");
        }
        if (!url_part(url.get(), CURLUPART_QUERY).empty()) {
            problems.push_back("server URL has a query");
        }
    }
    if (auto p = check_address("from address", settings.from_address); !p.empty()) {
        problems.push_back(p);
    }
    if (has_line_break(settings.from_name)) {
        problems.push_back("from name holds a line break");
    }
    if (has_line_break(settings.username) || has_line_break(settings.password)) {
        problems.push_back("username or password holds a line break");
    }
    if (!settings.helo_domain.empty() &&
        !std::all_of(settings.helo_domain.begin(), settings.helo_domain.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '.' || c == '[' || c == ']' || c == ':';
        })) {
        problems.push_back("helo domain \"" + settings.helo_domain.substr(0, 80) +
                           "\" is not a host name");
    }
    if (!problems.empty()) {
        std::string joined;
        for (const std::string& p : problems) {
            joined += (joined.empty() ? "" : "; ") + p;
        }
        return make_error(ErrorCode::InvalidArgument, "SMTP settings: " + joined);
    }
    return {};
}

Result<SmtpReceipt> SmtpClient::send(const SmtpMessage& message) const {
    if (auto valid = validate(settings_); !valid) {
        return valid.error();
    }
    const auto now = std::chrono::system_clock::now();
    const auto unix_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    SmtpReceipt receipt;
    receipt.message_id = "<" + crypto::random_hex(12) + "." + std::to_string(unix_ms) + "@" +
                         std::string(domain_of(settings_.from_address)) + ">";
    auto email = build_email(settings_, message, rfc5322_date(unix_ms / 1000), receipt.message_id);
    if (!email) {
        return email.error();
    }

    // The URL's path is the EHLO name.
    std::unique_ptr<CURLU, UrlDeleter> url(curl_url());
    const std::string helo = settings_.helo_domain.empty()
                                 ? std::string(domain_of(settings_.from_address))
                                 : settings_.helo_domain;
    if (!url ||
        curl_url_set(url.get(), CURLUPART_URL, settings_.server_url.c_str(), 0) != CURLUE_OK ||
        curl_url_set(url.get(), CURLUPART_PATH, ("/" + helo).c_str(), 0) != CURLUE_OK) {
        return make_error(ErrorCode::InvalidArgument, "SMTP settings: bad server URL");
    }
    const std::string where =
        url_part(url.get(), CURLUPART_SCHEME) + "://" + url_part(url.get(), CURLUPART_HOST) +
        (url_part(url.get(), CURLUPART_PORT).empty() ? ""
                                                     : ":" + url_part(url.get(), CURLUPART_PORT));

    curl::Easy easy = curl::make_easy();
    curl::StringList recipients;
    if (!easy || !recipients.append("<" + message.to + ">")) {
        return make_error(ErrorCode::Internal, "libcurl: out of memory");
    }
    CURL* h = easy.get();
    Upload upload{*email, {}};
    char error_buffer[CURL_ERROR_SIZE] = {};
    const std::string mail_from = "<" + settings_.from_address + ">";

    Setter set(h);
    set(CURLOPT_ERRORBUFFER, error_buffer);
    set(CURLOPT_CURLU, url.get());
    set(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    set(CURLOPT_PROXY, "");
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_TIMEOUT_MS, curl::timeout_ms(message.timeout.value_or(settings_.timeout)));
    set(CURLOPT_CONNECTTIMEOUT_MS, curl::timeout_ms(settings_.connect_timeout));
    switch (settings_.starttls) {
    case StartTls::Off:
        set(CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_NONE));
        break;
    case StartTls::Try:
        set(CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
        break;
    case StartTls::Require:
        set(CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
        break;
    }
    set(CURLOPT_SSL_VERIFYPEER, settings_.verify_tls ? 1L : 0L);
    set(CURLOPT_SSL_VERIFYHOST, settings_.verify_tls ? 2L : 0L);
    if (!settings_.ca_file.empty()) {
        set(CURLOPT_CAINFO, settings_.ca_file.c_str());
    }
    if (!settings_.username.empty()) {
        set(CURLOPT_USERNAME, settings_.username.c_str());
        set(CURLOPT_PASSWORD, settings_.password.c_str());
    }
    set(CURLOPT_MAIL_FROM, mail_from.c_str());
    set(CURLOPT_MAIL_RCPT, recipients.get());
    set(CURLOPT_UPLOAD, 1L);
    set(CURLOPT_READFUNCTION, &on_read);
    set(CURLOPT_READDATA, &upload);
    set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(email->size()));
    set(CURLOPT_VERBOSE, 1L);  // only so that on_debug sees the server's replies
    set(CURLOPT_DEBUGFUNCTION, &on_debug);
    set(CURLOPT_DEBUGDATA, &upload);
    if (set.result() != CURLE_OK) {
        return make_error(ErrorCode::Internal, std::string("libcurl refused an SMTP option: ") +
                                                   curl_easy_strerror(set.result()));
    }

    const CURLcode rc = curl_easy_perform(h);
    long last_reply = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &last_reply);
    receipt.reply_code = static_cast<int>(last_reply);
    if (rc == CURLE_OK) {
        return receipt;
    }
    const int reply = reply_code_of(upload.error_reply);  // 0 when the server refused nothing

    std::string message_text =
        "SMTP to " + message.to + " via " + where + ": " + curl::describe(rc, error_buffer);
    if (!upload.error_reply.empty()) {
        message_text += "; server said \"" + upload.error_reply + "\"";
    }
    if (rc != CURLE_OPERATION_TIMEDOUT && reply >= 500 && reply <= 599) {
        return make_error(ErrorCode::Forbidden, message_text,
                          "the mail server rejected the message (" + std::to_string(reply) + ")");
    }
    if (rc != CURLE_OPERATION_TIMEDOUT && reply >= 400 && reply <= 499) {
        return make_error(ErrorCode::Unavailable, message_text);
    }
    return curl::transfer_error(rc, message_text);
}

}  // namespace pf::http
