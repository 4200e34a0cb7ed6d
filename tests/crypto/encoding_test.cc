#include "crypto/encoding.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace pf::crypto {
namespace {

TEST(Encoding, HexRoundTripsAndAcceptsBothCases) {
    EXPECT_EQ(hex_encode(std::string_view("\x00\x01\xab\xff", 4)), "0001abff");
    EXPECT_EQ(hex_encode(std::string_view()), "");
    EXPECT_EQ(hex_decode("0001abff"), std::string("\x00\x01\xab\xff", 4));
    EXPECT_EQ(hex_decode("0001ABFF"), std::string("\x00\x01\xab\xff", 4));
    EXPECT_EQ(hex_decode(""), std::string());
}

TEST(Encoding, HexDecodeRejectsOddLengthAndNonHex) {
    EXPECT_EQ(hex_decode("abc"), std::nullopt);
    EXPECT_EQ(hex_decode("zz"), std::nullopt);
    EXPECT_EQ(hex_decode("0g"), std::nullopt);
    EXPECT_EQ(hex_decode(" 0"), std::nullopt);
}

TEST(Encoding, Base64MatchesRfc4648Vectors) {
    const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                           {"f", "Zg=="},
                                                           {"fo", "Zm8="},
                                                           {"foo", "Zm9v"},
                                                           {"foob", "Zm9vYg=="},
                                                           {"fooba", "Zm9vYmE="},
                                                           {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(base64_encode(std::string_view(plain)), encoded);
        EXPECT_EQ(base64_decode(encoded), std::string(plain));
    }
    EXPECT_EQ(base64_encode(std::string_view("\xff\xfe\xfd", 3)), "//79");
    EXPECT_EQ(base64_decode("+/+/"), std::string("\xfb\xff\xbf", 3));
}

TEST(Encoding, Base64DecodeIsStrict) {
    EXPECT_EQ(base64_decode("Zg"), std::nullopt) << "missing padding";
    EXPECT_EQ(base64_decode("Zg="), std::nullopt);
    EXPECT_EQ(base64_decode("Zg==Zg=="), std::nullopt) << "padding in the middle";
    EXPECT_EQ(base64_decode("Z==="), std::nullopt);
    EXPECT_EQ(base64_decode("Zm9v!A=="), std::nullopt) << "character outside the alphabet";
    EXPECT_EQ(base64_decode("Zm9v YmFy"), std::nullopt);
    EXPECT_EQ(base64_decode("Zh=="), std::nullopt) << "non-zero bits in the padding";
    EXPECT_EQ(base64_decode("Zm9="), std::nullopt);
    EXPECT_EQ(base64_decode("Zm-_"), std::nullopt) << "URL alphabet is not base64";
}

TEST(Encoding, RandomBinaryRoundTrips) {
    std::mt19937 rng(1);
    for (std::size_t n = 0; n < 200; ++n) {
        std::string data(n, '\0');
        for (char& c : data) {
            c = static_cast<char>(rng() & 0xFF);
        }
        const std::string b64 = base64_encode(data);
        EXPECT_EQ(b64.size(), (n + 2) / 3 * 4);
        EXPECT_EQ(base64_decode(b64), data);
        EXPECT_EQ(hex_decode(hex_encode(data)), data);
    }
}

TEST(Encoding, AsBytesKeepsTheRawDigest) {
    const std::array<std::uint8_t, 3> digest = {0x00, 0x7f, 0xff};
    EXPECT_EQ(as_bytes(digest), std::string("\x00\x7f\xff", 3));
}

} // namespace
} // namespace pf::crypto
