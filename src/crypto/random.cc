#include "crypto/random.h"

#include "base/check.h"
#include "crypto/encoding.h"

#include <openssl/rand.h>

#include <algorithm>

namespace pf::crypto {
namespace {

void fill_random(char* out, std::size_t count) {
    // RAND_bytes takes an int length; large requests are served in pieces.
    constexpr std::size_t kMaxPiece = 1u << 20;
    while (count > 0) {
        const std::size_t piece = std::min(count, kMaxPiece);
        // Failure means the CSPRNG could not be seeded: nothing sensible can continue.
        PF_CHECK(RAND_bytes(reinterpret_cast<unsigned char*>(out), static_cast<int>(piece)) == 1);
        out += piece;
        count -= piece;
    }
}

} // namespace

std::string random_bytes(std::size_t count) {
    std::string out(count, '\0');
    fill_random(out.data(), count);
    return out;
}

std::string random_hex(std::size_t count) {
    return hex_encode(random_bytes(count));
}

std::string random_string(std::size_t length, std::string_view alphabet) {
    PF_CHECK(!alphabet.empty() && alphabet.size() <= 256);
    // Bytes at or above the largest multiple of the alphabet size are discarded, so every
    // character is equally likely.
    const std::size_t limit = 256 - (256 % alphabet.size());
    std::string out;
    out.reserve(length);
    std::string pool;
    std::size_t next = 0;
    while (out.size() < length) {
        if (next == pool.size()) {
            pool = random_bytes(std::max<std::size_t>(length - out.size(), 16) + 16);
            next = 0;
        }
        const auto byte = static_cast<unsigned char>(pool[next++]);
        if (byte < limit) {
            out.push_back(alphabet[byte % alphabet.size()]);
        }
    }
    return out;
}

} // namespace pf::crypto
