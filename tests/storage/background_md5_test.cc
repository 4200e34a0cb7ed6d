// BackgroundMd5: the digest of buffers hashed on the worker thread equals the digest of their
// bytes in order, and an abandoned hash (a failed write) ends without waiting for anything.
#include "storage/background_md5.h"

#include "crypto/digest.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pf::storage::test {
namespace {

std::string bytes_of(std::size_t size, unsigned seed) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        s[i] = static_cast<char>((i * 131 + seed * 17 + (i >> 9)) & 0xff);
    }
    return s;
}

TEST(BackgroundMd5Test, DigestEqualsTheDigestOfEverythingInOrder) {
    std::string head = bytes_of(1000, 1);
    crypto::Md5 so_far;
    so_far.update(head);
    BackgroundMd5 hasher(std::move(so_far), 2);

    std::string all = head;
    std::vector<char> buffer(64 * 1024);
    // Partly filled buffers of changing sizes, more of them than the queue holds.
    for (unsigned i = 0; i < 40; ++i) {
        std::size_t size = (i * 7919) % buffer.size() + 1;
        std::string chunk = bytes_of(size, i + 2);
        std::copy(chunk.begin(), chunk.end(), buffer.begin());
        all += chunk;
        buffer = hasher.hand_off(std::move(buffer), size);
        ASSERT_EQ(buffer.size(), 64u * 1024) << "the next buffer has the same capacity";
    }
    EXPECT_EQ(hasher.finish(), crypto::md5(all));
}

TEST(BackgroundMd5Test, AnAbandonedHashEndsWithoutFinish) {
    auto hasher = std::make_unique<BackgroundMd5>(crypto::Md5(), 1);
    constexpr std::size_t kSize = 1 << 20;
    std::vector<char> buffer(kSize, 'x');
    buffer = hasher->hand_off(std::move(buffer), kSize);
    buffer = hasher->hand_off(std::move(buffer), kSize);
    // Fails by hanging (the ctest timeout): the queued buffer must be dropped, the thread joined.
    hasher.reset();
    EXPECT_EQ(buffer.size(), kSize);
}

}  // namespace
}  // namespace pf::storage::test
