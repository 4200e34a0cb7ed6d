// The CRC family S3 uses for flexible checksums: CRC32 (IEEE/zlib), CRC32C (Castagnoli) and
// CRC64/NVME. Incremental; value() is the finished (xor-out applied) checksum.
#pragma once

#include <cstdint>
#include <string_view>

namespace pf::crypto {

class Crc32 {
public:
    void update(std::string_view bytes);
    std::uint32_t value() const { return crc_; }

private:
    std::uint32_t crc_ = 0;
};

class Crc32c {
public:
    void update(std::string_view bytes);
    std::uint32_t value() const;

private:
    std::uint32_t state_ = 0xFFFFFFFFu;
};

class Crc64Nvme {
public:
    void update(std::string_view bytes);
    std::uint64_t value() const;

private:
    std::uint64_t state_ = ~std::uint64_t{0};
};

// CRC of A||B from the finished CRCs of A and B and the length of B, without the bytes: how a
// multipart upload's FULL_OBJECT checksum is derived from its parts' checksums.
std::uint32_t crc32_combine(std::uint32_t crc_a, std::uint32_t crc_b, std::uint64_t length_b);
std::uint32_t crc32c_combine(std::uint32_t crc_a, std::uint32_t crc_b, std::uint64_t length_b);
std::uint64_t crc64nvme_combine(std::uint64_t crc_a, std::uint64_t crc_b, std::uint64_t length_b);

namespace detail {
// The two CRC32C implementations, exposed so tests can hold them against each other. `state` is
// the running (not yet inverted) register.
std::uint32_t crc32c_portable(std::uint32_t state, std::string_view bytes);
// Only callable when crc32c_hardware_available().
std::uint32_t crc32c_hardware(std::uint32_t state, std::string_view bytes);
bool crc32c_hardware_available();
} // namespace detail

} // namespace pf::crypto
