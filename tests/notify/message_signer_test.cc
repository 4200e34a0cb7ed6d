// The SNS signing identity (MessageSigner) and the signed envelopes (envelope.h). Signatures are
// checked the way a receiver checks them: parse the JSON, rebuild the string to sign from the
// parsed values by the fact sheet's rule (§5.4), and verify against the certificate PEM only.
#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "crypto/rsa.h"
#include "notify/envelope.h"
#include "notify/message_signer.h"
#include "support/temp_dir.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace pf::notify {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr char kTopicArn[] = "arn:aws:sns:us-west-2:123456789012:MyTopic";
constexpr char kSubscriptionArn[] =
    "arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0-26c4-47ec-8998-413945fb5a96";
constexpr char kMessageId[] = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324";
constexpr char kTimestamp[] = "2012-05-02T00:54:06.655Z";
constexpr char kCertUrl[] =
    "http://localhost:9000/_/sns/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem";
constexpr char kUnsubscribeUrl[] =
    "http://localhost:9000/_/sns/unsubscribe?SubscriptionArn=arn%3Aaws%3Asns%3Aus-west-2%3A1";

// A pair whose certificate expired on 2020-01-02, made with Python's `cryptography` package (an
// independent encoder of the validity dates).
// clang-format off
constexpr char kExpiredPairKey[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDB6p7Ov1h+AdId\n"
    "HUuUq+fSPCYsJemRdPkt1eFILs3RUVAjSnMcHFLYVdqztDIcNvCz5sITk9vJQpMK\n"
    "iQNm8RUBMTRcrIbjF3eVXA9Wg6YkQEGN9e4XkkJOd16SMmwQwCtNr/iCRFgwJeug\n"
    "9YZfPrS5GT95rrjApJF5GqGjG/ehYa/V47MeJFTY676mv/dI/aCygCXyePZ0nsCY\n"
    "tK63qCWv9740UHrzAgyYcaxKkXMVPLcVHvN6bBrIjn2F06qUM7IQAsDBdckOv2ka\n"
    "5I9H0ndNC5w3uyVpFssIkW0raMY9QflJFxqziE8kpA4o6LX2J7+60AAAJerP23J9\n"
    "jGN+xX87AgMBAAECggEADDW4Kx9sNH7r2m5ySFmsnpWv956pfsGlQOgTJ8beqbvb\n"
    "dmVlKxNzefCp9R+2+gTRkhpJBQ+NyrXY6VRoNO6gGnOdLuqkEZ90JaDmzFU8vFKZ\n"
    "bhVamPxaFXO5ri3jlQhskZcvaBBilyGEHR3oiI27tl3rG7/PHT4fdMci/1Cu/me6\n"
    "nx9+W3AoPwxRjj99Z+eY1JUi+ffd28DQMBjEelj6vcxYWESGssIAm0XxY5Fagit+\n"
    "azgYhh8bYU/Ll/nt7sJ1FwG9OCYTpVXFDzYaGZM24XUoa/YJVJqZOnTUrvsYrjB0\n"
    "x+TwIdvZ4PmAo80CW4FC+MnPfpjoFwPhaJlPdIlGdQKBgQDrhvpchEfzDE5jZm6+\n"
    "ZIsiA0Vj1TyyFMvtivDNj2hKYex8GTfTmEoAqWuN7jHDPt+lnSOKqpluOE8zWdCB\n"
    "WoOTJ4E+iL04V7x8xvp3wXAMuS1Mlo9XFZTjOZnESaCvwYOuRsGSPUJXQMohKlgx\n"
    "xKNAzJ84OMg/AS65xZuQtnnJBwKBgQDSxbUKm9BtosQXv+09BkH/XwwiDK5VtN32\n"
    "wyLa6k6dvvKmuXzJBf5YGWyAmPBa2AHl17ykkm2dLt4c7eksOPNJSE2hfuYNSvJF\n"
    "wb4mT15DNCwdP08GhiKITCgSW7sklE1K5PINq5iWmBw00M1dqruGZyWwZWn5XBee\n"
    "KuI1xgxPLQKBgB5QUhrkP6ptlA1BGtHQeQPYre6qfFRjTtf1AQdEBOVF8z0JteC7\n"
    "AhNRuvEajjcV+Y0ES5XGXVcNUkxGrApqDvM6q2zUBp6g1DavGX+eWwCYONdZrXtE\n"
    "4NPaDwtveooEeyFMJA/haI94XEumepF1QJnPfFKtJEDPsybf4yTeB5CzAoGAGtkM\n"
    "QpmuZwjAqbXM5mURqxHUXdH3svsi+vfITNJjyTw1dH9UIdcdmuNCKu9QToINW9Wr\n"
    "NdthExCRQmYbuYJXmxIWsWeUrkTJr5EKQ58Ahtbyd5dE3bPgWjQ5Nn1wzSwG3G9l\n"
    "VdBx01z02tVuE2xYDrq81kdUxGqyp3cW8XqUvtECgYAIPmg1xMkJOfdYIlRy/bJq\n"
    "vCZpJRigSZJW91W4jBgjkM/GJXZIcyPFw03n2mvet7WJHQGWNjyeX4KIdegx1Da2\n"
    "9eFxL8J4/D0jpuuaVrN7r2ww8q0EWhSCoF/20RID47nI3TvK2fNvlrPBEmddVBQM\n"
    "1hQpjc+Lan1O7CMPcY8DnA==\n"
    "-----END PRIVATE KEY-----\n";

constexpr char kExpiredPairCertificate[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICsDCCAZigAwIBAgIUe/dOE/FP6qTa3Q9YvUYioIxgES4wDQYJKoZIhvcNAQEL\n"
    "BQAwEjEQMA4GA1UEAwwHZXhwaXJlZDAeFw0yMDAxMDEwMDAwMDBaFw0yMDAxMDIw\n"
    "MDAwMDBaMBIxEDAOBgNVBAMMB2V4cGlyZWQwggEiMA0GCSqGSIb3DQEBAQUAA4IB\n"
    "DwAwggEKAoIBAQDB6p7Ov1h+AdIdHUuUq+fSPCYsJemRdPkt1eFILs3RUVAjSnMc\n"
    "HFLYVdqztDIcNvCz5sITk9vJQpMKiQNm8RUBMTRcrIbjF3eVXA9Wg6YkQEGN9e4X\n"
    "kkJOd16SMmwQwCtNr/iCRFgwJeug9YZfPrS5GT95rrjApJF5GqGjG/ehYa/V47Me\n"
    "JFTY676mv/dI/aCygCXyePZ0nsCYtK63qCWv9740UHrzAgyYcaxKkXMVPLcVHvN6\n"
    "bBrIjn2F06qUM7IQAsDBdckOv2ka5I9H0ndNC5w3uyVpFssIkW0raMY9QflJFxqz\n"
    "iE8kpA4o6LX2J7+60AAAJerP23J9jGN+xX87AgMBAAEwDQYJKoZIhvcNAQELBQAD\n"
    "ggEBADO0O8WaZr6gfXUogwlAK257J/Khg294XBpZYVuLQ8jXTFpQv3m49Wd9K11T\n"
    "eme0HLaK1b+1Np2i80pmS38RP2qfpmv6/fIOj0QfjKUmkk5XWpXES3sm6EyEIvlk\n"
    "a5f5RgQqxRRUfo365eQhSp79mm3Tp6xl0DlUDjGp+HU7juaQa5c/LKcFVl052P3e\n"
    "TKnoS/2mJjJpgI2QeoezEj1ebr+gwGW0zPtKdTtCfAuIPTD8I2chw1z/Q5fcfIpN\n"
    "MqbkMnke95Ej4+TCMLnd5rqXWh1PqAyXhB0O6tZsvvQ87MlkAXN/ScpHctWIME0M\n"
    "6XUR++zbpJDpntxQ/G/Ai70+wm8=\n"
    "-----END CERTIFICATE-----\n";
// clang-format on

// One signer for the tests that only need "a signer": key generation is slow under sanitizers.
const MessageSigner& shared_signer() {
    static const MessageSigner signer = [] {
        auto key = crypto::RsaPrivateKey::generate().value();
        auto cert = key.self_signed_certificate_pem("photoflux test", 30).value();
        return MessageSigner::from_pem(key.to_pem(), cert).value();
    }();
    return signer;
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

bool verify_base64(const std::string& cert_pem, int version, const std::string& string_to_sign,
                   const std::string& signature_base64) {
    auto signature = crypto::base64_decode(signature_base64);
    EXPECT_TRUE(signature.has_value()) << signature_base64;
    if (!signature) {
        return false;
    }
    const auto digest =
        version == 1 ? crypto::SignatureDigest::Sha1 : crypto::SignatureDigest::Sha256;
    auto ok = crypto::rsa_verify(cert_pem, digest, string_to_sign, *signature);
    EXPECT_TRUE(ok.has_value()) << ok.error().message;
    return ok.has_value() && *ok;
}

// A receiver's check of a parsed envelope, written from the fact sheet, independent of
// envelope.cc's own string-to-sign functions.
bool receiver_verifies(const Json& doc, const std::string& cert_pem) {
    const std::string type = doc.at("Type").get<std::string>();
    std::vector<std::string> fields;
    if (type == "Notification") {
        fields = {"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"};
    } else {
        fields = {"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"};
    }
    std::string string_to_sign;
    for (const std::string& name : fields) {
        if (doc.contains(name)) {
            string_to_sign += name + "\n" + doc.at(name).get<std::string>() + "\n";
        }
    }
    const std::string version = doc.at("SignatureVersion").get<std::string>();
    EXPECT_TRUE(version == "1" || version == "2") << version;
    return verify_base64(cert_pem, version == "1" ? 1 : 2, string_to_sign,
                         doc.at("Signature").get<std::string>());
}

PublishedMessage sample_message() {
    PublishedMessage message;
    message.message_id = kMessageId;
    message.topic_arn = kTopicArn;
    message.subject = "Photo processed";
    message.message = "line one\nline \"two\"";
    message.timestamp = kTimestamp;
    return message;
}

EnvelopeUrls sample_urls() {
    return EnvelopeUrls{kCertUrl, kUnsubscribeUrl};
}

ConfirmationFields sample_confirmation(ConfirmationKind kind) {
    ConfirmationFields fields;
    fields.kind = kind;
    fields.message_id = "165545c9-2a5c-472c-8df2-7ff2be2b3b1b";
    fields.token =
        "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3b";
    fields.topic_arn = kTopicArn;
    fields.subscription_arn = kSubscriptionArn;
    fields.subscribe_url =
        "http://localhost:9000/_/sns/confirm?TopicArn=arn%3Aaws%3Asns%3Aus-west-2%3A123456789012"
        "%3AMyTopic&Token=2336412f37fb";
    fields.timestamp = kTimestamp;
    fields.signing_cert_url = kCertUrl;
    return fields;
}

Json parse(const Result<std::string>& text) {
    EXPECT_TRUE(text.has_value()) << text.error().message;
    return text.has_value() ? Json::parse(*text) : Json();
}

// ---- MessageSigner ----------------------------------------------------------------------------

TEST(MessageSigner, SignsV1AndV2VerifiablyThroughTheCertificate) {
    const MessageSigner& signer = shared_signer();
    const std::string string_to_sign = "Message\nhi\nMessageId\n1\nType\nNotification\n";
    for (int version : {1, 2}) {
        auto signature = signer.sign_base64(version, string_to_sign);
        ASSERT_TRUE(signature.has_value()) << signature.error().message;
        EXPECT_TRUE(verify_base64(signer.certificate_pem(), version, string_to_sign, *signature));
        // Each version's digest is its own: a v1 signature is no v2 signature and vice versa.
        EXPECT_FALSE(
            verify_base64(signer.certificate_pem(), 3 - version, string_to_sign, *signature));
        // One changed byte anywhere in the signed string fails.
        for (std::size_t i = 0; i < string_to_sign.size(); i += 7) {
            std::string changed = string_to_sign;
            changed[i] = static_cast<char>(changed[i] + 1);
            EXPECT_FALSE(verify_base64(signer.certificate_pem(), version, changed, *signature))
                << version << " " << i;
        }
    }
}

TEST(MessageSigner, RefusesUnknownSignatureVersions) {
    for (int version : {0, 3, -1, 256}) {
        auto signature = shared_signer().sign_base64(version, "x");
        ASSERT_FALSE(signature.has_value()) << version;
        EXPECT_EQ(signature.error().code, ErrorCode::InvalidArgument);
    }
}

TEST(MessageSigner, CertificateFileNameIsTheHashOfTheCertificate) {
    const MessageSigner& signer = shared_signer();
    EXPECT_TRUE(std::regex_match(signer.certificate_file_name(),
                                 std::regex("SimpleNotificationService-[0-9a-f]{32}\\.pem")))
        << signer.certificate_file_name();
    auto info = crypto::parse_certificate(signer.certificate_pem());
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(signer.certificate_file_name(),
              "SimpleNotificationService-" + crypto::sha256_hex(info->der).substr(0, 32) + ".pem");
}

TEST(MessageSigner, FromPemRefusesAMismatchedPair) {
    auto key = crypto::RsaPrivateKey::generate().value();
    auto other = crypto::RsaPrivateKey::generate().value();
    auto cert = other.self_signed_certificate_pem("other", 1).value();
    auto signer = MessageSigner::from_pem(key.to_pem(), cert);
    ASSERT_FALSE(signer.has_value());
    EXPECT_EQ(signer.error().code, ErrorCode::CorruptInput);
    EXPECT_NE(signer.error().message.find("does not belong"), std::string::npos)
        << signer.error().message;
}

TEST(MessageSigner, ExpiredCertificateIsAnError) {
    auto info = crypto::parse_certificate(kExpiredPairCertificate);
    ASSERT_TRUE(info.has_value()) << info.error().message;
    EXPECT_EQ(info->common_name, "expired");
    EXPECT_EQ(std::chrono::system_clock::to_time_t(info->not_after), 1577923200);  // 2020-01-02

    auto signer = MessageSigner::from_pem(kExpiredPairKey, kExpiredPairCertificate);
    ASSERT_FALSE(signer.has_value());
    EXPECT_EQ(signer.error().code, ErrorCode::PreconditionFailed);
    EXPECT_NE(signer.error().message.find("expired at 2020-01-02T00:00:00.000Z"), std::string::npos)
        << signer.error().message;

    // On disk it is the same error, and the files stay as they are.
    test::TempDir dir;
    write_text(dir.path() / "sns-signing-key.pem", kExpiredPairKey);
    write_text(dir.path() / "sns-signing-cert.pem", kExpiredPairCertificate);
    auto loaded = MessageSigner::load_or_create(dir.path(), "photoflux-sns");
    ASSERT_FALSE(loaded.has_value());
    EXPECT_EQ(loaded.error().code, ErrorCode::PreconditionFailed);
    EXPECT_EQ(read_text(dir.path() / "sns-signing-cert.pem"), kExpiredPairCertificate);
    EXPECT_EQ(read_text(dir.path() / "sns-signing-key.pem"), kExpiredPairKey);
}

TEST(MessageSigner, CreatesKeyAndCertificateOnceAndReloadsThem) {
    test::TempDir dir;
    const fs::path state = dir.path() / "state" / "sns";  // missing parents are created
    auto first = MessageSigner::load_or_create(state, "photoflux-sns");
    ASSERT_TRUE(first.has_value()) << first.error().message;
    const fs::path key_path = state / "sns-signing-key.pem";
    const fs::path cert_path = state / "sns-signing-cert.pem";
    ASSERT_TRUE(fs::exists(key_path));
    ASSERT_TRUE(fs::exists(cert_path));
    EXPECT_TRUE(read_text(key_path).starts_with("-----BEGIN PRIVATE KEY-----\n"));
    EXPECT_EQ(read_text(cert_path), first->certificate_pem());
    EXPECT_EQ(crypto::parse_certificate(first->certificate_pem())->common_name, "photoflux-sns");
    const std::string key_bytes = read_text(key_path);

    auto second = MessageSigner::load_or_create(state, "another name is ignored now");
    ASSERT_TRUE(second.has_value()) << second.error().message;
    EXPECT_EQ(second->certificate_pem(), first->certificate_pem());
    EXPECT_EQ(second->certificate_file_name(), first->certificate_file_name());
    EXPECT_EQ(read_text(key_path), key_bytes);

    // The reloaded signer signs for the same certificate.
    auto signature = second->sign_base64(2, "payload");
    ASSERT_TRUE(signature.has_value());
    EXPECT_TRUE(verify_base64(first->certificate_pem(), 2, "payload", *signature));

    // Nothing but the pair and the lock file is left behind (no temp files).
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(state)) {
        names.insert(entry.path().filename().string());
    }
    EXPECT_EQ(names, (std::set<std::string>{".sns-signing.lock", "sns-signing-cert.pem",
                                            "sns-signing-key.pem"}));
}

TEST(MessageSigner, KeyFileIsPrivateWhateverTheUmask) {
    test::TempDir dir;
    const mode_t previous = ::umask(0);  // the most permissive umask there is
    auto signer = MessageSigner::load_or_create(dir.path(), "photoflux-sns");
    ::umask(previous);
    ASSERT_TRUE(signer.has_value()) << signer.error().message;
    struct stat key_stat {};
    ASSERT_EQ(::stat((dir.path() / "sns-signing-key.pem").c_str(), &key_stat), 0);
    EXPECT_EQ(key_stat.st_mode & 07777, 0600u);
    struct stat cert_stat {};
    ASSERT_EQ(::stat((dir.path() / "sns-signing-cert.pem").c_str(), &cert_stat), 0);
    EXPECT_EQ(cert_stat.st_mode & 07777, 0644u);
}

TEST(MessageSigner, CorruptKeyFileIsAnErrorAndIsLeftAlone) {
    test::TempDir dir;
    ASSERT_TRUE(MessageSigner::load_or_create(dir.path(), "photoflux-sns").has_value());
    const fs::path key_path = dir.path() / "sns-signing-key.pem";
    const std::string cert_before = read_text(dir.path() / "sns-signing-cert.pem");

    std::string key = read_text(key_path);
    key[key.size() / 2] = key[key.size() / 2] == 'A' ? 'B' : 'A';  // one base64 digit
    write_text(key_path, key);
    auto damaged = MessageSigner::load_or_create(dir.path(), "photoflux-sns");
    ASSERT_FALSE(damaged.has_value());
    EXPECT_EQ(damaged.error().code, ErrorCode::CorruptInput);
    EXPECT_NE(damaged.error().message.find(key_path.string()), std::string::npos)
        << damaged.error().message;
    // Not silently regenerated: both files are as they were.
    EXPECT_EQ(read_text(key_path), key);
    EXPECT_EQ(read_text(dir.path() / "sns-signing-cert.pem"), cert_before);

    write_text(key_path, "not a key\n");
    auto garbage = MessageSigner::load_or_create(dir.path(), "photoflux-sns");
    ASSERT_FALSE(garbage.has_value());
    EXPECT_EQ(garbage.error().code, ErrorCode::CorruptInput);
    EXPECT_EQ(read_text(key_path), "not a key\n");
}

TEST(MessageSigner, CorruptCertificateFileIsAnError) {
    test::TempDir dir;
    ASSERT_TRUE(MessageSigner::load_or_create(dir.path(), "photoflux-sns").has_value());
    write_text(dir.path() / "sns-signing-cert.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n");
    auto signer = MessageSigner::load_or_create(dir.path(), "photoflux-sns");
    ASSERT_FALSE(signer.has_value());
    EXPECT_EQ(signer.error().code, ErrorCode::CorruptInput);
    EXPECT_NE(signer.error().message.find("sns-signing-cert.pem"), std::string::npos);
}

TEST(MessageSigner, CertificateOfAnotherKeyIsAnError) {
    test::TempDir a;
    test::TempDir b;
    ASSERT_TRUE(MessageSigner::load_or_create(a.path(), "a").has_value());
    ASSERT_TRUE(MessageSigner::load_or_create(b.path(), "b").has_value());
    fs::copy_file(b.path() / "sns-signing-cert.pem", a.path() / "sns-signing-cert.pem",
                  fs::copy_options::overwrite_existing);
    auto signer = MessageSigner::load_or_create(a.path(), "a");
    ASSERT_FALSE(signer.has_value());
    EXPECT_EQ(signer.error().code, ErrorCode::CorruptInput);
    EXPECT_NE(signer.error().message.find("does not belong"), std::string::npos)
        << signer.error().message;
}

TEST(MessageSigner, CertificateWithoutItsKeyIsAnError) {
    test::TempDir dir;
    ASSERT_TRUE(MessageSigner::load_or_create(dir.path(), "photoflux-sns").has_value());
    fs::remove(dir.path() / "sns-signing-key.pem");
    auto signer = MessageSigner::load_or_create(dir.path(), "photoflux-sns");
    ASSERT_FALSE(signer.has_value());
    EXPECT_EQ(signer.error().code, ErrorCode::PreconditionFailed);
    EXPECT_FALSE(fs::exists(dir.path() / "sns-signing-key.pem"));
    EXPECT_TRUE(fs::exists(dir.path() / "sns-signing-cert.pem"));
}

TEST(MessageSigner, KeyWithoutCertificateGetsOneForThatKey) {
    // What a first start interrupted between the two writes leaves behind.
    test::TempDir dir;
    ASSERT_TRUE(MessageSigner::load_or_create(dir.path(), "photoflux-sns").has_value());
    const std::string key_before = read_text(dir.path() / "sns-signing-key.pem");
    fs::remove(dir.path() / "sns-signing-cert.pem");
    auto signer = MessageSigner::load_or_create(dir.path(), "photoflux-sns");
    ASSERT_TRUE(signer.has_value()) << signer.error().message;
    EXPECT_EQ(read_text(dir.path() / "sns-signing-key.pem"), key_before);
    auto key = crypto::RsaPrivateKey::from_pem(key_before).value();
    EXPECT_TRUE(key.matches_certificate(signer->certificate_pem()).value());
}

TEST(MessageSigner, ConcurrentFirstStartsAgreeOnOnePair) {
    test::TempDir dir;
    std::vector<std::string> certs(3);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < certs.size(); ++i) {
        threads.emplace_back([&dir, &certs, i] {
            auto signer = MessageSigner::load_or_create(dir.path(), "photoflux-sns");
            certs[i] = signer.has_value() ? signer->certificate_pem() : signer.error().message;
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(certs[0], read_text(dir.path() / "sns-signing-cert.pem"));
    EXPECT_EQ(certs[1], certs[0]);
    EXPECT_EQ(certs[2], certs[0]);
}

// ---- strings to sign ----------------------------------------------------------------------------

TEST(Envelope, NotificationStringToSignWithSubject) {
    EXPECT_EQ(notification_string_to_sign(sample_message(), "line one\nline \"two\""),
              "Message\n"
              "line one\nline \"two\"\n"
              "MessageId\n"
              "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n"
              "Subject\n"
              "Photo processed\n"
              "Timestamp\n"
              "2012-05-02T00:54:06.655Z\n"
              "TopicArn\n"
              "arn:aws:sns:us-west-2:123456789012:MyTopic\n"
              "Type\n"
              "Notification\n");
}

TEST(Envelope, NotificationStringToSignWithoutSubject) {
    PublishedMessage message = sample_message();
    message.subject.reset();
    // The per-subscriber text is what is signed, not the published `message`.
    EXPECT_EQ(notification_string_to_sign(message, "{\"kind\":\"thumb\"}"),
              "Message\n"
              "{\"kind\":\"thumb\"}\n"
              "MessageId\n"
              "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n"
              "Timestamp\n"
              "2012-05-02T00:54:06.655Z\n"
              "TopicArn\n"
              "arn:aws:sns:us-west-2:123456789012:MyTopic\n"
              "Type\n"
              "Notification\n");
}

TEST(Envelope, SubscriptionConfirmationStringToSign) {
    EXPECT_EQ(confirmation_string_to_sign(sample_confirmation(ConfirmationKind::Subscribe)),
              "Message\n"
              "You have chosen to subscribe to the topic "
              "arn:aws:sns:us-west-2:123456789012:MyTopic.\n"
              "To confirm the subscription, visit the SubscribeURL included in this message.\n"
              "MessageId\n"
              "165545c9-2a5c-472c-8df2-7ff2be2b3b1b\n"
              "SubscribeURL\n"
              "http://localhost:9000/_/sns/confirm?TopicArn=arn%3Aaws%3Asns%3Aus-west-2%3A"
              "123456789012%3AMyTopic&Token=2336412f37fb\n"
              "Timestamp\n"
              "2012-05-02T00:54:06.655Z\n"
              "Token\n"
              "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3b\n"
              "TopicArn\n"
              "arn:aws:sns:us-west-2:123456789012:MyTopic\n"
              "Type\n"
              "SubscriptionConfirmation\n");
}

TEST(Envelope, UnsubscribeConfirmationStringToSign) {
    const std::string text =
        confirmation_string_to_sign(sample_confirmation(ConfirmationKind::Unsubscribe));
    EXPECT_TRUE(text.starts_with(
        "Message\n"
        "You have chosen to deactivate subscription "
        "arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0-26c4-47ec-8998-413945fb5a96.\n"
        "To cancel this operation and restore the subscription, visit the SubscribeURL included "
        "in this message.\n"
        "MessageId\n"))
        << text;
    EXPECT_TRUE(text.ends_with("Type\nUnsubscribeConfirmation\n")) << text;
}

// ---- JSON envelopes ----------------------------------------------------------------------------

TEST(Envelope, NotificationJsonCarriesEveryFieldAndVerifies) {
    const MessageSigner& signer = shared_signer();
    const PublishedMessage message = sample_message();
    for (int version : {1, 2}) {
        const Json doc =
            parse(notification_json(message, message.message, sample_urls(), version, signer));
        EXPECT_EQ(doc.at("Type"), "Notification");
        EXPECT_EQ(doc.at("MessageId"), kMessageId);
        EXPECT_EQ(doc.at("TopicArn"), kTopicArn);
        EXPECT_EQ(doc.at("Subject"), "Photo processed");
        EXPECT_EQ(doc.at("Message"), "line one\nline \"two\"");
        EXPECT_EQ(doc.at("Timestamp"), kTimestamp);
        EXPECT_EQ(doc.at("SignatureVersion"), std::to_string(version));  // a string, not a number
        EXPECT_EQ(doc.at("SigningCertURL"), kCertUrl);
        EXPECT_EQ(doc.at("UnsubscribeURL"), kUnsubscribeUrl);
        EXPECT_FALSE(doc.contains("MessageAttributes"));
        EXPECT_EQ(doc.size(), 10u);
        EXPECT_TRUE(receiver_verifies(doc, signer.certificate_pem()));
        // The Signature covers exactly the documented string.
        EXPECT_TRUE(verify_base64(signer.certificate_pem(), version,
                                  notification_string_to_sign(message, message.message),
                                  doc.at("Signature").get<std::string>()));
    }
}

TEST(Envelope, NotificationWithoutSubjectOmitsItAndVerifies) {
    PublishedMessage message = sample_message();
    message.subject.reset();
    const Json doc =
        parse(notification_json(message, message.message, sample_urls(), 1, shared_signer()));
    EXPECT_FALSE(doc.contains("Subject"));
    EXPECT_TRUE(receiver_verifies(doc, shared_signer().certificate_pem()));
}

TEST(Envelope, AwkwardMessageTextRoundTripsAndTheSignatureCoversTheUnescapedText) {
    PublishedMessage message = sample_message();
    const std::string text =
        "quotes \" and \\ backslash\r\nnew\nline\ttab \x01 control </script> "
        "caf\xC3\xA9 \xE2\x80\xA8 line-separator \xF0\x9F\x93\xB7 camera {\"json\":[1,2]}";
    message.message = text;
    message.subject = "Subj \"quoted\" \xC3\xBC";
    auto json = notification_json(message, text, sample_urls(), 2, shared_signer());
    ASSERT_TRUE(json.has_value()) << json.error().message;
    // The document itself is escaped: no raw quote or newline inside the Message value.
    EXPECT_NE(json->find(R"(quotes \" and \\ backslash\r\nnew\nline\ttab \u0001 control)"),
              std::string::npos)
        << *json;
    const Json doc = Json::parse(*json);
    EXPECT_EQ(doc.at("Message").get<std::string>(), text);
    EXPECT_EQ(doc.at("Subject").get<std::string>(), "Subj \"quoted\" \xC3\xBC");
    EXPECT_TRUE(receiver_verifies(doc, shared_signer().certificate_pem()));
    // A receiver that signed the escaped JSON text instead would fail.
    std::string escaped_text = doc.at("Message").dump();
    escaped_text = escaped_text.substr(1, escaped_text.size() - 2);
    Json wrong = doc;
    wrong["Message"] = escaped_text;
    EXPECT_FALSE(receiver_verifies(wrong, shared_signer().certificate_pem()));
}

TEST(Envelope, TamperedEnvelopeFailsVerification) {
    const Json doc =
        parse(notification_json(sample_message(), "hello", sample_urls(), 2, shared_signer()));
    for (const char* field : {"Message", "MessageId", "Subject", "Timestamp", "TopicArn"}) {
        Json tampered = doc;
        tampered[field] = doc.at(field).get<std::string>() + "x";
        EXPECT_FALSE(receiver_verifies(tampered, shared_signer().certificate_pem())) << field;
    }
    // A certificate of another key does not verify it either.
    auto other = crypto::RsaPrivateKey::generate().value();
    EXPECT_FALSE(receiver_verifies(doc, other.self_signed_certificate_pem("x", 1).value()));
}

TEST(Envelope, MessageAttributesAreTypedAndBinaryIsBase64) {
    PublishedMessage message = sample_message();
    message.attributes = {
        {"kind", "String", "thumb", ""},
        {"width", "Number", "320", ""},
        {"tags", "String.Array", "[\"a\",\"b\"]", ""},
        {"blob", "Binary", "", std::string("\x00\xFF\x10", 3)},
    };
    const Json doc =
        parse(notification_json(message, message.message, sample_urls(), 2, shared_signer()));
    const Json expected = Json::parse(R"({
        "kind": {"Type": "String", "Value": "thumb"},
        "width": {"Type": "Number", "Value": "320"},
        "tags": {"Type": "String.Array", "Value": "[\"a\",\"b\"]"},
        "blob": {"Type": "Binary", "Value": "AP8Q"}
    })");
    EXPECT_EQ(doc.at("MessageAttributes"), expected);
    // Attributes are not part of the signed string.
    EXPECT_TRUE(receiver_verifies(doc, shared_signer().certificate_pem()));

    // MessageStructure=json: SNS delivers no attributes.
    message.json_structure = true;
    const Json structured =
        parse(notification_json(message, "per-protocol text", sample_urls(), 2, shared_signer()));
    EXPECT_FALSE(structured.contains("MessageAttributes"));
    EXPECT_EQ(structured.at("Message"), "per-protocol text");
}

TEST(Envelope, InvalidInputsAreErrors) {
    auto bad_version = notification_json(sample_message(), "m", sample_urls(), 3, shared_signer());
    ASSERT_FALSE(bad_version.has_value());
    EXPECT_EQ(bad_version.error().code, ErrorCode::InvalidArgument);

    auto bad_utf8 =
        notification_json(sample_message(), "bad \xC3\x28 utf8", sample_urls(), 1, shared_signer());
    ASSERT_FALSE(bad_utf8.has_value());
    EXPECT_EQ(bad_utf8.error().code, ErrorCode::InvalidArgument);

    auto bad_confirmation =
        confirmation_json(sample_confirmation(ConfirmationKind::Subscribe), 0, shared_signer());
    ASSERT_FALSE(bad_confirmation.has_value());
    EXPECT_EQ(bad_confirmation.error().code, ErrorCode::InvalidArgument);
}

TEST(Envelope, SubscriptionConfirmationJson) {
    const ConfirmationFields fields = sample_confirmation(ConfirmationKind::Subscribe);
    const Json doc = parse(confirmation_json(fields, 1, shared_signer()));
    EXPECT_EQ(doc.at("Type"), "SubscriptionConfirmation");
    EXPECT_EQ(doc.at("MessageId"), fields.message_id);
    EXPECT_EQ(doc.at("Token"), fields.token);
    EXPECT_EQ(doc.at("TopicArn"), kTopicArn);
    EXPECT_EQ(doc.at("Message"),
              "You have chosen to subscribe to the topic "
              "arn:aws:sns:us-west-2:123456789012:MyTopic.\nTo confirm the subscription, visit "
              "the SubscribeURL included in this message.");
    EXPECT_EQ(doc.at("SubscribeURL"), fields.subscribe_url);
    EXPECT_EQ(doc.at("Timestamp"), kTimestamp);
    EXPECT_EQ(doc.at("SignatureVersion"), "1");
    EXPECT_EQ(doc.at("SigningCertURL"), kCertUrl);
    EXPECT_EQ(doc.size(), 10u);  // no UnsubscribeURL, Subject or attributes
    EXPECT_TRUE(receiver_verifies(doc, shared_signer().certificate_pem()));
}

TEST(Envelope, UnsubscribeConfirmationJson) {
    const ConfirmationFields fields = sample_confirmation(ConfirmationKind::Unsubscribe);
    const Json doc = parse(confirmation_json(fields, 2, shared_signer()));
    EXPECT_EQ(doc.at("Type"), "UnsubscribeConfirmation");
    EXPECT_EQ(doc.at("Message"),
              "You have chosen to deactivate subscription "
              "arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0-26c4-47ec-8998-413945fb5a96."
              "\nTo cancel this operation and restore the subscription, visit the SubscribeURL "
              "included in this message.");
    EXPECT_EQ(doc.at("SignatureVersion"), "2");
    EXPECT_TRUE(receiver_verifies(doc, shared_signer().certificate_pem()));
    Json as_subscribe = doc;
    as_subscribe["Type"] = "SubscriptionConfirmation";
    EXPECT_FALSE(receiver_verifies(as_subscribe, shared_signer().certificate_pem()));
}

TEST(Envelope, SnsTimestampHasMillisecondsAndTruncates) {
    using namespace std::chrono;
    const system_clock::time_point t{seconds(1335920046)};  // 2012-05-02T00:54:06Z
    EXPECT_EQ(sns_timestamp(t + milliseconds(655)), "2012-05-02T00:54:06.655Z");
    EXPECT_EQ(sns_timestamp(t + microseconds(655'999)), "2012-05-02T00:54:06.655Z");
    EXPECT_EQ(sns_timestamp(t), "2012-05-02T00:54:06.000Z");
    EXPECT_EQ(sns_timestamp(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
}

// ---- e-mail ------------------------------------------------------------------------------------

TEST(Envelope, EmailBodyIsTheMessageThenTheUnsubscribeFooter) {
    EXPECT_EQ(email_text_body("Photo cat.jpg processed.\n3 derivatives.", kUnsubscribeUrl),
              std::string("Photo cat.jpg processed.\n3 derivatives.\n\n--\n"
                          "If you wish to stop receiving notifications from this topic, please "
                          "click or visit the link below to unsubscribe:\n") +
                  kUnsubscribeUrl + "\n\nPlease do not reply directly to this email.\n");
}

TEST(Envelope, EmailSubjects) {
    PublishedMessage message = sample_message();
    EXPECT_EQ(email_subject(message), "Photo processed");
    message.subject.reset();
    EXPECT_EQ(email_subject(message), "AWS Notification Message");
    message.subject = "";
    EXPECT_EQ(email_subject(message), "AWS Notification Message");
    EXPECT_EQ(confirmation_email_subject(), "AWS Notification - Subscription Confirmation");
}

TEST(Envelope, ConfirmationEmailNamesTheTopicAndCarriesTheLink) {
    const std::string url = sample_confirmation(ConfirmationKind::Subscribe).subscribe_url;
    const std::string body = confirmation_email_body(kTopicArn, url);
    EXPECT_EQ(body, std::string("You have chosen to subscribe to the topic:\n") + kTopicArn +
                        "\n\nTo confirm this subscription, click or visit the link below (if "
                        "this was in error no action is necessary):\n" +
                        url + "\n\nPlease do not reply directly to this email.\n");
}

TEST(Envelope, EmailJsonBodyIsTheNotificationDocument) {
    // email-json mails carry the Notification JSON unchanged, so the same check applies.
    auto body = notification_json(sample_message(), "hello", sample_urls(), 1, shared_signer());
    ASSERT_TRUE(body.has_value());
    EXPECT_TRUE(receiver_verifies(Json::parse(*body), shared_signer().certificate_pem()));
}

}  // namespace
}  // namespace pf::notify
