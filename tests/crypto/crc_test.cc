#include "crypto/crc.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace pf::crypto {
namespace {

// Bit-at-a-time references, written straight from the definitions, to hold the table-driven and
// hardware implementations against.
template <typename T>
T reference_crc(std::string_view data, T reflected_poly) {
    T crc = ~T{0};
    for (const char ch : data) {
        crc ^= static_cast<unsigned char>(ch);
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc & 1) != 0 ? static_cast<T>((crc >> 1) ^ reflected_poly)
                                 : static_cast<T>(crc >> 1);
        }
    }
    return static_cast<T>(~crc);
}

std::uint32_t ref_crc32(std::string_view d) {
    return reference_crc<std::uint32_t>(d, 0xEDB88320u);
}
std::uint32_t ref_crc32c(std::string_view d) {
    return reference_crc<std::uint32_t>(d, 0x82F63B78u);
}
std::uint64_t ref_crc64(std::string_view d) {
    return reference_crc<std::uint64_t>(d, 0x9A6C9329AC4BC9B5ull);
}

template <typename Crc>
auto crc_of(std::string_view data) {
    Crc crc;
    crc.update(data);
    return crc.value();
}

std::string pseudo_random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string out(n, '\0');
    for (char& c : out) {
        c = static_cast<char>(rng() & 0xFF);
    }
    return out;
}

TEST(Crc, CheckValuesFor123456789) {
    EXPECT_EQ(crc_of<Crc32>("123456789"), 0xCBF43926u);
    EXPECT_EQ(crc_of<Crc32c>("123456789"), 0xE3069283u);
    EXPECT_EQ(crc_of<Crc64Nvme>("123456789"), 0xAE8B14860A799888ull);
}

TEST(Crc, EmptyInputIsZero) {
    EXPECT_EQ(crc_of<Crc32>(""), 0u);
    EXPECT_EQ(crc_of<Crc32c>(""), 0u);
    EXPECT_EQ(crc_of<Crc64Nvme>(""), 0u);
    EXPECT_EQ(Crc32{}.value(), 0u);
    EXPECT_EQ(Crc32c{}.value(), 0u);
    EXPECT_EQ(Crc64Nvme{}.value(), 0u);
}

TEST(Crc, MatchesBitwiseReferenceAtEveryLengthAndAlignment) {
    const std::string data = pseudo_random_bytes(400, 3);
    for (std::size_t offset = 0; offset < 8; ++offset) {
        for (std::size_t length = 0; length + offset <= 300; ++length) {
            const std::string_view piece(data.data() + offset, length);
            ASSERT_EQ(crc_of<Crc32>(piece), ref_crc32(piece)) << offset << "/" << length;
            ASSERT_EQ(crc_of<Crc32c>(piece), ref_crc32c(piece)) << offset << "/" << length;
            ASSERT_EQ(crc_of<Crc64Nvme>(piece), ref_crc64(piece)) << offset << "/" << length;
        }
    }
}

TEST(Crc, IncrementalUpdatesEqualOneShot) {
    const std::string data = pseudo_random_bytes(1 << 20, 5);
    std::mt19937 rng(9);
    Crc32 a;
    Crc32c b;
    Crc64Nvme c;
    std::size_t pos = 0;
    while (pos < data.size()) {
        const std::size_t piece = std::min<std::size_t>(rng() % 70'000, data.size() - pos);
        const std::string_view part(data.data() + pos, piece);
        a.update(part);
        b.update(part);
        c.update(part);
        pos += piece;
    }
    EXPECT_EQ(a.value(), ref_crc32(data));
    EXPECT_EQ(b.value(), ref_crc32c(data));
    EXPECT_EQ(c.value(), ref_crc64(data));
}

TEST(Crc, HardwareAndPortableCrc32cAgree) {
    if (!detail::crc32c_hardware_available()) {
        GTEST_SKIP() << "no SSE4.2 on this CPU";
    }
    const std::string data = pseudo_random_bytes(70'001, 13);
    for (std::size_t offset = 0; offset < 8; ++offset) {
        for (std::size_t length : {0ul, 1ul, 7ul, 8ul, 9ul, 63ul, 4096ul, 70'000ul - offset}) {
            const std::string_view piece(data.data() + offset, length);
            EXPECT_EQ(detail::crc32c_hardware(0xFFFFFFFFu, piece),
                      detail::crc32c_portable(0xFFFFFFFFu, piece))
                << offset << "/" << length;
            EXPECT_EQ(detail::crc32c_hardware(0x12345678u, piece),
                      detail::crc32c_portable(0x12345678u, piece));
        }
    }
}

TEST(Crc, CombineEqualsCrcOfConcatenation) {
    const std::string data = pseudo_random_bytes(300'000, 17);
    for (std::size_t split : {0ul, 1ul, 5ul, 4096ul, 150'001ul, 299'999ul, 300'000ul}) {
        const std::string_view a(data.data(), split);
        const std::string_view b(data.data() + split, data.size() - split);
        EXPECT_EQ(crc32_combine(crc_of<Crc32>(a), crc_of<Crc32>(b), b.size()), crc_of<Crc32>(data))
            << split;
        EXPECT_EQ(crc32c_combine(crc_of<Crc32c>(a), crc_of<Crc32c>(b), b.size()),
                  crc_of<Crc32c>(data))
            << split;
        EXPECT_EQ(crc64nvme_combine(crc_of<Crc64Nvme>(a), crc_of<Crc64Nvme>(b), b.size()),
                  crc_of<Crc64Nvme>(data))
            << split;
    }
}

} // namespace
} // namespace pf::crypto
