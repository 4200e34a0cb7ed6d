// Message digests (MD5 for S3 ETags and Content-MD5, SHA-1 and SHA-256 for checksums and SigV4) and
// HMAC-SHA256, incremental so a streamed body is hashed as it passes. OpenSSL stays behind this
// header: nothing outside crypto/ includes it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace pf::crypto {

template <std::size_t N>
using Digest = std::array<std::uint8_t, N>;

// One incremental hash. Movable, not copyable. finish() may be called once.
template <std::size_t N>
class Hasher {
public:
    Hasher(Hasher&&) noexcept;
    Hasher& operator=(Hasher&&) noexcept;
    ~Hasher();
    void update(std::string_view bytes);
    Digest<N> finish();

protected:
    struct State;
    explicit Hasher(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

// Defined for these sizes only, in digest.cc (where OpenSSL is).
extern template class Hasher<16>;
extern template class Hasher<20>;
extern template class Hasher<32>;

class Md5 : public Hasher<16> {
public:
    Md5();
};
class Sha1 : public Hasher<20> {
public:
    Sha1();
};
class Sha256 : public Hasher<32> {
public:
    Sha256();
};

Digest<16> md5(std::string_view bytes);
Digest<20> sha1(std::string_view bytes);
Digest<32> sha256(std::string_view bytes);
Digest<32> hmac_sha256(std::string_view key, std::string_view message);

// Convenience for SigV4: lowercase hex of SHA-256.
std::string sha256_hex(std::string_view bytes);

} // namespace pf::crypto
