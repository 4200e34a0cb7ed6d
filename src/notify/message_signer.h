// The signing identity of the built-in SNS service: one RSA key and its self-signed certificate,
// kept on disk so that a receiver that fetched the certificate once can go on verifying messages
// after a restart, and the SHA1withRSA / SHA256withRSA signatures of SignatureVersion 1 and 2.
//
// Files in the state directory (created on first start, never replaced silently afterwards):
//   sns-signing-key.pem   PKCS#8 private key, mode 0600
//   sns-signing-cert.pem  the certificate served at SigningCertURL
// A damaged, mismatched or expired pair is an error naming the files and what to do: quietly
// minting a new key would break every receiver that verifies against the certificate it has.
#pragma once

#include "base/result.h"
#include "crypto/rsa.h"

#include <filesystem>
#include <string>
#include <string_view>

namespace pf::notify {

class MessageSigner {
public:
    static constexpr std::string_view kKeyFileName = "sns-signing-key.pem";
    static constexpr std::string_view kCertificateFileName = "sns-signing-cert.pem";
    // Ten years: long enough never to surprise an operator, short enough to be a real bound.
    static constexpr int kCertificateValidityDays = 3650;

    // Loads the pair from `dir`, or generates it there when neither file exists (each file
    // written temp -> fsync -> rename -> fsync(dir)). When only the key exists (a first start
    // that stopped between the two writes) the certificate is made for that key. Errors:
    // CorruptInput for an unreadable or inconsistent file or a certificate that belongs to another
    // key, PreconditionFailed for a certificate without its key or an expired certificate, and the
    // file-system's error when the directory cannot be written. Safe against another process
    // doing the same at the same time (a lock file in `dir` serialises them). `common_name` is
    // the subject of a certificate made now; an existing certificate is kept whatever its name.
    static Result<MessageSigner> load_or_create(const std::filesystem::path& dir,
                                                std::string_view common_name);

    // The same checks on an in-memory pair (tools, tests).
    static Result<MessageSigner> from_pem(std::string_view key_pem,
                                          std::string_view certificate_pem);

    MessageSigner(MessageSigner&&) noexcept = default;
    MessageSigner& operator=(MessageSigner&&) noexcept = default;
    MessageSigner(const MessageSigner&) = delete;
    MessageSigner& operator=(const MessageSigner&) = delete;
    ~MessageSigner() = default;

    // The certificate as PEM: the body served at SigningCertURL.
    const std::string& certificate_pem() const { return certificate_pem_; }
    // "SimpleNotificationService-<first 32 hex digits of SHA-256 of the certificate DER>.pem",
    // the last path segment of SigningCertURL. Changes whenever the certificate does, so a
    // receiver that caches certificates by URL never uses a stale one.
    const std::string& certificate_file_name() const { return certificate_file_name_; }

    // base64 of the PKCS#1 v1.5 signature of `string_to_sign`: SignatureVersion 1 = SHA1withRSA,
    // 2 = SHA256withRSA; InvalidArgument for any other version. Thread-safe.
    Result<std::string> sign_base64(int signature_version, std::string_view string_to_sign) const;

private:
    MessageSigner(crypto::RsaPrivateKey key, std::string certificate_pem,
                  std::string certificate_file_name);

    crypto::RsaPrivateKey key_;
    std::string certificate_pem_;
    std::string certificate_file_name_;
};

}  // namespace pf::notify
