#include "crypto/constant_time.h"

#include <openssl/crypto.h>

namespace pf::crypto {

bool constant_time_equal(std::string_view a, std::string_view b) {
    // Lengths are public (a signature is always 64 hex characters), so an early exit on a length
    // difference leaks nothing; the content comparison touches every byte whatever it finds.
    if (a.size() != b.size()) {
        return false;
    }
    if (a.empty()) {
        return true;
    }
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace pf::crypto
