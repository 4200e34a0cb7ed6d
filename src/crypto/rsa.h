// RSA keys, PKCS#1 v1.5 signatures and self-signed X.509 certificates: what a self-hosted SNS
// needs to sign its HTTP and e-mail-json deliveries the way Amazon SNS does, and what tests and
// tools need to verify them. OpenSSL stays behind this header: keys are an opaque handle,
// everything else crosses the boundary as PEM text or raw bytes in std::string.
#pragma once

#include "base/result.h"

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace pf::crypto {

// The hash inside a PKCS#1 v1.5 signature: SNS SignatureVersion 1 is SHA1withRSA, 2 is
// SHA256withRSA.
enum class SignatureDigest { Sha1, Sha256 };

// An RSA private key (which holds its public half). Movable, not copyable; a moved-from key may
// only be destroyed or assigned to. Const members are safe to call from several threads at once.
class RsaPrivateKey {
public:
    // A fresh key from the CSPRNG. `bits` must be 2048..8192 (InvalidArgument otherwise).
    static Result<RsaPrivateKey> generate(int bits = 2048);
    // PKCS#8 ("BEGIN PRIVATE KEY") or PKCS#1 ("BEGIN RSA PRIVATE KEY") PEM, unencrypted. The key
    // is checked for consistency (a flipped bit in any component is caught), must be RSA and at
    // least 2048 bits. CorruptInput when it is not a usable key; an encrypted PEM is refused
    // rather than prompting for a passphrase.
    static Result<RsaPrivateKey> from_pem(std::string_view pem);

    RsaPrivateKey(RsaPrivateKey&&) noexcept;
    RsaPrivateKey& operator=(RsaPrivateKey&&) noexcept;
    ~RsaPrivateKey();

    // Unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"). Secret: never log it.
    std::string to_pem() const;
    // SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----").
    std::string public_key_pem() const;
    int bits() const;

    // Raw PKCS#1 v1.5 signature bytes (bits()/8 of them) over `message`, hashed with `digest`.
    Result<std::string> sign(SignatureDigest digest, std::string_view message) const;

    // A self-signed X.509 v3 certificate for this key, as PEM: subject = issuer = CN=common_name,
    // random positive 16-byte serial (126 random bits), SHA-256, basicConstraints CA:FALSE and
    // keyUsage digitalSignature. Valid until `validity_days` from now, and from one hour ago so a
    // verifier whose clock runs a little behind accepts it at once. InvalidArgument when
    // common_name is empty, over 64 bytes or not UTF-8, or validity_days is outside 1..36500.
    Result<std::string> self_signed_certificate_pem(std::string_view common_name,
                                                    int validity_days) const;

    // Whether the certificate (PEM) carries this key's public half. CorruptInput when the PEM is
    // not a certificate.
    Result<bool> matches_certificate(std::string_view certificate_pem) const;

private:
    struct State;
    explicit RsaPrivateKey(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

// Checks a PKCS#1 v1.5 RSA signature over `message` against the public key in `public_pem`,
// which is either a certificate ("BEGIN CERTIFICATE") or a public key ("BEGIN PUBLIC KEY").
// false when the signature does not match (including a signature of the wrong length);
// CorruptInput when `public_pem` holds no usable RSA public key.
Result<bool> rsa_verify(std::string_view public_pem, SignatureDigest digest,
                        std::string_view message, std::string_view signature);

// What a caller needs to know about a certificate without touching OpenSSL.
struct CertificateInfo {
    std::string der;          // the DER encoding (what certificate fingerprints hash)
    std::string common_name;  // the subject's CN, UTF-8; empty when there is none
    std::chrono::system_clock::time_point not_before;
    std::chrono::system_clock::time_point not_after;
};

// Parses the first certificate in a PEM text. CorruptInput when there is none or it is malformed.
Result<CertificateInfo> parse_certificate(std::string_view certificate_pem);

}  // namespace pf::crypto
