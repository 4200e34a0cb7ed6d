#include "crypto/digest.h"
#include "crypto/encoding.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace pf::crypto {
namespace {

std::string pseudo_random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string out(n, '\0');
    for (char& c : out) {
        c = static_cast<char>(rng() & 0xFF);
    }
    return out;
}

TEST(Digest, Md5MatchesKnownValues) {
    EXPECT_EQ(hex_encode(as_bytes(md5(""))), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(hex_encode(as_bytes(md5("hello world"))), "5eb63bbbe01eeed093cb22bb8f5acdc3");
    // Content-MD5 is the base64 of the raw digest.
    EXPECT_EQ(base64_encode(as_bytes(md5("hello world"))), "XrY7u+Ae7tCTyyK7j1rNww==");
}

TEST(Digest, Sha1AndSha256MatchKnownValues) {
    EXPECT_EQ(hex_encode(as_bytes(sha1("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(hex_encode(as_bytes(sha1("hello world"))),
              "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed");
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("hello world"),
              "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
    EXPECT_EQ(sha256_hex("Welcome to Amazon S3."),
              "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    EXPECT_EQ(hex_encode(as_bytes(sha256("abc"))),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, IncrementalHashingEqualsOneShotForAnySplit) {
    const std::string data = pseudo_random_bytes(100'003, 7);
    std::mt19937 rng(11);
    for (int round = 0; round < 20; ++round) {
        Md5 m;
        Sha1 s1;
        Sha256 s256;
        std::size_t pos = 0;
        while (pos < data.size()) {
            const std::size_t piece = std::min<std::size_t>(rng() % 9000, data.size() - pos);
            const std::string_view part(data.data() + pos, piece);
            m.update(part);
            s1.update(part);
            s256.update(part);
            pos += piece;
        }
        EXPECT_EQ(m.finish(), md5(data));
        EXPECT_EQ(s1.finish(), sha1(data));
        EXPECT_EQ(s256.finish(), sha256(data));
    }
}

TEST(Digest, EmptyUpdatesChangeNothing) {
    Sha256 a;
    a.update("");
    a.update("abc");
    a.update("");
    EXPECT_EQ(a.finish(), sha256("abc"));
}

TEST(Digest, HashersAreMovable) {
    Sha256 first;
    first.update("hello ");
    Sha256 moved(std::move(first));
    moved.update("world");
    Sha256 assigned;
    assigned = std::move(moved);
    EXPECT_EQ(hex_encode(as_bytes(assigned.finish())),
              "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
}

// RFC 4231 test cases 1, 2 and 6 (the last with a key longer than the block size).
TEST(Digest, HmacSha256MatchesRfc4231) {
    EXPECT_EQ(hex_encode(as_bytes(hmac_sha256(std::string(20, '\x0b'), "Hi There"))),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(hex_encode(as_bytes(hmac_sha256("Jefe", "what do ya want for nothing?"))),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_EQ(
        hex_encode(as_bytes(hmac_sha256(std::string(131, '\xaa'),
                                        "Test Using Larger Than Block-Size Key - Hash Key First"))),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Digest, HmacWithEmptyKeyAndMessage) {
    // HMAC-SHA256("", "") is a fixed, well-known value.
    EXPECT_EQ(hex_encode(as_bytes(hmac_sha256("", ""))),
              "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(Digest, MultipartEtagFromPartDigests) {
    // Sheet 2.7 #10: ETag = MD5(MD5(part1) || MD5(part2)) + "-2".
    const std::string part1(5'242'880, 'a');
    EXPECT_EQ(hex_encode(as_bytes(md5(part1))), "79b281060d337b9b2b84ccf390adcf74");
    Md5 etag;
    etag.update(as_bytes(md5(part1)));
    etag.update(as_bytes(md5("hello world")));
    EXPECT_EQ(hex_encode(as_bytes(etag.finish())) + "-2", "4ba54d90a25d93d94b7b41c987352341-2");
}

} // namespace
} // namespace pf::crypto
