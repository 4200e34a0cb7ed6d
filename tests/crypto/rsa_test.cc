// RSA keys, PKCS#1 v1.5 signatures and self-signed certificates (crypto/rsa.h). The fixture key and
// its signatures were made with the openssl command-line tool, so they check this code against an
// independent signer rather than against itself.
#include "crypto/encoding.h"
#include "crypto/rsa.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace pf::crypto {
namespace {

// openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 | openssl rsa -traditional
// (and its -pubout public half; the weak key is 1024 bits, the encrypted one is that weak key under
// aes256 with passphrase "secret", the EC key is P-256).
// clang-format off
constexpr char kFixtureKeyPkcs1[] =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEogIBAAKCAQEAv3FbmHwYzHHU6Xcv5Ej0tA/wDgYwvPo9iRvwFXKabYgybHBK\n"
    "3x8QA2oayp+gLoVQ0ckwuxai5nSsljh0mroGL3XGOhvCJJRmCkKKo2Ny1nbbomxT\n"
    "If4aLjmIedNPCpoh9c1P0VKtulbGVTDRsVFpwN+P2p/FadRdKxpmyi9jbWm03KNK\n"
    "ezs1/fRYwF2O7sW09aXJ64bieQ9z8C5lddfiKc7/3ZLTRgtpJ5jBhrdcPEc8EbOU\n"
    "4/gsCN2qh6SKahSm/87UQWzAYm9KRh1tNpoOs/sTc4xEoS+2rxzZa+04rM5Dk35k\n"
    "0nfmjrCg+2vh2XwAWANQ7N1LRhe9Z2j5fxaRhwIDAQABAoIBAALFbKKrw913FbKT\n"
    "dm6th61GQHP+LvJtWjquhtkooYejCGfSxaKuhm17jwu5J85vQO49z/tv+8euOgP/\n"
    "/orG1T7BS69HpkB1TXd/OGveYqksFfMnR5ofCC38czdK5xgA3ID8Xy1pLvlFjErA\n"
    "vChURLL1XtW2qQWRJ2VvqmaULQebu7DlJs06KhHb3oVlOSIxdWsJLGyUZavKoqrs\n"
    "IISIV2WDbIPcb84VdstrVtNszkG53zI5GaXinHxjcUTVu+M70L+gBdvE1r0U4yAb\n"
    "4IiRYGX2IuLZWgUq/qLw93+ceCqrxd02u2wqdwaym2yOpJmW6tSdVqYYzHR0roTd\n"
    "XYFnroECgYEA6s3phUxY70WfZQ4GO+vJCeXBr2LPaSi4I56p2XddGova/7VqeaOv\n"
    "I2d9Ie+lhJLH8+J4gmuAbAAOYepFk8Y03kppcweyFxM/J5oLfjuA8XbjBmZy7CGz\n"
    "sO0rdSYfVBUf9kPxkUvdEon2rU1CSFVjItMibV0U9LDIXw3M6ESJXGECgYEA0Lln\n"
    "oxRbii1Iy8brPZS6NaH9y5+zzuVllPrzVmKiBHaDX+Co49aMm91lUSBvHgo/4zvs\n"
    "fW0QYu92gTV6HQ7Q22OxQfqTTkzzRdgOKYI6fr56lpcE9k+3cVslccoKZlqH1qtR\n"
    "pZalewNi2L2drwqdKNggl8uotN97ioxfhTy/9ucCgYBpmFrZoKEqUfRB/RGepwYN\n"
    "Vm9JUbWXREGzeypFa2HKi3TcpJiSxaMA2Ay1U1HrkhssOgAaHwBtEYVmUXYi4/No\n"
    "uKw9mAtmRziStbtPdLEjZmTovvAV834dJjvx/kf+h1WNabbcsfJk4Pi3rVQOtZ/U\n"
    "zIDiEAdZl5s07D7ngdMIYQKBgGxZEjdRhgNAZp2BcPPSlKbqpDhjeo9X/VdMvayG\n"
    "Htx6ONA4avN6mBsA3msyjvvlDi0DGkwxpWP2Mmn4PJ+A5WI9afJ6BKWMxGvpL9DU\n"
    "TVElx7UMSAMkdnFdgx6CZsujCwigfg2bGeO1akZgh84pkFN3fdPOYJEjwZm2LI+Z\n"
    "bXzZAoGAdRY9ZEOBK8hRBy6teay6LbFZCZTi3uLL6gYmaQffSQMsHxnvv6Zplgq3\n"
    "wZlk86INyMwec16btuKsuxwClIfIohlHuZkxQwFFxjLBi4Xn/PZ9MAHR3RrDH0ie\n"
    "kzpuQ3VGTMuENW1Ba8zKmzaRNelb0jLFmahQk1oSt2hHzTCEebk=\n"
    "-----END RSA PRIVATE KEY-----\n";

constexpr char kFixturePublicKey[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAv3FbmHwYzHHU6Xcv5Ej0\n"
    "tA/wDgYwvPo9iRvwFXKabYgybHBK3x8QA2oayp+gLoVQ0ckwuxai5nSsljh0mroG\n"
    "L3XGOhvCJJRmCkKKo2Ny1nbbomxTIf4aLjmIedNPCpoh9c1P0VKtulbGVTDRsVFp\n"
    "wN+P2p/FadRdKxpmyi9jbWm03KNKezs1/fRYwF2O7sW09aXJ64bieQ9z8C5lddfi\n"
    "Kc7/3ZLTRgtpJ5jBhrdcPEc8EbOU4/gsCN2qh6SKahSm/87UQWzAYm9KRh1tNpoO\n"
    "s/sTc4xEoS+2rxzZa+04rM5Dk35k0nfmjrCg+2vh2XwAWANQ7N1LRhe9Z2j5fxaR\n"
    "hwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

constexpr char kWeakKey1024[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBANeimfgjS99pRagd\n"
    "E9CVr72plWDbWJCVlp3fsvwtxxEe4+S8cc4Vb8jQOsKF8HvZjRhUJKQ9NLbeUeCB\n"
    "dBURClPdrEZs0NTNSHrRUhj7ovp4GIr2oxK3rCzUOXBJ/d4y7ZF9QiwGYzwEIVyx\n"
    "z5DpDNMW5hEIruUYkiYLikYtPtWLAgMBAAECgYAR/cMS7P77mPDy4doxYQvUqz2H\n"
    "Y0W0aoayjWOFntwpFYa2IvLr2uYEvzrn1/0EmFYpXXvhKCopx8rVDHf++fj+dwjm\n"
    "9nAmRGdxd4t6OqgDhIq55cC8NfFzuik3j3lrBH8jMOZHDJPrRjuuSfT+A1/duPcE\n"
    "UXbN3ekqe+02oqIKoQJBAPs94PovTjPzGKi8L/mFVaPtHBHKtcvEkS2x97XdxFFJ\n"
    "Es6irInguh0x+Zsxlc45KMgToY0o0ZlpnNeTnfv7ebUCQQDbuBZzO/3da5TE6bmH\n"
    "WRgpddpdgxADzDAswjGSBQRxXbiMGKo84sWX9Jsxbjpipqs0kcRLP7GFMkFtSF/p\n"
    "sZo/AkB5H0TV+HZgLyNFPax3Q+OcqtPsc+ie+v3upKzCPc7GTU9G1UAPHIs9RfmK\n"
    "6yXIjN/vTR+GORaLOlJFz8HLWFo9AkAlpk/Cgz8nF+4wJ9SwyqWHRTib2X9/Bxgi\n"
    "M0yHNvDh9CtRZlCVik5NkY6eU8MRcHnZ0jiOpGVo64mmjkZRJyvFAkEAjyOr6vcB\n"
    "+RjoYAUHX7dETiyNdjpqek5Y2ku6kqyahgSZQgWdhfMk1wtnu+XdzwubmZcmlm/f\n"
    "IPxH4UhTXPLqEg==\n"
    "-----END PRIVATE KEY-----\n";

constexpr char kEncryptedKey[] =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
    "MIIC3TBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQIF05cxLOMsKsCAggA\n"
    "MAwGCCqGSIb3DQIJBQAwHQYJYIZIAWUDBAEqBBAAf+hTCgg29Ek/k9MJgeMBBIIC\n"
    "gE8LT98UEXmDQy20cTyOqTf9KVg8deByGPiLbqrBmBn+0f8UmF++6DfHQXVunHhA\n"
    "Iqq2bVIoyvAHVrEDAPC6RCOhT8Gbu40FqoNKGGV8Y7K0SyYZoAgSwMz0TifLhtjX\n"
    "FQDTusyY2S5spoxv+dky1nfvfn+Y2XhAnso2uwOQFxet+Ybm5UK/AmhA4C1CUxbc\n"
    "mnnYbqkiUo5OpSG88ORl21o9toBq2P8cCMvDju6ajCJpG76c2zYd+dvAUDYw1QZg\n"
    "2dE0GRk0o9bU6/KVfZ6uSKKEpJeRA9NJcjDNtwRpCnDuBBfld87jaKj/v93JNQcQ\n"
    "Y+8LoFyr/nsb0wddeBaDpxrI4Jry4kgTC0tfuuFuzucLIWYrdOnkLGLgUWggAXVj\n"
    "t4j03CCet6mzwSMjKwPCipFv5YkLo/VsJ01vOWftOv84RPiobDjBzM9mtDTBFD0R\n"
    "NKx69ZmkBOHeH+uKj5PaRnFgpB0PWW+bS0/eegz7MAGH8JFE5kqvqEZQd/zQ0c+0\n"
    "kHZqG3dAmqMFqPeB8APMZoEtGaMZwF9ShByizvTLmvm4de8itiZQVA9mKDN4U8Xt\n"
    "isNXJua/RGmlYOqI4jo4ocpZHR2XW0gaOlMNuefGYR60cC4uNbmwdABZQ2u/KUGH\n"
    "ZUn+4qVPHeZJYrLZVLZPIPEtpErkEeQqAzaXwr7h7A7PG8ySMBdmNdnTlERQRQdI\n"
    "KCT9/jfcfOZ0L3Pmle3zpUt43DPxRPFvSSrWPNdXjDvNXwxugdDGkOAaJ9o8TCFY\n"
    "I6cwigpAeNvZDfay89nu0lr4rzQ5kaciqXt+hsxNafa8qiBFKGwUO8qxtTWIUSaa\n"
    "EXLf5rExCa0rODEDwPVgBvc=\n"
    "-----END ENCRYPTED PRIVATE KEY-----\n";

constexpr char kEcKey[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgmvqObARlzDttUTd3\n"
    "ueFDfrjN1QJZYE+ANnItiZSkGUuhRANCAARBmFowzwQ9YH7kg8Q5MRClHGQHnjKg\n"
    "bXLQJtK0xuNZd0MJQgK09MarSZJW5Ls9+WC9Ygycb6Ikd7vDFKmk52sY\n"
    "-----END PRIVATE KEY-----\n";

constexpr char kFixtureSha1SignatureBase64[] =
    "augBEwZ67Kz5PdzChovZUHw4EPJpztPvMIWYtGYfkj31JdWk65r9i6AhUNBljuDL8r4KTrlc2hGKaWp/l0v/c/BQ"
    "HLTcAz/BfuyYoKKzeWVhHpA/DbEDRdF13kBmZFdjgM46a3xy/Jj2mD2nY+ot8h3ALaxg7hRnWwSs+I1OSJumyLfr"
    "e0uxbT5jtEYHsuHn+qgcXuZHJa+m98KQEtxqR6OCyBmZr/OfesOCwnxfKgHtXQsJTzIbyUNTgCBkLVYZdyARbrhH"
    "yuCE8HhBCAJlWY5PK8WPjuL/OQTNAjF2xo4b7pSpUUpwLSgDdIoVEULmMg2wwQ42Le4YRxqI0TkJOw==";

constexpr char kFixtureSha256SignatureBase64[] =
    "ELkLrNI6DXOTJhjpYQAYqHykkubvzG3YYp5dAFi6h+B8S8Lo1cFsSlFiqhdVahhWK8YjgLWgC0BENvF8Dj4768SA"
    "HJwmGixVZdjEGDXmFqD9UmTkYIl0QdJVdGJwhZRXRK347asrcgFo34pUFNm8y61l+pqC5Kha2OinQaeEQkoca7xJ"
    "GEMOv8hMcw63EeFWOOXX/6/o/HDsqjm/NkrR6/ZQ0bxhOgOix9vh94ZU1VY+8QT9KlGLfA06i1LaJSPzBOdj6h+6"
    "vGja8gjVBbtRn+JTAJqqIqfhYG1DGr0IJIPdSA7vBD4IY62eOq5SPbwigD9BPo3DbPY2zpZyYi6lsw==";
// clang-format on

// The bytes the fixture signatures cover (printf 'Message\nhello "world"\n' | openssl dgst -sign).
constexpr char kFixtureMessage[] = "Message\nhello \"world\"\n";

std::string decode(std::string_view base64) {
    auto bytes = base64_decode(base64);
    EXPECT_TRUE(bytes.has_value());
    return bytes.value_or("");
}

// One generated key for the tests that need "some key": generation costs a noticeable fraction of
// a second under the sanitizers.
const RsaPrivateKey& shared_key() {
    static const RsaPrivateKey key = RsaPrivateKey::generate().value();
    return key;
}

const RsaPrivateKey& fixture_key() {
    static const RsaPrivateKey key = RsaPrivateKey::from_pem(kFixtureKeyPkcs1).value();
    return key;
}

bool verifies(std::string_view pem, SignatureDigest digest, std::string_view message,
              std::string_view signature) {
    auto ok = rsa_verify(pem, digest, message, signature);
    EXPECT_TRUE(ok.has_value()) << ok.error().message;
    return ok.has_value() && *ok;
}

TEST(Rsa, SignaturesMatchTheOpensslToolByteForByte) {
    // PKCS#1 v1.5 is deterministic, so the same key and bytes give the very same signature.
    auto sha1 = fixture_key().sign(SignatureDigest::Sha1, kFixtureMessage);
    ASSERT_TRUE(sha1.has_value()) << sha1.error().message;
    EXPECT_EQ(base64_encode(*sha1), kFixtureSha1SignatureBase64);
    auto sha256 = fixture_key().sign(SignatureDigest::Sha256, kFixtureMessage);
    ASSERT_TRUE(sha256.has_value()) << sha256.error().message;
    EXPECT_EQ(base64_encode(*sha256), kFixtureSha256SignatureBase64);
}

TEST(Rsa, VerifiesTheOpensslToolsSignaturesWithThePublicKey) {
    EXPECT_TRUE(verifies(kFixturePublicKey, SignatureDigest::Sha1, kFixtureMessage,
                         decode(kFixtureSha1SignatureBase64)));
    EXPECT_TRUE(verifies(kFixturePublicKey, SignatureDigest::Sha256, kFixtureMessage,
                         decode(kFixtureSha256SignatureBase64)));
    // The digest is part of what is signed: a SHA-1 signature is not a SHA-256 one.
    EXPECT_FALSE(verifies(kFixturePublicKey, SignatureDigest::Sha256, kFixtureMessage,
                          decode(kFixtureSha1SignatureBase64)));
}

TEST(Rsa, PublicKeyPemIsTheStandardEncoding) {
    EXPECT_EQ(fixture_key().public_key_pem(), kFixturePublicKey);
    EXPECT_EQ(fixture_key().bits(), 2048);
}

TEST(Rsa, GeneratedKeyRoundTripsThroughPkcs8Pem) {
    const RsaPrivateKey& key = shared_key();
    EXPECT_EQ(key.bits(), 2048);
    const std::string pem = key.to_pem();
    EXPECT_TRUE(pem.starts_with("-----BEGIN PRIVATE KEY-----\n")) << pem.substr(0, 40);
    auto reloaded = RsaPrivateKey::from_pem(pem);
    ASSERT_TRUE(reloaded.has_value()) << reloaded.error().message;
    EXPECT_EQ(reloaded->to_pem(), pem);
    EXPECT_EQ(reloaded->public_key_pem(), key.public_key_pem());
    EXPECT_EQ(reloaded->sign(SignatureDigest::Sha256, "x").value(),
              key.sign(SignatureDigest::Sha256, "x").value());
}

TEST(Rsa, GeneratedKeysDiffer) {
    auto other = RsaPrivateKey::generate();
    ASSERT_TRUE(other.has_value()) << other.error().message;
    EXPECT_NE(other->public_key_pem(), shared_key().public_key_pem());
}

TEST(Rsa, GenerateRefusesWeakOrAbsurdSizes) {
    for (int bits : {0, 512, 1024, 2047, 8193, 1 << 20}) {
        auto key = RsaPrivateKey::generate(bits);
        ASSERT_FALSE(key.has_value()) << bits;
        EXPECT_EQ(key.error().code, ErrorCode::InvalidArgument);
    }
}

TEST(Rsa, SignAndVerifyThroughTheCertificate) {
    const RsaPrivateKey& key = shared_key();
    auto cert = key.self_signed_certificate_pem("sns.test.invalid", 30);
    ASSERT_TRUE(cert.has_value()) << cert.error().message;
    const std::string message = "Message\nhello\nType\nNotification\n";
    for (SignatureDigest digest : {SignatureDigest::Sha1, SignatureDigest::Sha256}) {
        auto signature = key.sign(digest, message);
        ASSERT_TRUE(signature.has_value()) << signature.error().message;
        EXPECT_EQ(signature->size(), 256u);
        EXPECT_TRUE(verifies(*cert, digest, message, *signature));
        EXPECT_TRUE(verifies(key.public_key_pem(), digest, message, *signature));

        // Any single changed byte of the message, or of the signature, fails.
        for (std::size_t i : {std::size_t{0}, message.size() / 2, message.size() - 1}) {
            std::string changed = message;
            changed[i] = static_cast<char>(changed[i] ^ 0x01);
            EXPECT_FALSE(verifies(*cert, digest, changed, *signature)) << i;
        }
        std::string bad_signature = *signature;
        bad_signature[100] = static_cast<char>(bad_signature[100] ^ 0x80);
        EXPECT_FALSE(verifies(*cert, digest, message, bad_signature));
        // Wrong lengths are a plain "no", not an error.
        EXPECT_FALSE(verifies(*cert, digest, message, signature->substr(0, 255)));
        EXPECT_FALSE(verifies(*cert, digest, message, ""));
        EXPECT_FALSE(verifies(*cert, digest, message + "", *signature + "x"));
    }
}

TEST(Rsa, AnotherKeysCertificateDoesNotVerify) {
    auto cert = fixture_key().self_signed_certificate_pem("other", 1);
    ASSERT_TRUE(cert.has_value());
    auto signature = shared_key().sign(SignatureDigest::Sha256, "payload");
    ASSERT_TRUE(signature.has_value());
    EXPECT_FALSE(verifies(*cert, SignatureDigest::Sha256, "payload", *signature));
}

TEST(Rsa, EmptyMessageSignsAndVerifies) {
    auto signature = shared_key().sign(SignatureDigest::Sha1, "");
    ASSERT_TRUE(signature.has_value());
    EXPECT_TRUE(verifies(shared_key().public_key_pem(), SignatureDigest::Sha1, "", *signature));
    EXPECT_FALSE(verifies(shared_key().public_key_pem(), SignatureDigest::Sha1, "\n", *signature));
}

TEST(Rsa, VerifyRejectsUnusableKeyText) {
    for (std::string_view pem :
         {std::string_view(""), std::string_view("not pem at all"),
          std::string_view("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
          std::string_view(kEcKey)}) {
        auto ok = rsa_verify(pem, SignatureDigest::Sha256, "m", std::string(256, 'x'));
        ASSERT_FALSE(ok.has_value()) << pem;
        EXPECT_EQ(ok.error().code, ErrorCode::CorruptInput);
    }
}

TEST(Rsa, FromPemRejectsWhatIsNotAUsableRsaKey) {
    const std::string good = shared_key().to_pem();
    std::string truncated = good.substr(0, good.size() / 2) + "\n-----END PRIVATE KEY-----\n";
    std::string bad_base64 = good;
    bad_base64[40] = '*';
    for (const std::string& pem :
         {std::string(), std::string("garbage"), truncated, bad_base64, std::string(kEcKey),
          std::string(kWeakKey1024), std::string(kEncryptedKey), std::string(kFixturePublicKey)}) {
        auto key = RsaPrivateKey::from_pem(pem);
        ASSERT_FALSE(key.has_value()) << pem;
        EXPECT_EQ(key.error().code, ErrorCode::CorruptInput) << pem;
        EXPECT_FALSE(key.error().message.empty());
    }
    auto weak = RsaPrivateKey::from_pem(kWeakKey1024);
    ASSERT_FALSE(weak.has_value());
    EXPECT_NE(weak.error().message.find("1024"), std::string::npos) << weak.error().message;
}

TEST(Rsa, FromPemCatchesADamagedNumberThatStillParses) {
    // Flip one byte inside the last INTEGER (the CRT coefficient) of the PKCS#1 DER: the PEM and
    // the DER stay well-formed, only the key's arithmetic is broken.
    std::string body;
    for (std::string_view rest = kFixtureKeyPkcs1; !rest.empty();) {
        const auto eol = rest.find('\n');
        const std::string_view line = rest.substr(0, eol);
        if (!line.starts_with("-----")) {
            body += line;
        }
        rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
    }
    std::string der = decode(body);
    ASSERT_GT(der.size(), 100u);
    der[der.size() - 20] = static_cast<char>(der[der.size() - 20] ^ 0x10);
    const std::string damaged = "-----BEGIN RSA PRIVATE KEY-----\n" + base64_encode(der) +
                                "\n-----END RSA PRIVATE KEY-----\n";
    auto key = RsaPrivateKey::from_pem(damaged);
    ASSERT_FALSE(key.has_value());
    EXPECT_EQ(key.error().code, ErrorCode::CorruptInput);
    EXPECT_NE(key.error().message.find("consistency"), std::string::npos) << key.error().message;
}

TEST(Rsa, SelfSignedCertificateCarriesNameValidityAndKey) {
    const auto before = std::chrono::system_clock::now();
    auto pem = shared_key().self_signed_certificate_pem("photoflux SNS", 365);
    ASSERT_TRUE(pem.has_value()) << pem.error().message;
    EXPECT_TRUE(pem->starts_with("-----BEGIN CERTIFICATE-----\n"));
    auto info = parse_certificate(*pem);
    ASSERT_TRUE(info.has_value()) << info.error().message;
    EXPECT_EQ(info->common_name, "photoflux SNS");
    ASSERT_GT(info->der.size(), 500u);
    EXPECT_EQ(static_cast<unsigned char>(info->der[0]), 0x30);  // a DER SEQUENCE
    // Backdated an hour for clock skew; expires `days` from now (second resolution).
    using std::chrono::hours;
    EXPECT_LE(info->not_before, before - hours(1) + std::chrono::seconds(5));
    EXPECT_GE(info->not_before, before - hours(1) - std::chrono::seconds(5));
    EXPECT_GE(info->not_after, before + hours(24 * 365) - std::chrono::seconds(5));
    EXPECT_LE(info->not_after, std::chrono::system_clock::now() + hours(24 * 365));

    EXPECT_TRUE(shared_key().matches_certificate(*pem).value());
    EXPECT_FALSE(fixture_key().matches_certificate(*pem).value());
}

TEST(Rsa, CertificatesGetFreshSerials) {
    auto a = shared_key().self_signed_certificate_pem("same", 10);
    auto b = shared_key().self_signed_certificate_pem("same", 10);
    ASSERT_TRUE(a.has_value() && b.has_value());
    // Same key, name and (almost surely) second: only the serial (and so the signature) differs.
    EXPECT_NE(parse_certificate(*a)->der, parse_certificate(*b)->der);
}

TEST(Rsa, CertificateCommonNameMayBeUnicode) {
    auto pem = shared_key().self_signed_certificate_pem("Fotofluss \xC3\x9C"
                                                        "bersicht",
                                                        1);
    ASSERT_TRUE(pem.has_value()) << pem.error().message;
    EXPECT_EQ(parse_certificate(*pem)->common_name, "Fotofluss \xC3\x9C"
                                                    "bersicht");
}

TEST(Rsa, CertificateRejectsBadParameters) {
    struct Case {
        std::string common_name;
        int days;
    };
    for (const Case& c : {Case{"", 10}, Case{std::string(65, 'a'), 10}, Case{"ok", 0},
                          Case{"ok", -1}, Case{"ok", 36501}, Case{"bad \xFF utf8", 10}}) {
        auto pem = shared_key().self_signed_certificate_pem(c.common_name, c.days);
        ASSERT_FALSE(pem.has_value()) << c.common_name << " " << c.days;
        EXPECT_EQ(pem.error().code, ErrorCode::InvalidArgument);
    }
    EXPECT_TRUE(shared_key().self_signed_certificate_pem(std::string(64, 'a'), 36500).has_value());
}

TEST(Rsa, ParseCertificateRejectsNonCertificates) {
    for (std::string_view pem : {std::string_view(""), std::string_view(kFixturePublicKey),
                                 std::string_view("-----BEGIN CERTIFICATE-----\nMIIB\n"
                                                  "-----END CERTIFICATE-----\n")}) {
        auto info = parse_certificate(pem);
        ASSERT_FALSE(info.has_value());
        EXPECT_EQ(info.error().code, ErrorCode::CorruptInput);
        auto matches = shared_key().matches_certificate(pem);
        ASSERT_FALSE(matches.has_value());
        EXPECT_EQ(matches.error().code, ErrorCode::CorruptInput);
    }
}

TEST(Rsa, KeysMove) {
    RsaPrivateKey key = RsaPrivateKey::from_pem(kFixtureKeyPkcs1).value();
    RsaPrivateKey moved = std::move(key);
    EXPECT_EQ(moved.public_key_pem(), kFixturePublicKey);
    RsaPrivateKey other = RsaPrivateKey::from_pem(shared_key().to_pem()).value();
    other = std::move(moved);
    EXPECT_EQ(other.public_key_pem(), kFixturePublicKey);
    EXPECT_EQ(base64_encode(other.sign(SignatureDigest::Sha256, kFixtureMessage).value()),
              kFixtureSha256SignatureBase64);
}

TEST(Rsa, OneKeySignsFromManyThreadsAtOnce) {
    const RsaPrivateKey& key = fixture_key();
    std::vector<std::string> signatures(4);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < signatures.size(); ++t) {
        threads.emplace_back([&key, &signatures, t] {
            for (int i = 0; i < 10; ++i) {
                signatures[t] = key.sign(SignatureDigest::Sha256, kFixtureMessage).value();
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    for (const std::string& signature : signatures) {
        EXPECT_EQ(base64_encode(signature), kFixtureSha256SignatureBase64);
    }
}

}  // namespace
}  // namespace pf::crypto
