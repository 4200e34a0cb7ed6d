#include "crypto/crc.h"

#include <zlib.h>

#include <array>
#include <bit>
#include <cstddef>
#include <cstring>
#include <limits>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace pf::crypto {
namespace {

// Slice-by-8 for reflected CRCs: table[0] is the classic byte-at-a-time table, table[k][b] is the
// contribution of byte b followed by k zero bytes, so eight table lookups retire one 64-bit word.
template <typename T>
using SliceTables = std::array<std::array<T, 256>, 8>;

template <typename T, T Poly>
constexpr SliceTables<T> make_slice_tables() {
    SliceTables<T> tables{};
    for (unsigned b = 0; b < 256; ++b) {
        T crc = b;
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc & 1) != 0 ? static_cast<T>((crc >> 1) ^ Poly) : static_cast<T>(crc >> 1);
        }
        tables[0][b] = crc;
    }
    for (std::size_t k = 1; k < 8; ++k) {
        for (unsigned b = 0; b < 256; ++b) {
            const T prev = tables[k - 1][b];
            tables[k][b] = static_cast<T>((prev >> 8) ^ tables[0][prev & 0xFF]);
        }
    }
    return tables;
}

constexpr std::uint32_t kCrc32cPoly = 0x82F63B78u;
constexpr std::uint64_t kCrc64NvmePoly = 0x9A6C9329AC4BC9B5ull;
// The tables are computed at compile time: no start-up cost and no initialisation race.
constexpr SliceTables<std::uint32_t> kCrc32cTables =
    make_slice_tables<std::uint32_t, kCrc32cPoly>();
constexpr SliceTables<std::uint64_t> kCrc64NvmeTables =
    make_slice_tables<std::uint64_t, kCrc64NvmePoly>();

static_assert(std::endian::native == std::endian::little,
              "the slice-by-8 loops read words little-endian");

template <typename T>
T slice_by_8(T state, const SliceTables<T>& t, const unsigned char* p, std::size_t n) {
    while (n >= 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, p, 8); // unaligned-safe load
        word ^= state;
        state = static_cast<T>(t[7][word & 0xFF] ^ t[6][(word >> 8) & 0xFF] ^
                               t[5][(word >> 16) & 0xFF] ^ t[4][(word >> 24) & 0xFF] ^
                               t[3][(word >> 32) & 0xFF] ^ t[2][(word >> 40) & 0xFF] ^
                               t[1][(word >> 48) & 0xFF] ^ t[0][word >> 56]);
        p += 8;
        n -= 8;
    }
    while (n > 0) {
        state = static_cast<T>((state >> 8) ^ t[0][(state ^ *p) & 0xFF]);
        ++p;
        --n;
    }
    return state;
}

const unsigned char* bytes_of(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

// Multiplication in GF(2)[x] / P for a reflected CRC: the most significant bit of a word is the
// coefficient of x^0. Used only to combine CRCs, a few hundred operations per part.
template <typename T, T Poly>
T gf2_multiply(T a, T b) {
    constexpr T kTop = T{1} << (std::numeric_limits<T>::digits - 1);
    T product = 0;
    for (T mask = kTop; mask != 0; mask >>= 1) {
        if ((a & mask) != 0) {
            product ^= b;
        }
        // b *= x
        b = (b & 1) != 0 ? static_cast<T>((b >> 1) ^ Poly) : static_cast<T>(b >> 1);
    }
    return product;
}

// x^(8 * bytes) mod P, by square-and-multiply.
template <typename T, T Poly>
T x_pow_8n(std::uint64_t bytes) {
    constexpr int kWidth = std::numeric_limits<T>::digits;
    T result = T{1} << (kWidth - 1);    // x^0
    T power = T{1} << (kWidth - 1 - 8); // x^8
    while (bytes != 0) {
        if ((bytes & 1) != 0) {
            result = gf2_multiply<T, Poly>(result, power);
        }
        power = gf2_multiply<T, Poly>(power, power);
        bytes >>= 1;
    }
    return result;
}

// For a reflected CRC whose init and xor-out are both all ones, appending B's bytes to A shifts
// A's finished CRC by x^(8|B|) and adds B's finished CRC; the init/xor-out terms cancel.
template <typename T, T Poly>
T combine(T crc_a, T crc_b, std::uint64_t length_b) {
    return static_cast<T>(gf2_multiply<T, Poly>(x_pow_8n<T, Poly>(length_b), crc_a) ^ crc_b);
}

constexpr std::uint32_t kCrc32Poly = 0xEDB88320u;

} // namespace

void Crc32::update(std::string_view bytes) {
    // zlib's crc32_z takes a size_t length, so a huge block needs no splitting.
    if (!bytes.empty()) {
        crc_ = static_cast<std::uint32_t>(crc32_z(crc_, bytes_of(bytes), bytes.size()));
    }
}

namespace detail {

std::uint32_t crc32c_portable(std::uint32_t state, std::string_view bytes) {
    return slice_by_8(state, kCrc32cTables, bytes_of(bytes), bytes.size());
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_hardware(std::uint32_t state,
                                                                std::string_view bytes) {
    const unsigned char* p = bytes_of(bytes);
    std::size_t n = bytes.size();
    std::uint64_t crc = state;
    while (n >= 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, p, 8);
        crc = _mm_crc32_u64(crc, word);
        p += 8;
        n -= 8;
    }
    auto crc32 = static_cast<std::uint32_t>(crc);
    while (n > 0) {
        crc32 = _mm_crc32_u8(crc32, *p);
        ++p;
        --n;
    }
    return crc32;
}

bool crc32c_hardware_available() {
    static const bool available = __builtin_cpu_supports("sse4.2") != 0;
    return available;
}
#else
std::uint32_t crc32c_hardware(std::uint32_t state, std::string_view bytes) {
    return crc32c_portable(state, bytes);
}
bool crc32c_hardware_available() {
    return false;
}
#endif

} // namespace detail

void Crc32c::update(std::string_view bytes) {
    state_ = detail::crc32c_hardware_available() ? detail::crc32c_hardware(state_, bytes)
                                                 : detail::crc32c_portable(state_, bytes);
}

std::uint32_t Crc32c::value() const {
    return ~state_;
}

void Crc64Nvme::update(std::string_view bytes) {
    state_ = slice_by_8(state_, kCrc64NvmeTables, bytes_of(bytes), bytes.size());
}

std::uint64_t Crc64Nvme::value() const {
    return ~state_;
}

std::uint32_t crc32_combine(std::uint32_t crc_a, std::uint32_t crc_b, std::uint64_t length_b) {
    return combine<std::uint32_t, kCrc32Poly>(crc_a, crc_b, length_b);
}

std::uint32_t crc32c_combine(std::uint32_t crc_a, std::uint32_t crc_b, std::uint64_t length_b) {
    return combine<std::uint32_t, kCrc32cPoly>(crc_a, crc_b, length_b);
}

std::uint64_t crc64nvme_combine(std::uint64_t crc_a, std::uint64_t crc_b, std::uint64_t length_b) {
    return combine<std::uint64_t, kCrc64NvmePoly>(crc_a, crc_b, length_b);
}

} // namespace pf::crypto
