#include "crypto/digest.h"

#include "base/check.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <limits>

namespace pf::crypto {
namespace {

// OpenSSL 3 looks an algorithm up in its provider tables on every implicit fetch (EVP_sha256()
// passed to EVP_DigestInit_ex), which takes locks. SigV4 hashes a few short strings per request
// and per chunk, so each algorithm is fetched once and the handle kept for the process lifetime.
const EVP_MD* fetched(const char* name) {
    const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
    PF_CHECK(md != nullptr); // the default provider always has MD5, SHA1 and SHA256
    return md;
}

const EVP_MD* md5_md() {
    static const EVP_MD* const md = fetched("MD5");
    return md;
}
const EVP_MD* sha1_md() {
    static const EVP_MD* const md = fetched("SHA1");
    return md;
}
const EVP_MD* sha256_md() {
    static const EVP_MD* const md = fetched("SHA256");
    return md;
}

} // namespace

template <std::size_t N>
struct Hasher<N>::State {
    explicit State(const EVP_MD* md) : ctx(EVP_MD_CTX_new()) {
        PF_CHECK(ctx != nullptr);
        PF_CHECK(EVP_DigestInit_ex(ctx, md, nullptr) == 1);
        PF_CHECK(static_cast<std::size_t>(EVP_MD_get_size(md)) == N);
    }
    ~State() { EVP_MD_CTX_free(ctx); }
    State(const State&) = delete;
    State& operator=(const State&) = delete;

    EVP_MD_CTX* ctx;
    bool finished = false;
};

template <std::size_t N>
Hasher<N>::Hasher(std::unique_ptr<State> state) : state_(std::move(state)) {}

template <std::size_t N>
Hasher<N>::Hasher(Hasher&&) noexcept = default;

template <std::size_t N>
Hasher<N>& Hasher<N>::operator=(Hasher&&) noexcept = default;

template <std::size_t N>
Hasher<N>::~Hasher() = default;

template <std::size_t N>
void Hasher<N>::update(std::string_view bytes) {
    PF_CHECK(state_ != nullptr && !state_->finished);
    if (bytes.empty()) {
        return;
    }
    PF_CHECK(EVP_DigestUpdate(state_->ctx, bytes.data(), bytes.size()) == 1);
}

template <std::size_t N>
Digest<N> Hasher<N>::finish() {
    PF_CHECK(state_ != nullptr && !state_->finished);
    Digest<N> out{};
    unsigned int size = 0;
    PF_CHECK(EVP_DigestFinal_ex(state_->ctx, out.data(), &size) == 1);
    PF_CHECK(size == N);
    state_->finished = true;
    return out;
}

template class Hasher<16>;
template class Hasher<20>;
template class Hasher<32>;

Md5::Md5() : Hasher<16>(std::make_unique<State>(md5_md())) {}
Sha1::Sha1() : Hasher<20>(std::make_unique<State>(sha1_md())) {}
Sha256::Sha256() : Hasher<32>(std::make_unique<State>(sha256_md())) {}

namespace {

template <std::size_t N>
Digest<N> one_shot(const EVP_MD* md, std::string_view bytes) {
    Digest<N> out{};
    unsigned int size = 0;
    // EVP_Digest avoids the per-call context allocation of an incremental hasher.
    PF_CHECK(EVP_Digest(bytes.data(), bytes.size(), out.data(), &size, md, nullptr) == 1);
    PF_CHECK(size == N);
    return out;
}

} // namespace

Digest<16> md5(std::string_view bytes) {
    return one_shot<16>(md5_md(), bytes);
}
Digest<20> sha1(std::string_view bytes) {
    return one_shot<20>(sha1_md(), bytes);
}
Digest<32> sha256(std::string_view bytes) {
    return one_shot<32>(sha256_md(), bytes);
}

Digest<32> hmac_sha256(std::string_view key, std::string_view message) {
    PF_CHECK(key.size() <= static_cast<std::size_t>(std::numeric_limits<int>::max()));
    Digest<32> out{};
    unsigned int size = 0;
    // HMAC() with an empty key still needs a non-null pointer on some OpenSSL versions.
    static constexpr unsigned char kNoKey = 0;
    const void* key_ptr = key.empty() ? static_cast<const void*>(&kNoKey) : key.data();
    const unsigned char* message_ptr =
        message.empty() ? &kNoKey : reinterpret_cast<const unsigned char*>(message.data());
    PF_CHECK(HMAC(sha256_md(), key_ptr, static_cast<int>(key.size()), message_ptr, message.size(),
                  out.data(), &size) != nullptr);
    PF_CHECK(size == 32);
    return out;
}

std::string sha256_hex(std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    const Digest<32> digest = sha256(bytes);
    std::string out(64, '\0');
    for (std::size_t i = 0; i < digest.size(); ++i) {
        out[2 * i] = kHex[digest[i] >> 4];
        out[2 * i + 1] = kHex[digest[i] & 0x0F];
    }
    return out;
}

} // namespace pf::crypto
