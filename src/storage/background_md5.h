// MD5 of a large body on a thread of its own. One core hashes MD5 at ~600 MB/s here, slower than
// a connection can receive and write: hashed on the connection thread, a large PUT runs at the
// speed of receive + hash + write in turn. With the hash beside it, it runs at the speed of the
// slowest of them. Internal to storage/.
#pragma once

#include "crypto/digest.h"

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace pf::storage {

class BackgroundMd5 {
public:
    // Continues `so_far` (the bytes hashed before the body turned out to be large). Buffers are
    // handed over whole; at most `depth` wait for the hasher, so memory stays at depth + 1
    // buffers.
    BackgroundMd5(crypto::Md5 so_far, std::size_t depth);
    // Waits for the hasher (the result is dropped when finish() was not called).
    ~BackgroundMd5();
    BackgroundMd5(const BackgroundMd5&) = delete;
    BackgroundMd5& operator=(const BackgroundMd5&) = delete;

    // Queues the first `size` bytes of `buffer` and returns a buffer to fill next (one the hasher
    // is done with, or a new one of the same capacity). Blocks while `depth` buffers are queued.
    std::vector<char> hand_off(std::vector<char> buffer, std::size_t size);
    // Hashes what is still queued and returns the digest of everything.
    crypto::Digest<16> finish();

private:
    struct Chunk {
        std::vector<char> bytes;
        std::size_t size = 0;
    };
    void run();

    crypto::Md5 md5_;
    const std::size_t depth_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Chunk> queued_;
    std::vector<std::vector<char>> spare_;
    bool closing_ = false;
    bool finished_ = false;
    std::thread thread_;
};

}  // namespace pf::storage
