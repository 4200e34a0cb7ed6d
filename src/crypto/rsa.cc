#include "crypto/rsa.h"

#include "base/check.h"
#include "crypto/random.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <utility>

namespace pf::crypto {
namespace {

// unique_ptr deleters for OpenSSL's C objects, so every early return frees what it made.
template <auto Free>
struct Freer {
    template <typename T>
    void operator()(T* p) const {
        Free(p);
    }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Freer<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Freer<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Freer<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Freer<X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Freer<X509_EXTENSION_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Freer<BN_free>>;

constexpr int kMinBits = 2048;
constexpr int kMaxBits = 8192;
// A PEM key or certificate is a few KB; anything far larger is not one (and BIO lengths are int).
constexpr std::size_t kMaxPemBytes = 1u << 20;

// Drains OpenSSL's per-thread error queue into one line, so a failure here never leaves stale
// entries behind to confuse the next caller on this thread.
std::string openssl_errors() {
    std::string out;
    while (const unsigned long code = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        if (!out.empty()) {
            out += "; ";
        }
        out += buf;
    }
    return out.empty() ? std::string("no OpenSSL detail") : out;
}

Error openssl_error(ErrorCode code, const std::string& what) {
    return make_error(code, what + ": " + openssl_errors());
}

const char* digest_name(SignatureDigest digest) {
    return digest == SignatureDigest::Sha1 ? "SHA1" : "SHA256";
}

const unsigned char* bytes_of(std::string_view text) {
    static constexpr unsigned char kEmpty = 0;
    // Some OpenSSL entry points reject a null pointer even with a zero length.
    return text.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(text.data());
}

// A read-only memory BIO over `pem` (no copy). Null when too large to be a PEM object.
BioPtr read_bio(std::string_view pem) {
    if (pem.size() > kMaxPemBytes) {
        return nullptr;
    }
    BioPtr bio(BIO_new_mem_buf(bytes_of(pem), static_cast<int>(pem.size())));
    PF_CHECK(bio != nullptr);
    return bio;
}

std::string bio_contents(BIO* bio) {
    char* data = nullptr;
    const long size = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data);
    PF_CHECK(size >= 0 && (size == 0 || data != nullptr));
    return std::string(data == nullptr ? "" : data, static_cast<std::size_t>(size));
}

// Refuses encrypted PEMs instead of OpenSSL's default of prompting on the terminal.
int no_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*user*/) {
    return -1;
}

X509Ptr read_certificate(std::string_view pem) {
    BioPtr bio = read_bio(pem);
    if (bio == nullptr) {
        return nullptr;
    }
    return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
}

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* time, bool& ok) {
    std::tm tm{};
    if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
        ok = false;
        return {};
    }
    return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

Result<void> add_extension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
    ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
    if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
        return openssl_error(ErrorCode::Internal, std::string("cannot add extension ") + value);
    }
    return {};
}

}  // namespace

struct RsaPrivateKey::State {
    PkeyPtr pkey;
};

RsaPrivateKey::RsaPrivateKey(std::unique_ptr<State> state) : state_(std::move(state)) {}
RsaPrivateKey::RsaPrivateKey(RsaPrivateKey&&) noexcept = default;
RsaPrivateKey& RsaPrivateKey::operator=(RsaPrivateKey&&) noexcept = default;
RsaPrivateKey::~RsaPrivateKey() = default;

Result<RsaPrivateKey> RsaPrivateKey::generate(int bits) {
    if (bits < kMinBits || bits > kMaxBits) {
        return make_error(ErrorCode::InvalidArgument,
                          "RSA key size " + std::to_string(bits) + " is outside " +
                              std::to_string(kMinBits) + ".." + std::to_string(kMaxBits));
    }
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    EVP_PKEY* raw = nullptr;
    if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) != 1 ||
        EVP_PKEY_generate(ctx.get(), &raw) != 1) {
        EVP_PKEY_free(raw);
        return openssl_error(ErrorCode::Internal, "RSA key generation failed");
    }
    auto state = std::make_unique<State>();
    state->pkey.reset(raw);
    return RsaPrivateKey(std::move(state));
}

Result<RsaPrivateKey> RsaPrivateKey::from_pem(std::string_view pem) {
    BioPtr bio = read_bio(pem);
    if (bio == nullptr) {
        return make_error(ErrorCode::CorruptInput, "private key PEM is larger than any key");
    }
    PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
    if (pkey == nullptr) {
        return openssl_error(ErrorCode::CorruptInput, "not an unencrypted private key PEM");
    }
    if (EVP_PKEY_is_a(pkey.get(), "RSA") != 1) {
        return make_error(ErrorCode::CorruptInput, std::string("private key is ") +
                                                       EVP_PKEY_get0_type_name(pkey.get()) +
                                                       ", not RSA");
    }
    const int bits = EVP_PKEY_get_bits(pkey.get());
    if (bits < kMinBits) {
        return make_error(ErrorCode::CorruptInput, "RSA key of " + std::to_string(bits) +
                                                       " bits is too weak (at least " +
                                                       std::to_string(kMinBits) + " required)");
    }
    // A PEM whose base64 still decodes can carry a damaged number: the pairwise check (n = p*q,
    // d inverts e, ...) catches it here rather than as signatures nobody can verify.
    PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (check == nullptr || EVP_PKEY_check(check.get()) != 1) {
        return openssl_error(ErrorCode::CorruptInput,
                             "RSA private key fails its consistency check");
    }
    // Decoders that were tried and did not match leave entries behind even on success.
    ERR_clear_error();
    auto state = std::make_unique<State>();
    state->pkey = std::move(pkey);
    return RsaPrivateKey(std::move(state));
}

std::string RsaPrivateKey::to_pem() const {
    PF_CHECK(state_ != nullptr);
    // Secure-memory BIO: the buffer holding the key text is wiped when it is freed.
    BioPtr bio(BIO_new(BIO_s_secmem()));
    PF_CHECK(bio != nullptr);
    PF_CHECK(PEM_write_bio_PrivateKey(bio.get(), state_->pkey.get(), nullptr, nullptr, 0, nullptr,
                                      nullptr) == 1);
    return bio_contents(bio.get());
}

std::string RsaPrivateKey::public_key_pem() const {
    PF_CHECK(state_ != nullptr);
    BioPtr bio(BIO_new(BIO_s_mem()));
    PF_CHECK(bio != nullptr);
    PF_CHECK(PEM_write_bio_PUBKEY(bio.get(), state_->pkey.get()) == 1);
    return bio_contents(bio.get());
}

int RsaPrivateKey::bits() const {
    PF_CHECK(state_ != nullptr);
    return EVP_PKEY_get_bits(state_->pkey.get());
}

Result<std::string> RsaPrivateKey::sign(SignatureDigest digest, std::string_view message) const {
    PF_CHECK(state_ != nullptr);
    MdCtxPtr ctx(EVP_MD_CTX_new());
    PF_CHECK(ctx != nullptr);
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    if (EVP_DigestSignInit_ex(ctx.get(), &pctx, digest_name(digest), nullptr, nullptr,
                              state_->pkey.get(), nullptr) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
        return openssl_error(ErrorCode::Internal, "cannot start RSA signature");
    }
    std::string signature(static_cast<std::size_t>(EVP_PKEY_get_size(state_->pkey.get())), '\0');
    std::size_t size = signature.size();
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                       bytes_of(message), message.size()) != 1) {
        return openssl_error(ErrorCode::Internal, "RSA signature failed");
    }
    signature.resize(size);
    return signature;
}

Result<std::string> RsaPrivateKey::self_signed_certificate_pem(std::string_view common_name,
                                                               int validity_days) const {
    PF_CHECK(state_ != nullptr);
    // 64 is the X.520 upper bound on a common name.
    if (common_name.empty() || common_name.size() > 64) {
        return make_error(ErrorCode::InvalidArgument,
                          "certificate common name must be 1 to 64 bytes, got " +
                              std::to_string(common_name.size()));
    }
    if (validity_days < 1 || validity_days > 36500) {
        return make_error(ErrorCode::InvalidArgument, "certificate validity of " +
                                                          std::to_string(validity_days) +
                                                          " days is outside 1..36500");
    }
    X509Ptr cert(X509_new());
    PF_CHECK(cert != nullptr);

    // Positive (top bit clear) and never zero (next bit set), as RFC 5280 asks of serials.
    std::string serial = random_bytes(16);
    serial[0] = static_cast<char>((static_cast<unsigned char>(serial[0]) & 0x7F) | 0x40);
    BignumPtr serial_bn(BN_bin2bn(bytes_of(serial), static_cast<int>(serial.size()), nullptr));
    if (serial_bn == nullptr ||
        BN_to_ASN1_INTEGER(serial_bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
        return openssl_error(ErrorCode::Internal, "cannot set certificate serial");
    }

    constexpr long kBackdateSeconds = 3600;
    X509_NAME* name = X509_get_subject_name(cert.get());  // owned by cert
    if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) == nullptr ||
        X509_time_adj_ex(X509_getm_notAfter(cert.get()), validity_days, 0, nullptr) == nullptr ||
        X509_set_pubkey(cert.get(), state_->pkey.get()) != 1) {
        return openssl_error(ErrorCode::Internal, "cannot fill in certificate");
    }
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, bytes_of(common_name),
                                   static_cast<int>(common_name.size()), -1, 0) != 1) {
        return openssl_error(ErrorCode::InvalidArgument, "certificate common name is not UTF-8");
    }
    if (X509_set_issuer_name(cert.get(), name) != 1) {
        return openssl_error(ErrorCode::Internal, "cannot set certificate issuer");
    }

    X509V3_CTX v3{};
    X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
    // A leaf that signs messages: it must not be usable as a CA to mint other certificates.
    for (const auto& [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                                     std::pair{NID_key_usage, "critical,digitalSignature"},
                                     std::pair{NID_subject_key_identifier, "hash"}}) {
        if (auto added = add_extension(cert.get(), &v3, nid, value); !added) {
            return added.error();
        }
    }

    if (X509_sign(cert.get(), state_->pkey.get(), EVP_sha256()) <= 0) {
        return openssl_error(ErrorCode::Internal, "cannot sign certificate");
    }
    BioPtr bio(BIO_new(BIO_s_mem()));
    PF_CHECK(bio != nullptr);
    PF_CHECK(PEM_write_bio_X509(bio.get(), cert.get()) == 1);
    return bio_contents(bio.get());
}

Result<bool> RsaPrivateKey::matches_certificate(std::string_view certificate_pem) const {
    PF_CHECK(state_ != nullptr);
    X509Ptr cert = read_certificate(certificate_pem);
    if (cert == nullptr) {
        return openssl_error(ErrorCode::CorruptInput, "not a certificate PEM");
    }
    const EVP_PKEY* public_key = X509_get0_pubkey(cert.get());  // owned by cert
    if (public_key == nullptr) {
        return openssl_error(ErrorCode::CorruptInput, "certificate has no usable public key");
    }
    return EVP_PKEY_eq(public_key, state_->pkey.get()) == 1;
}

Result<bool> rsa_verify(std::string_view public_pem, SignatureDigest digest,
                        std::string_view message, std::string_view signature) {
    PkeyPtr key;
    if (public_pem.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
        X509Ptr cert = read_certificate(public_pem);
        if (cert == nullptr) {
            return openssl_error(ErrorCode::CorruptInput, "not a certificate PEM");
        }
        key.reset(X509_get_pubkey(cert.get()));  // a new reference: outlives cert
    } else if (BioPtr bio = read_bio(public_pem); bio != nullptr) {
        key.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
    }
    if (key == nullptr) {
        return openssl_error(ErrorCode::CorruptInput, "no public key in PEM");
    }
    if (EVP_PKEY_is_a(key.get(), "RSA") != 1) {
        return make_error(ErrorCode::CorruptInput, "public key is not RSA");
    }
    MdCtxPtr ctx(EVP_MD_CTX_new());
    PF_CHECK(ctx != nullptr);
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    if (EVP_DigestVerifyInit_ex(ctx.get(), &pctx, digest_name(digest), nullptr, nullptr, key.get(),
                                nullptr) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
        return openssl_error(ErrorCode::Internal, "cannot start RSA verification");
    }
    const int rc = EVP_DigestVerify(ctx.get(), bytes_of(signature), signature.size(),
                                    bytes_of(message), message.size());
    // A mismatch (0) or a malformed signature (<0) both leave errors queued; they are not ours
    // to report beyond "does not verify".
    ERR_clear_error();
    return rc == 1;
}

Result<CertificateInfo> parse_certificate(std::string_view certificate_pem) {
    X509Ptr cert = read_certificate(certificate_pem);
    if (cert == nullptr) {
        return openssl_error(ErrorCode::CorruptInput, "not a certificate PEM");
    }
    CertificateInfo info;
    const int der_size = i2d_X509(cert.get(), nullptr);
    if (der_size <= 0) {
        return openssl_error(ErrorCode::CorruptInput, "cannot encode certificate");
    }
    info.der.resize(static_cast<std::size_t>(der_size));
    auto* out = reinterpret_cast<unsigned char*>(info.der.data());
    PF_CHECK(i2d_X509(cert.get(), &out) == der_size);

    const X509_NAME* subject = X509_get_subject_name(cert.get());
    if (const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); index >= 0) {
        const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
        unsigned char* utf8 = nullptr;
        const int size = ASN1_STRING_to_UTF8(&utf8, data);
        if (size < 0) {
            return openssl_error(ErrorCode::CorruptInput, "certificate common name is malformed");
        }
        info.common_name.assign(reinterpret_cast<const char*>(utf8),
                                static_cast<std::size_t>(size));
        OPENSSL_free(utf8);
    }

    bool ok = true;
    info.not_before = to_time_point(X509_get0_notBefore(cert.get()), ok);
    info.not_after = to_time_point(X509_get0_notAfter(cert.get()), ok);
    if (!ok) {
        return openssl_error(ErrorCode::CorruptInput, "certificate validity dates are malformed");
    }
    return info;
}

}  // namespace pf::crypto
