#include "crypto/checksum.h"
#include "crypto/crc.h"
#include "crypto/encoding.h"

#include <gtest/gtest.h>

#include <string>

namespace pf::crypto {
namespace {

TEST(Checksum, HelloWorldVectors) {
    // Sheet 2.7 #9.
    EXPECT_EQ(checksum_base64(ChecksumAlgorithm::Crc32, "hello world"), "DUoRhQ==");
    EXPECT_EQ(checksum_base64(ChecksumAlgorithm::Crc32c, "hello world"), "yZRlqg==");
    EXPECT_EQ(checksum_base64(ChecksumAlgorithm::Crc64Nvme, "hello world"), "jSnVw/bqjr4=");
    EXPECT_EQ(checksum_base64(ChecksumAlgorithm::Sha1, "hello world"),
              "Kq5sNclPz7QV2+lfQIuc6R7oRu0=");
    EXPECT_EQ(checksum_base64(ChecksumAlgorithm::Sha256, "hello world"),
              "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=");
    EXPECT_EQ(checksum_base64(ChecksumAlgorithm::Crc32, ""), "AAAAAA==");
}

TEST(Checksum, RawDigestIsBigEndian) {
    ChecksumCalculator crc32(ChecksumAlgorithm::Crc32);
    crc32.update("1234");
    crc32.update("56789");
    EXPECT_EQ(hex_encode(crc32.finish_raw()), "cbf43926");
    ChecksumCalculator crc64(ChecksumAlgorithm::Crc64Nvme);
    crc64.update("123456789");
    EXPECT_EQ(hex_encode(crc64.finish_raw()), "ae8b14860a799888");
    ChecksumCalculator crc32c(ChecksumAlgorithm::Crc32c);
    crc32c.update("123456789");
    EXPECT_EQ(hex_encode(crc32c.finish_raw()), "e3069283");
}

TEST(Checksum, IncrementalEqualsOneShotForEveryAlgorithm) {
    std::string data;
    for (int i = 0; i < 100'000; ++i) {
        data.push_back(static_cast<char>((i * 131) ^ (i >> 7)));
    }
    for (auto algorithm :
         {ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Crc64Nvme,
          ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Sha256}) {
        ChecksumCalculator calculator(algorithm);
        for (std::size_t pos = 0; pos < data.size(); pos += 7'777) {
            calculator.update(std::string_view(data).substr(pos, 7'777));
        }
        const std::string raw = calculator.finish_raw();
        EXPECT_EQ(raw.size(), checksum_size(algorithm));
        EXPECT_EQ(base64_encode(raw), checksum_base64(algorithm, data)) << checksum_name(algorithm);
    }
}

TEST(Checksum, NamesHeadersAndSizes) {
    EXPECT_EQ(parse_checksum_algorithm("CRC32"), ChecksumAlgorithm::Crc32);
    EXPECT_EQ(parse_checksum_algorithm("crc32c"), ChecksumAlgorithm::Crc32c);
    EXPECT_EQ(parse_checksum_algorithm("Crc64Nvme"), ChecksumAlgorithm::Crc64Nvme);
    EXPECT_EQ(parse_checksum_algorithm("sha1"), ChecksumAlgorithm::Sha1);
    EXPECT_EQ(parse_checksum_algorithm("SHA256"), ChecksumAlgorithm::Sha256);
    EXPECT_EQ(parse_checksum_algorithm("SHA512"), std::nullopt);
    EXPECT_EQ(parse_checksum_algorithm("crc"), std::nullopt);
    EXPECT_EQ(parse_checksum_algorithm(""), std::nullopt);
    EXPECT_EQ(checksum_name(ChecksumAlgorithm::Crc64Nvme), "CRC64NVME");
    EXPECT_EQ(checksum_header(ChecksumAlgorithm::Crc32c), "x-amz-checksum-crc32c");
    EXPECT_EQ(checksum_header(ChecksumAlgorithm::Sha256), "x-amz-checksum-sha256");
    EXPECT_EQ(checksum_size(ChecksumAlgorithm::Crc32), 4u);
    EXPECT_EQ(checksum_size(ChecksumAlgorithm::Crc64Nvme), 8u);
    EXPECT_EQ(checksum_size(ChecksumAlgorithm::Sha1), 20u);
    EXPECT_EQ(checksum_size(ChecksumAlgorithm::Sha256), 32u);
}

TEST(Checksum, MultipartCompositeAndFullObjectCrc32) {
    // Sheet 2.7 #10.
    const std::string part1(5'242'880, 'a');
    const std::string part2 = "hello world";
    const std::string crc1 = checksum_base64(ChecksumAlgorithm::Crc32, part1);
    const std::string crc2 = checksum_base64(ChecksumAlgorithm::Crc32, part2);
    EXPECT_EQ(crc1, "r/zBbw==");
    EXPECT_EQ(crc2, "DUoRhQ==");

    auto composite = composite_checksum(ChecksumAlgorithm::Crc32, {crc1, crc2});
    ASSERT_TRUE(composite.has_value()) << composite.error().message;
    EXPECT_EQ(*composite, "NSvTHQ==-2");

    EXPECT_EQ(checksum_base64(ChecksumAlgorithm::Crc32, part1 + part2), "WrTTSg==");
    auto full = full_object_checksum(ChecksumAlgorithm::Crc32,
                                     {{crc1, part1.size()}, {crc2, part2.size()}});
    ASSERT_TRUE(full.has_value()) << full.error().message;
    EXPECT_EQ(*full, "WrTTSg==");
}

TEST(Checksum, FullObjectChecksumForCrc32cAndCrc64Nvme) {
    const std::string a(100'000, 'x');
    const std::string b = "the second part";
    const std::string c(3, '\0');
    for (auto algorithm : {ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Crc64Nvme}) {
        auto full = full_object_checksum(algorithm, {{checksum_base64(algorithm, a), a.size()},
                                                     {checksum_base64(algorithm, b), b.size()},
                                                     {checksum_base64(algorithm, c), c.size()}});
        ASSERT_TRUE(full.has_value());
        EXPECT_EQ(*full, checksum_base64(algorithm, a + b + c)) << checksum_name(algorithm);
    }
}

TEST(Checksum, CompositeOfShaParts) {
    const std::string s1 = checksum_base64(ChecksumAlgorithm::Sha256, "one");
    const std::string s2 = checksum_base64(ChecksumAlgorithm::Sha256, "two");
    auto composite = composite_checksum(ChecksumAlgorithm::Sha256, {s1, s2});
    ASSERT_TRUE(composite.has_value());
    const std::string raw = *base64_decode(s1) + *base64_decode(s2);
    EXPECT_EQ(*composite, checksum_base64(ChecksumAlgorithm::Sha256, raw) + "-2");
}

TEST(Checksum, MalformedPartChecksumsAreInvalidArgument) {
    auto bad_base64 = composite_checksum(ChecksumAlgorithm::Crc32, {"DUoRhQ==", "not base64!"});
    ASSERT_FALSE(bad_base64.has_value());
    EXPECT_EQ(bad_base64.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(bad_base64.error().message.find("part 2"), std::string::npos);

    // Valid base64, but 8 bytes where CRC32 has 4.
    auto wrong_size = composite_checksum(ChecksumAlgorithm::Crc32, {"jSnVw/bqjr4="});
    ASSERT_FALSE(wrong_size.has_value());
    EXPECT_EQ(wrong_size.error().code, ErrorCode::InvalidArgument);

    EXPECT_FALSE(composite_checksum(ChecksumAlgorithm::Crc32, {}).has_value());

    auto sha_full = full_object_checksum(ChecksumAlgorithm::Sha256, {{"x", 1}});
    ASSERT_FALSE(sha_full.has_value());
    EXPECT_EQ(sha_full.error().code, ErrorCode::InvalidArgument);
    EXPECT_FALSE(full_object_checksum(ChecksumAlgorithm::Crc32, {{"AAAA", 1}}).has_value());
}

TEST(Checksum, CalculatorIsMovable) {
    ChecksumCalculator a(ChecksumAlgorithm::Crc64Nvme);
    a.update("hello ");
    ChecksumCalculator b(std::move(a));
    b.update("world");
    EXPECT_EQ(b.algorithm(), ChecksumAlgorithm::Crc64Nvme);
    EXPECT_EQ(b.finish_base64(), "jSnVw/bqjr4=");
}

} // namespace
} // namespace pf::crypto
