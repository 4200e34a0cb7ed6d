// Streaming byte interfaces shared by the HTTP server, the S3 API and the object store, so a request
// body flows from the socket to disk (and a blob from disk to the socket) without ever being held
// whole in memory.
#pragma once

#include "base/result.h"

#include <cstddef>
#include <span>

namespace pf {

// A pull source. read() fills up to out.size() bytes and returns how many; 0 means the end of the
// stream. An error is final: the stream must not be read again. A source that validates what it
// carries (a checksum, a chunk signature, a declared length) reports a mismatch as the error of
// the read that reaches the end, so a consumer never commits bytes that failed validation.
class ByteSource {
public:
    virtual ~ByteSource() = default;
    virtual Result<std::size_t> read(std::span<char> out) = 0;
};

// A push sink. write() takes all of `bytes` or fails.
class ByteSink {
public:
    virtual ~ByteSink() = default;
    virtual Result<void> write(std::span<const char> bytes) = 0;
};

}  // namespace pf
