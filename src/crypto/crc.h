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

}  // namespace pf::crypto
