// SmtpClient against a tiny SMTP responder on a loopback socket (a thread that speaks just enough
// ESMTP: EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, QUIT) and captures what it was sent; plus
// the message builder on its own.
#include "crypto/encoding.h"
#include "http/smtp_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace pf::http {
namespace {

using namespace std::chrono_literals;

struct SmtpScript {
    std::string greeting = "220 test.local ESMTP ready";
    std::string mail_reply = "250 2.1.0 OK";
    std::string rcpt_reply = "250 2.1.5 OK";
    std::string data_reply = "250 2.0.0 queued as 12345";
    bool offer_auth = false;
    bool refuse_ehlo = false;  // 502 to EHLO: the client must fall back to HELO
    bool silent = false;       // accept and never say anything (for timeouts)
};

// Serves one SMTP conversation per connection, one connection at a time, until destroyed.
class SmtpResponder {
public:
    explicit SmtpResponder(SmtpScript script) : script_(std::move(script)) {
        listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        EXPECT_EQ(::listen(listener_, 4), 0);
        socklen_t len = sizeof addr;
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~SmtpResponder() {
        stop_ = true;
        thread_.join();
        ::close(listener_);
    }

    std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
    std::vector<std::string> commands() const {
        std::lock_guard lock(mutex_);
        return commands_;
    }
    // The DATA as received (dot-stuffed, without the terminating ".").
    std::string data() const {
        std::lock_guard lock(mutex_);
        return data_;
    }

private:
    void serve() {
        while (!stop_) {
            pollfd p{listener_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) {
                continue;
            }
            const int fd = ::accept(listener_, nullptr, nullptr);
            if (fd >= 0) {
                converse(fd);
                ::close(fd);
            }
        }
    }

    // The next CRLF-terminated line, or nullopt when the peer is gone or we are stopping.
    std::optional<std::string> read_line(int fd) {
        while (true) {
            const auto eol = pending_.find("\r\n");
            if (eol != std::string::npos) {
                std::string line = pending_.substr(0, eol);
                pending_.erase(0, eol + 2);
                return line;
            }
            pollfd p{fd, POLLIN, 0};
            const int ready = ::poll(&p, 1, 50);
            if (stop_) {
                return std::nullopt;
            }
            if (ready <= 0) {
                continue;
            }
            char buffer[4096];
            const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n <= 0) {
                return std::nullopt;
            }
            pending_.append(buffer, static_cast<std::size_t>(n));
        }
    }

    static void say(int fd, const std::string& line) {
        const std::string out = line + "\r\n";
        (void)::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    }

    void converse(int fd) {
        pending_.clear();
        if (script_.silent) {
            while (!stop_ && read_line(fd)) {
            }
            return;
        }
        say(fd, script_.greeting);
        while (auto line = read_line(fd)) {
            {
                std::lock_guard lock(mutex_);
                commands_.push_back(*line);
            }
            const std::string verb = line->substr(0, 4);
            if (verb == "EHLO" && script_.refuse_ehlo) {
                say(fd, "502 5.5.2 EHLO not supported");
            } else if (verb == "EHLO") {
                say(fd, "250-test.local greets you");
                if (script_.offer_auth) {
                    say(fd, "250-AUTH PLAIN");
                }
                say(fd, "250 8BITMIME");
            } else if (verb == "HELO") {
                say(fd, "250 test.local");
            } else if (verb == "AUTH") {
                if (*line == "AUTH PLAIN") {  // no initial response: ask for it
                    say(fd, "334 ");
                    auto credentials = read_line(fd);
                    std::lock_guard lock(mutex_);
                    commands_.back() += " " + credentials.value_or("");
                }
                say(fd, "235 2.7.0 Authentication successful");
            } else if (verb == "MAIL") {
                say(fd, script_.mail_reply);
            } else if (verb == "RCPT") {
                say(fd, script_.rcpt_reply);
            } else if (verb == "DATA") {
                say(fd, "354 End data with <CR><LF>.<CR><LF>");
                std::string data;
                while (auto data_line = read_line(fd)) {
                    if (*data_line == ".") {
                        break;
                    }
                    data += *data_line + "\r\n";
                }
                {
                    std::lock_guard lock(mutex_);
                    data_ = data;
                }
                say(fd, script_.data_reply);
            } else if (verb == "RSET" || verb == "NOOP") {
                say(fd, "250 OK");
            } else if (verb == "QUIT") {
                say(fd, "221 2.0.0 Bye");
                return;
            } else {
                say(fd, "502 5.5.2 Command not recognized");
            }
        }
    }

    SmtpScript script_;
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::string pending_;
    mutable std::mutex mutex_;
    std::vector<std::string> commands_;
    std::string data_;
};

SmtpMessage mail(std::string to, std::string subject = "hi", std::string text = "body",
                 std::vector<std::pair<std::string, std::string>> headers = {}) {
    SmtpMessage m;
    m.to = std::move(to);
    m.subject = std::move(subject);
    m.text = std::move(text);
    m.headers = std::move(headers);
    return m;
}

SmtpSettings settings_for(const SmtpResponder& responder) {
    SmtpSettings s;
    s.server_url = responder.url();
    s.starttls = StartTls::Off;
    s.timeout = 5s;
    s.connect_timeout = 2s;
    s.from_address = "notify@photos.example.com";
    s.from_name = "Photoflux";
    return s;
}

// Header block and body of a message, the header block unfolded.
struct Parsed {
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string header(const std::string& name) const {
        for (const auto& [n, v] : headers) {
            if (n == name) {
                return v;
            }
        }
        return "<absent>";
    }
};

Parsed parse_message(const std::string& message) {
    Parsed out;
    const auto split = message.find("\r\n\r\n");
    EXPECT_NE(split, std::string::npos);
    std::string head = message.substr(0, split + 2);
    out.body = message.substr(split + 4);
    std::size_t start = 0;
    while (start < head.size()) {
        const auto eol = head.find("\r\n", start);
        const std::string line = head.substr(start, eol - start);
        start = eol + 2;
        if (line.front() == ' ' || line.front() == '\t') {
            out.headers.back().second += line;  // unfold (keeps the leading space)
            continue;
        }
        const auto colon = line.find(':');
        out.headers.emplace_back(line.substr(0, colon), line.substr(colon + 2));
    }
    return out;
}

// Decodes "=?UTF-8?B?...?=" words (separated by folding white space).
std::string decode_words(const std::string& text) {
    static const std::regex word(R"(=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=)");
    std::string out;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), word);
         it != std::sregex_iterator(); ++it) {
        auto decoded = crypto::base64_decode((*it)[1].str());
        EXPECT_TRUE(decoded.has_value());
        out += decoded.value_or("?");
    }
    return out;
}

std::string decode_quoted_printable(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '=') {
            out += text[i];
        } else if (text.compare(i + 1, 2, "\r\n") == 0) {
            i += 2;  // soft line break
        } else {
            out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
            i += 2;
        }
    }
    return out;
}

// Undoes SMTP dot-stuffing of lines.
std::string unstuff(const std::string& data) {
    std::string out;
    std::size_t start = 0;
    while (start < data.size()) {
        auto eol = data.find("\r\n", start);
        std::string line = data.substr(start, eol - start);
        if (line.starts_with("..")) {
            line.erase(0, 1);
        }
        out += line + "\r\n";
        start = eol + 2;
    }
    return out;
}

TEST(SmtpClient, SendsAProperMessage) {
    SmtpResponder responder({});
    const SmtpClient client(settings_for(responder));

    SmtpMessage message;
    message.to = "someone@example.org";
    message.subject = "Photo processed: caf\xc3\xa9 \xe2\x98\x95";
    message.text =
        "Hello,\nthe photo uploads/cat.jpg is ready.\n.\n.hidden line\nPrix: 5 \xe2\x82\xac";
    message.headers = {{"X-Photoflux-Topic", "arn:aws:sns:us-east-1:000000000000:photos"}};

    auto receipt = client.send(message);
    ASSERT_TRUE(receipt) << receipt.error().message;
    EXPECT_EQ(receipt->reply_code, 250);

    const auto commands = responder.commands();
    ASSERT_GE(commands.size(), 4u);
    EXPECT_EQ(commands[0], "EHLO photos.example.com");
    EXPECT_EQ(commands[1], "MAIL FROM:<notify@photos.example.com>");
    EXPECT_EQ(commands[2], "RCPT TO:<someone@example.org>");
    EXPECT_EQ(commands[3], "DATA");

    const std::string data = responder.data();
    // Dot-stuffing: the lone "." and ".hidden" lines went out doubled.
    EXPECT_NE(data.find("\r\n..\r\n"), std::string::npos) << data;
    const Parsed parsed = parse_message(unstuff(data));
    EXPECT_TRUE(std::regex_match(
        parsed.header("Date"),
        std::regex(
            R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000)")))
        << parsed.header("Date");
    EXPECT_EQ(parsed.header("Message-ID"), receipt->message_id);
    EXPECT_TRUE(std::regex_match(receipt->message_id,
                                 std::regex(R"(<[0-9a-f]{24}\.\d+@photos\.example\.com>)")))
        << receipt->message_id;
    EXPECT_EQ(parsed.header("From"), "Photoflux <notify@photos.example.com>");
    EXPECT_EQ(parsed.header("To"), "someone@example.org");
    EXPECT_TRUE(parsed.header("Subject").starts_with("=?UTF-8?B?")) << parsed.header("Subject");
    EXPECT_EQ(decode_words(parsed.header("Subject")), message.subject);
    EXPECT_EQ(parsed.header("MIME-Version"), "1.0");
    EXPECT_EQ(parsed.header("Content-Type"), "text/plain; charset=UTF-8");
    EXPECT_EQ(parsed.header("Content-Transfer-Encoding"), "quoted-printable");
    EXPECT_EQ(parsed.header("X-Photoflux-Topic"), "arn:aws:sns:us-east-1:000000000000:photos");
    EXPECT_EQ(decode_quoted_printable(parsed.body),
              "Hello,\r\nthe photo uploads/cat.jpg is ready.\r\n.\r\n.hidden line\r\nPrix: 5 "
              "\xe2\x82\xac\r\n");
    // Every line of what went out is CRLF-terminated and short.
    std::size_t start = 0;
    while (start < data.size()) {
        const auto eol = data.find("\r\n", start);
        ASSERT_NE(eol, std::string::npos);
        EXPECT_LE(eol - start, 998u);
        EXPECT_EQ(data.substr(start, eol - start).find('\n'), std::string::npos);
        start = eol + 2;
    }
}

TEST(SmtpClient, AsciiMessageIsSevenBitWithCrlf) {
    SmtpResponder responder({});
    SmtpSettings settings = settings_for(responder);
    settings.from_name = "Photo Bot, Inc.";  // specials: quoted
    settings.helo_domain = "mailer.photos.example.com";
    const SmtpClient client(settings);
    SmtpMessage message;
    message.to = "a.b+tag@example.org";
    message.subject = "Your photo is ready";
    message.text = "line one\nline two\r\nline three\rend";
    auto receipt = client.send(message);
    ASSERT_TRUE(receipt) << receipt.error().message;

    EXPECT_EQ(responder.commands()[0], "EHLO mailer.photos.example.com");
    const Parsed parsed = parse_message(unstuff(responder.data()));
    EXPECT_EQ(parsed.header("From"), "\"Photo Bot, Inc.\" <notify@photos.example.com>");
    EXPECT_EQ(parsed.header("Subject"), "Your photo is ready");
    EXPECT_EQ(parsed.header("Content-Transfer-Encoding"), "7bit");
    EXPECT_EQ(parsed.body, "line one\r\nline two\r\nline three\r\nend\r\n");
}

TEST(SmtpClient, AuthenticatesWhenGivenCredentials) {
    SmtpScript script;
    script.offer_auth = true;
    SmtpResponder responder(script);
    SmtpSettings settings = settings_for(responder);
    settings.username = "mailer";
    settings.password = "hunter2";
    SmtpMessage message = mail("someone@example.org", "hi", "body");
    auto receipt = SmtpClient(settings).send(message);
    ASSERT_TRUE(receipt) << receipt.error().message;
    const auto commands = responder.commands();
    ASSERT_GE(commands.size(), 2u);
    ASSERT_TRUE(commands[1].starts_with("AUTH PLAIN ")) << commands[1];
    EXPECT_EQ(crypto::base64_decode(commands[1].substr(11)).value_or(""),
              std::string("\0mailer\0hunter2", 15));
}

TEST(SmtpClient, Rejection550IsPermanent) {
    SmtpScript script;
    script.rcpt_reply = "550 5.1.1 <nobody@example.org>: Recipient address rejected";
    SmtpResponder responder(script);
    SmtpMessage message = mail("nobody@example.org", "hi", "body");
    auto receipt = SmtpClient(settings_for(responder)).send(message);
    ASSERT_FALSE(receipt);
    EXPECT_EQ(receipt.error().code, ErrorCode::Forbidden) << receipt.error().message;
    EXPECT_FALSE(receipt.error().retryable());
    EXPECT_NE(receipt.error().message.find("550 5.1.1 <nobody@example.org>: Recipient address"),
              std::string::npos)
        << receipt.error().message;
}

TEST(SmtpClient, Deferral451IsTemporary) {
    SmtpScript script;
    script.rcpt_reply = "451 4.7.1 Greylisted, try again later";
    SmtpResponder responder(script);
    SmtpMessage message = mail("someone@example.org", "hi", "body");
    auto receipt = SmtpClient(settings_for(responder)).send(message);
    ASSERT_FALSE(receipt);
    EXPECT_EQ(receipt.error().code, ErrorCode::Unavailable) << receipt.error().message;
    EXPECT_TRUE(receipt.error().retryable());
    EXPECT_NE(receipt.error().message.find("451 4.7.1 Greylisted"), std::string::npos)
        << receipt.error().message;
}

TEST(SmtpClient, ARefusalTheClientRecoveredFromDoesNotCount) {
    // EHLO refused (5xx), HELO accepted, then a 451: temporary, not permanent.
    SmtpScript script;
    script.refuse_ehlo = true;
    script.rcpt_reply = "451 4.3.0 Try again later";
    SmtpResponder responder(script);
    auto receipt = SmtpClient(settings_for(responder)).send(mail("someone@example.org"));
    ASSERT_FALSE(receipt);
    EXPECT_EQ(receipt.error().code, ErrorCode::Unavailable) << receipt.error().message;
    const auto commands = responder.commands();
    ASSERT_GE(commands.size(), 2u);
    EXPECT_EQ(commands[1], "HELO photos.example.com");

    SmtpScript fine;
    fine.refuse_ehlo = true;
    SmtpResponder second(fine);
    auto sent = SmtpClient(settings_for(second)).send(mail("someone@example.org"));
    ASSERT_TRUE(sent) << sent.error().message;
}

TEST(SmtpClient, AnswersAfterDataAreClassifiedToo) {
    {
        SmtpScript script;
        script.data_reply = "554 5.6.0 Message content rejected";
        SmtpResponder responder(script);
        auto receipt = SmtpClient(settings_for(responder)).send(mail("someone@example.org"));
        ASSERT_FALSE(receipt);
        EXPECT_EQ(receipt.error().code, ErrorCode::Forbidden) << receipt.error().message;
    }
    {
        SmtpScript script;
        script.data_reply = "452 4.3.1 Insufficient system storage";
        SmtpResponder responder(script);
        auto receipt = SmtpClient(settings_for(responder)).send(mail("someone@example.org"));
        ASSERT_FALSE(receipt);
        EXPECT_EQ(receipt.error().code, ErrorCode::Unavailable) << receipt.error().message;
    }
    {
        SmtpScript script;
        script.mail_reply = "553 5.7.1 Sender address rejected";
        SmtpResponder responder(script);
        auto receipt = SmtpClient(settings_for(responder)).send(mail("someone@example.org"));
        ASSERT_FALSE(receipt);
        EXPECT_EQ(receipt.error().code, ErrorCode::Forbidden) << receipt.error().message;
    }
}

TEST(SmtpClient, ConnectionFailuresAndTimeoutsAreTemporary) {
    std::string closed_url;
    {
        SmtpResponder gone({});
        closed_url = gone.url();
    }  // closed: nobody listens on that port now
    SmtpSettings settings;
    settings.server_url = closed_url;
    settings.starttls = StartTls::Off;
    settings.from_address = "notify@photos.example.com";
    settings.timeout = 2s;
    auto receipt = SmtpClient(settings).send(mail("someone@example.org"));
    ASSERT_FALSE(receipt);
    EXPECT_EQ(receipt.error().code, ErrorCode::Unavailable) << receipt.error().message;

    SmtpScript silent;
    silent.silent = true;
    SmtpResponder responder(silent);
    settings = settings_for(responder);
    settings.timeout = 300ms;
    const auto start = std::chrono::steady_clock::now();
    receipt = SmtpClient(settings).send(mail("someone@example.org"));
    ASSERT_FALSE(receipt);
    EXPECT_EQ(receipt.error().code, ErrorCode::Timeout) << receipt.error().message;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(SmtpClient, RequiredStartTlsThatIsNotOfferedFails) {
    SmtpResponder responder({});
    SmtpSettings settings = settings_for(responder);
    settings.starttls = StartTls::Require;
    auto receipt = SmtpClient(settings).send(mail("someone@example.org"));
    ASSERT_FALSE(receipt);
    EXPECT_EQ(receipt.error().code, ErrorCode::Unavailable) << receipt.error().message;
    for (const std::string& c : responder.commands()) {
        EXPECT_FALSE(c.starts_with("MAIL")) << "sent in the clear: " << c;
    }

    // With "try" it goes on in the clear.
    SmtpResponder second({});
    settings = settings_for(second);
    settings.starttls = StartTls::Try;
    auto sent = SmtpClient(settings).send(mail("someone@example.org"));
    ASSERT_TRUE(sent) << sent.error().message;
}

TEST(SmtpClient, RefusesHeaderInjectionAndBadAddresses) {
    SmtpSettings settings;
    settings.server_url = "smtp://127.0.0.1:25";
    settings.from_address = "notify@photos.example.com";
    struct Bad {
        SmtpMessage message;
        const char* says;
    };
    const std::vector<Bad> bad = {
        {mail("someone@example.org\r\nBcc: all@example.org", "hi"), "recipient"},
        {mail("someone@example.org>", "hi"), "recipient"},
        {mail("no-at-sign", "hi"), "not of the form local@domain"},
        {mail("a@b@example.org", "hi"), "not of the form local@domain"},
        {mail("caf\xc3\xa9@example.org", "hi"), "non-ASCII"},
        {mail("@example.org", "hi"), "not of the form local@domain"},
        {mail("a b@example.org", "hi"), "recipient"},
        {mail("", "hi"), "recipient is empty"},
        {mail("someone@example.org", "hi\r\nBcc: all@example.org"), "subject holds a line break"},
        {mail("someone@example.org", "hi", "b", {{"X-A", "1\nBcc: x@y"}}), "holds a line break"},
        {mail("someone@example.org", "hi", "b", {{"Bcc", "x@example.org"}}),
         "written by the client"},
        {mail("someone@example.org", "hi", "b", {{"subject", "again"}}), "written by the client"},
        {mail("someone@example.org", "hi", "b", {{"Bad Name", "v"}}), "is not a field name"},
    };
    for (const Bad& b : bad) {
        SCOPED_TRACE(b.says);
        auto built = build_email(settings, b.message, "Thu, 01 Jan 1970 00:00:00 +0000", "<x@y>");
        ASSERT_FALSE(built);
        EXPECT_EQ(built.error().code, ErrorCode::InvalidArgument);
        EXPECT_NE(built.error().message.find(b.says), std::string::npos) << built.error().message;
        auto sent = SmtpClient(settings).send(b.message);  // refused before connecting
        ASSERT_FALSE(sent);
        EXPECT_EQ(sent.error().code, ErrorCode::InvalidArgument);
    }
}

TEST(SmtpClient, ValidatesSettings) {
    SmtpSettings ok;
    ok.server_url = "smtps://mail.example.com:465";
    ok.from_address = "a@example.com";
    EXPECT_TRUE(SmtpClient::validate(ok));

    SmtpSettings bad;
    bad.server_url = "http://mail.example.com";
    bad.from_address = "not an address";
    bad.password = "x\ny";
    auto result = SmtpClient::validate(bad);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::InvalidArgument);
    const std::string& m = result.error().message;
    EXPECT_NE(m.find("scheme \"http\" is not smtp or smtps"), std::string::npos) << m;
    EXPECT_NE(m.find("from address"), std::string::npos) << m;
    EXPECT_NE(m.find("username or password holds a line break"), std::string::npos) << m;

    bad = ok;
    bad.server_url = "smtp://mail.example.com/some/path";
    EXPECT_FALSE(SmtpClient::validate(bad));
}

TEST(EmailBuilder, EncodedWordsSplitOnCharacterBoundaries) {
    EXPECT_EQ(encode_header_text("plain subject"), "plain subject");
    EXPECT_EQ(encode_header_text("caf\xc3\xa9"), "=?UTF-8?B?Y2Fmw6k=?=");
    // Text that looks like an encoded word is itself encoded, so it cannot be misread.
    EXPECT_TRUE(encode_header_text("=?x?=").starts_with("=?UTF-8?B?"));

    std::string long_text;
    for (int i = 0; i < 40; ++i) {
        long_text += "\xe2\x98\x95 ";  // 4 bytes each
    }
    const std::string encoded = encode_header_text(long_text);
    EXPECT_EQ(decode_words(encoded), long_text);
    std::size_t start = 0;
    int words = 0;
    while (start < encoded.size()) {
        auto end = encoded.find("\r\n ", start);
        if (end == std::string::npos) {
            end = encoded.size();
        }
        const std::string word = encoded.substr(start, end - start);
        EXPECT_LE(word.size(), 75u) << word;
        // Each word decodes to whole UTF-8 characters.
        const std::string decoded = decode_words(word);
        ASSERT_FALSE(decoded.empty());
        EXPECT_NE(static_cast<unsigned char>(decoded[0]) & 0xc0, 0x80);
        ++words;
        start = end + 3;
    }
    EXPECT_GT(words, 1);
}

TEST(EmailBuilder, QuotedPrintableKeepsLinesShortAndEncodesTrailingSpace) {
    SmtpSettings settings;
    settings.from_address = "a@example.com";
    SmtpMessage message;
    message.to = "b@example.com";
    message.subject = std::string(200, 'w');  // long ASCII: folded? one word, kept on one line
    message.text = std::string(300, 'x') + "\xc3\xa9 = trailing \n" + "tab\t\n";
    auto built =
        build_email(settings, message, "Thu, 01 Jan 1970 00:00:00 +0000", "<id@example.com>");
    ASSERT_TRUE(built) << built.error().message;
    const Parsed parsed = parse_message(*built);
    EXPECT_EQ(parsed.header("Content-Transfer-Encoding"), "quoted-printable");
    std::size_t start = 0;
    while (start < parsed.body.size()) {
        const auto eol = parsed.body.find("\r\n", start);
        const std::string line = parsed.body.substr(start, eol - start);
        EXPECT_LE(line.size(), 76u) << line;
        EXPECT_FALSE(line.ends_with(" ") || line.ends_with("\t")) << line;
        start = eol + 2;
    }
    EXPECT_NE(parsed.body.find("=3D"), std::string::npos);
    EXPECT_NE(parsed.body.find("=20\r\n"), std::string::npos);
    EXPECT_NE(parsed.body.find("=09\r\n"), std::string::npos);
    EXPECT_EQ(decode_quoted_printable(parsed.body),
              std::string(300, 'x') + "\xc3\xa9 = trailing \r\ntab\t\r\n");
}

TEST(EmailBuilder, LongAsciiSubjectIsFoldedAtSpaces) {
    SmtpSettings settings;
    settings.from_address = "a@example.com";
    SmtpMessage message = mail("b@example.com", "", "x");
    for (int i = 0; i < 30; ++i) {
        message.subject += "word" + std::to_string(i) + " ";
    }
    message.subject.pop_back();
    auto built =
        build_email(settings, message, "Thu, 01 Jan 1970 00:00:00 +0000", "<id@example.com>");
    ASSERT_TRUE(built);
    const auto head = built->substr(0, built->find("\r\n\r\n") + 2);
    std::size_t start = 0;
    while (start < head.size()) {
        const auto eol = head.find("\r\n", start);
        EXPECT_LE(eol - start, 78u) << head.substr(start, eol - start);
        start = eol + 2;
    }
    // Unfolding (removing CRLF before the space) gives the subject back.
    EXPECT_EQ(parse_message(*built).header("Subject"), message.subject);
}

TEST(EmailBuilder, DateIsRfc5322) {
    EXPECT_EQ(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    EXPECT_EQ(rfc5322_date(1751371200), "Tue, 01 Jul 2025 12:00:00 +0000");
}

}  // namespace
}  // namespace pf::http
