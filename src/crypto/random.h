// Cryptographically secure randomness (OpenSSL's CSPRNG): credentials, upload ids, blob names.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pf::crypto {

std::string random_bytes(std::size_t count);
// `count` random bytes as lowercase hex (2 * count characters).
std::string random_hex(std::size_t count);
// A string of `length` characters drawn uniformly from `alphabet` (rejection sampling, no bias).
std::string random_string(std::size_t length, std::string_view alphabet);

} // namespace pf::crypto
