#include "crypto/checksum.h"
#include "base/ascii.h"

#include "base/check.h"
#include "crypto/crc.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"

#include <array>
#include <cctype>
#include <type_traits>
#include <variant>

namespace pf::crypto {
namespace {


template <typename T>
std::string big_endian(T value) {
    std::string out(sizeof(T), '\0');
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        out[i] = static_cast<char>((value >> (8 * (sizeof(T) - 1 - i))) & 0xFF);
    }
    return out;
}

template <typename T>
T from_big_endian(std::string_view bytes) {
    T value = 0;
    for (const char c : bytes) {
        value = static_cast<T>((value << 8) | static_cast<unsigned char>(c));
    }
    return value;
}

constexpr std::array<ChecksumAlgorithm, 5> kAll = {
    ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Crc64Nvme,
    ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Sha256};

Result<std::string> decode_part(ChecksumAlgorithm algorithm, std::string_view text,
                                std::size_t index) {
    auto raw = base64_decode(text);
    if (!raw || raw->size() != checksum_size(algorithm)) {
        std::string message = "part " + std::to_string(index + 1) + " has an invalid " +
                              std::string(checksum_name(algorithm)) + " checksum";
        return make_error(ErrorCode::InvalidArgument, message);
    }
    return std::move(*raw);
}

} // namespace

std::optional<ChecksumAlgorithm> parse_checksum_algorithm(std::string_view name) {
    for (const ChecksumAlgorithm algorithm : kAll) {
        if (ascii_iequals(name, checksum_name(algorithm))) {
            return algorithm;
        }
    }
    return std::nullopt;
}

std::string_view checksum_name(ChecksumAlgorithm algorithm) {
    switch (algorithm) {
    case ChecksumAlgorithm::Crc32:
        return "CRC32";
    case ChecksumAlgorithm::Crc32c:
        return "CRC32C";
    case ChecksumAlgorithm::Crc64Nvme:
        return "CRC64NVME";
    case ChecksumAlgorithm::Sha1:
        return "SHA1";
    case ChecksumAlgorithm::Sha256:
        return "SHA256";
    }
    return "CRC32";
}

std::string checksum_header(ChecksumAlgorithm algorithm) {
    return "x-amz-checksum-" + ascii_lowercase(checksum_name(algorithm));
}

std::size_t checksum_size(ChecksumAlgorithm algorithm) {
    switch (algorithm) {
    case ChecksumAlgorithm::Crc32:
    case ChecksumAlgorithm::Crc32c:
        return 4;
    case ChecksumAlgorithm::Crc64Nvme:
        return 8;
    case ChecksumAlgorithm::Sha1:
        return 20;
    case ChecksumAlgorithm::Sha256:
        return 32;
    }
    return 0;
}

// One concrete hasher per algorithm; update() dispatches once per block, never per byte.
struct ChecksumCalculator::State {
    std::variant<Crc32, Crc32c, Crc64Nvme, Sha1, Sha256> hasher;
    bool finished = false;
};

ChecksumCalculator::ChecksumCalculator(ChecksumAlgorithm algorithm)
    : algorithm_(algorithm), state_(std::make_unique<State>()) {
    switch (algorithm) {
    case ChecksumAlgorithm::Crc32:
        state_->hasher.emplace<Crc32>();
        break;
    case ChecksumAlgorithm::Crc32c:
        state_->hasher.emplace<Crc32c>();
        break;
    case ChecksumAlgorithm::Crc64Nvme:
        state_->hasher.emplace<Crc64Nvme>();
        break;
    case ChecksumAlgorithm::Sha1:
        state_->hasher.emplace<Sha1>();
        break;
    case ChecksumAlgorithm::Sha256:
        state_->hasher.emplace<Sha256>();
        break;
    }
}

ChecksumCalculator::ChecksumCalculator(ChecksumCalculator&&) noexcept = default;
ChecksumCalculator& ChecksumCalculator::operator=(ChecksumCalculator&&) noexcept = default;
ChecksumCalculator::~ChecksumCalculator() = default;

void ChecksumCalculator::update(std::string_view bytes) {
    PF_CHECK(state_ != nullptr && !state_->finished);
    std::visit([bytes](auto& hasher) { hasher.update(bytes); }, state_->hasher);
}

std::string ChecksumCalculator::finish_raw() {
    PF_CHECK(state_ != nullptr && !state_->finished);
    state_->finished = true;
    return std::visit(
        [](auto& hasher) -> std::string {
            using H = std::decay_t<decltype(hasher)>;
            if constexpr (std::is_same_v<H, Crc32> || std::is_same_v<H, Crc32c> ||
                          std::is_same_v<H, Crc64Nvme>) {
                return big_endian(hasher.value());
            } else {
                return as_bytes(hasher.finish());
            }
        },
        state_->hasher);
}

std::string ChecksumCalculator::finish_base64() {
    return base64_encode(finish_raw());
}

std::string checksum_base64(ChecksumAlgorithm algorithm, std::string_view bytes) {
    ChecksumCalculator calculator(algorithm);
    calculator.update(bytes);
    return calculator.finish_base64();
}

Result<std::string> composite_checksum(ChecksumAlgorithm algorithm,
                                       const std::vector<std::string>& part_checksums_base64) {
    if (part_checksums_base64.empty()) {
        return make_error(ErrorCode::InvalidArgument,
                          "a composite checksum needs at least one part");
    }
    ChecksumCalculator calculator(algorithm);
    for (std::size_t i = 0; i < part_checksums_base64.size(); ++i) {
        auto raw = decode_part(algorithm, part_checksums_base64[i], i);
        if (!raw) {
            return raw.error();
        }
        calculator.update(*raw);
    }
    return calculator.finish_base64() + "-" + std::to_string(part_checksums_base64.size());
}

Result<std::string> full_object_checksum(ChecksumAlgorithm algorithm,
                                         const std::vector<PartChecksum>& parts) {
    if (algorithm == ChecksumAlgorithm::Sha1 || algorithm == ChecksumAlgorithm::Sha256) {
        return make_error(ErrorCode::InvalidArgument,
                          std::string(checksum_name(algorithm)) +
                              " supports only COMPOSITE multipart checksums");
    }
    if (parts.empty()) {
        return make_error(ErrorCode::InvalidArgument,
                          "a full-object checksum needs at least one part");
    }
    // Start from the empty object's CRC and append the parts one by one.
    std::uint64_t combined = 0;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        auto raw = decode_part(algorithm, parts[i].checksum_base64, i);
        if (!raw) {
            return raw.error();
        }
        switch (algorithm) {
        case ChecksumAlgorithm::Crc32:
            combined = crc32_combine(static_cast<std::uint32_t>(combined),
                                     from_big_endian<std::uint32_t>(*raw), parts[i].size);
            break;
        case ChecksumAlgorithm::Crc32c:
            combined = crc32c_combine(static_cast<std::uint32_t>(combined),
                                      from_big_endian<std::uint32_t>(*raw), parts[i].size);
            break;
        default:
            combined =
                crc64nvme_combine(combined, from_big_endian<std::uint64_t>(*raw), parts[i].size);
            break;
        }
    }
    if (algorithm == ChecksumAlgorithm::Crc64Nvme) {
        return base64_encode(big_endian(combined));
    }
    return base64_encode(big_endian(static_cast<std::uint32_t>(combined)));
}

} // namespace pf::crypto
