// S3 flexible checksums as one value type: the algorithm named by `x-amz-checksum-<alg>` or
// `x-amz-sdk-checksum-algorithm`, an incremental calculator, and the base64 big-endian digest S3
// puts on the wire. Also the composite (checksum-of-checksums "-N") form for multipart objects.
#pragma once

#include "base/result.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pf::crypto {

enum class ChecksumAlgorithm { Crc32, Crc32c, Crc64Nvme, Sha1, Sha256 };

// "CRC32", "crc32c", "CRC64NVME", "SHA1", "SHA256" (case-insensitive) -> algorithm.
std::optional<ChecksumAlgorithm> parse_checksum_algorithm(std::string_view name);
// Canonical upper-case name: "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256".
std::string_view checksum_name(ChecksumAlgorithm algorithm);
// The header that carries it: "x-amz-checksum-crc32", ...
std::string checksum_header(ChecksumAlgorithm algorithm);
// Size of the raw digest in bytes (4, 4, 8, 20, 32).
std::size_t checksum_size(ChecksumAlgorithm algorithm);

class ChecksumCalculator {
public:
    explicit ChecksumCalculator(ChecksumAlgorithm algorithm);
    ChecksumCalculator(ChecksumCalculator&&) noexcept;
    ChecksumCalculator& operator=(ChecksumCalculator&&) noexcept;
    ~ChecksumCalculator();

    ChecksumAlgorithm algorithm() const { return algorithm_; }
    void update(std::string_view bytes);
    // Raw big-endian digest bytes. Call once.
    std::string finish_raw();
    // base64 of the raw digest, as on the wire. Call once (instead of finish_raw).
    std::string finish_base64();

private:
    struct State;
    ChecksumAlgorithm algorithm_;
    std::unique_ptr<State> state_;
};

// One-shot helper: base64 checksum of `bytes`.
std::string checksum_base64(ChecksumAlgorithm algorithm, std::string_view bytes);

// Composite multipart checksum: base64(checksum(concat(raw part checksums))) + "-" + N.
// Each element of `part_checksums_base64` is one part's base64 checksum. InvalidArgument when one
// is not valid base64 of the algorithm's size.
Result<std::string> composite_checksum(ChecksumAlgorithm algorithm,
                                       const std::vector<std::string>& part_checksums_base64);

// One part of a multipart object for full_object_checksum: its base64 checksum and its size.
struct PartChecksum {
    std::string checksum_base64;
    std::uint64_t size = 0;
};

// FULL_OBJECT multipart checksum: the checksum of the whole object, derived from the parts' CRCs
// and sizes (no re-read). CRC family only; InvalidArgument for SHA1/SHA256 or a malformed part
// checksum.
Result<std::string> full_object_checksum(ChecksumAlgorithm algorithm,
                                         const std::vector<PartChecksum>& parts);

} // namespace pf::crypto
