#include "aws/aws_chunked.h"

#include "crypto/constant_time.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"

#include <algorithm>
#include <cstring>

namespace pf::aws {
namespace {

// Every decoding error carries "<S3 code>: " at the start of its public message, so the S3
// layer can map it without knowing the decoder's internals (aws_chunked_error_code()).
constexpr std::string_view kIncompleteBody = "IncompleteBody";
constexpr std::string_view kInvalidRequest = "InvalidRequest";
constexpr std::string_view kBadDigest = "BadDigest";
constexpr std::string_view kSignatureDoesNotMatch = "SignatureDoesNotMatch";

Error decode_error(ErrorCode code, std::string_view s3_code, const std::string& detail) {
    std::string message = "aws-chunked body: " + detail;
    std::string public_message(s3_code);
    public_message.append(": ").append(detail);
    return make_error(code, std::move(message), std::move(public_message));
}

Error incomplete(const std::string& detail) {
    return decode_error(ErrorCode::CorruptInput, kIncompleteBody, detail);
}
Error invalid(const std::string& detail) {
    return decode_error(ErrorCode::CorruptInput, kInvalidRequest, detail);
}
Error unauthenticated(const std::string& detail) {
    return decode_error(ErrorCode::Unauthenticated, kSignatureDoesNotMatch, detail);
}

std::string lowercase(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

bool is_hex(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return crypto::hex_digit_value(c) >= 0; });
}

// No real client sends a chunk anywhere near this; the cap keeps the running total far from
// overflow without limiting big single-chunk uploads (Go sends > 16 MiB chunks).
constexpr std::uint64_t kMaxChunkSize = std::uint64_t{1} << 50;
// Reads at least this large bypass the internal buffer and land in the caller's memory directly.
constexpr std::size_t kDirectReadThreshold = 16 * 1024;
constexpr std::size_t kBufferSize = 64 * 1024;
// After the terminating empty line only stray line ends are tolerated, and only a few.
constexpr std::size_t kMaxTrailingLineEnds = 64;

constexpr std::string_view kChecksumPrefix = "x-amz-checksum-";
constexpr std::string_view kTrailerSignature = "x-amz-trailer-signature";

} // namespace

struct AwsChunkedSource::State {
    State(ByteSource& source, AwsChunkedOptions opts)
        : wire(source), options(std::move(opts)),
          buffer(std::max(
              {kBufferSize, options.max_chunk_header + 2, options.max_trailer_bytes + 2})) {}

    enum class Phase { Start, ChunkHeader, ChunkData, ChunkEnd, Trailers, Done, Failed };
    enum class LineStatus { Line, Eof };

    ByteSource& wire;
    AwsChunkedOptions options;
    std::vector<char> buffer;
    std::size_t begin = 0; // unread bytes are buffer[begin, end)
    std::size_t end = 0;
    bool wire_eof = false;

    Phase phase = Phase::Start;
    std::optional<Error> failure;

    std::uint64_t chunk_index = 0;
    std::uint64_t chunk_remaining = 0;
    std::string chunk_signature;              // as received, lowercased
    std::optional<crypto::Sha256> chunk_hash; // signed streams only
    std::uint64_t decoded = 0;

    // Checksums of the decoded bytes, one per x-amz-checksum-* trailer announced up front.
    std::vector<std::pair<std::string, crypto::ChecksumCalculator>> checksums;
    std::vector<std::pair<std::string, std::string>> trailers;
    std::string signed_trailer_text; // "name:value\n" per line, as the client signed it
    std::optional<std::string> trailer_signature;
    std::size_t trailer_bytes = 0;

    Error fail(Error error) {
        phase = Phase::Failed;
        failure = error;
        return error;
    }

    bool signed_stream() const { return options.signatures.has_value(); }

    Result<void> start() {
        for (const std::string& announced : options.announced_trailers) {
            const std::string name = lowercase(trim(announced));
            if (name.rfind(kChecksumPrefix, 0) != 0) {
                continue;
            }
            const auto algorithm = crypto::parse_checksum_algorithm(
                std::string_view(name).substr(kChecksumPrefix.size()));
            if (!algorithm) {
                return invalid("unsupported checksum trailer '" + name + "'");
            }
            const bool duplicate =
                std::any_of(checksums.begin(), checksums.end(),
                            [&](const auto& entry) { return entry.first == name; });
            if (!duplicate) {
                checksums.emplace_back(name, crypto::ChecksumCalculator(*algorithm));
            }
        }
        return {};
    }

    // Pulls more wire bytes into the buffer. False at the end of the wire.
    Result<bool> fill() {
        if (wire_eof) {
            return false;
        }
        if (begin == end) {
            begin = end = 0;
        } else if (begin > 0) {
            std::memmove(buffer.data(), buffer.data() + begin, end - begin);
            end -= begin;
            begin = 0;
        }
        if (end == buffer.size()) {
            // Callers bound their lines well below the buffer size, so this cannot happen.
            return make_error(ErrorCode::Internal, "aws-chunked decoder buffer exhausted");
        }
        auto n = wire.read(std::span<char>(buffer.data() + end, buffer.size() - end));
        if (!n) {
            return n.error();
        }
        if (*n == 0) {
            wire_eof = true;
            return false;
        }
        end += *n;
        return true;
    }

    // Next line without its "\n" or "\r\n". `line` points into the buffer and stays valid until
    // the next fill. Eof only when the wire ended exactly at a line boundary.
    Result<LineStatus> read_line(std::size_t limit, std::string_view what, std::string_view& line) {
        std::size_t scanned = 0; // bytes already searched, so each byte is scanned once
        while (true) {
            const char* start = buffer.data() + begin;
            const auto* newline =
                static_cast<const char*>(std::memchr(start + scanned, '\n', end - begin - scanned));
            if (newline != nullptr) {
                std::size_t length = static_cast<std::size_t>(newline - start);
                begin += length + 1;
                if (length > 0 && start[length - 1] == '\r') {
                    --length;
                }
                if (length > limit) {
                    return invalid(std::string(what) + " is longer than " + std::to_string(limit) +
                                   " bytes");
                }
                line = std::string_view(start, length);
                return LineStatus::Line;
            }
            scanned = end - begin;
            if (scanned > limit + 1) {
                return invalid(std::string(what) + " is longer than " + std::to_string(limit) +
                               " bytes");
            }
            auto more = fill();
            if (!more) {
                return more.error();
            }
            if (!*more) {
                if (begin == end) {
                    return LineStatus::Eof;
                }
                return incomplete("the body ends inside a " + std::string(what));
            }
        }
    }

    Result<void> parse_chunk_header(std::string_view line) {
        const std::size_t semicolon = line.find(';');
        const std::string_view size_text = line.substr(0, semicolon);
        const std::string label = "chunk " + std::to_string(chunk_index + 1);
        if (size_text.empty() || !is_hex(size_text)) {
            return invalid(label + " has a malformed size '" +
                           std::string(size_text.substr(0, 32)) + "'");
        }
        const std::size_t first_significant = size_text.find_first_not_of('0');
        const std::string_view significant = first_significant == std::string_view::npos
                                                 ? std::string_view{}
                                                 : size_text.substr(first_significant);
        std::uint64_t size = 0;
        if (significant.size() > 16) {
            return invalid(label + " has an impossibly large size");
        }
        for (const char c : significant) {
            size = (size << 4) | static_cast<std::uint64_t>(crypto::hex_digit_value(c));
        }
        if (size > kMaxChunkSize) {
            return invalid(label + " has an impossibly large size");
        }

        chunk_signature.clear();
        if (signed_stream()) {
            // Extensions are ";name=value"; the signed form carries chunk-signature, others are
            // tolerated and ignored.
            bool found = false;
            std::string_view rest = semicolon == std::string_view::npos
                                        ? std::string_view{}
                                        : line.substr(semicolon + 1);
            while (!rest.empty()) {
                const std::size_t next = rest.find(';');
                const std::string_view extension = trim(rest.substr(0, next));
                rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
                const std::size_t eq = extension.find('=');
                if (eq != std::string_view::npos &&
                    trim(extension.substr(0, eq)) == "chunk-signature") {
                    chunk_signature = lowercase(trim(extension.substr(eq + 1)));
                    found = true;
                }
            }
            if (!found) {
                return unauthenticated(label + " carries no chunk-signature");
            }
            if (chunk_signature.size() != 64 || !is_hex(chunk_signature)) {
                return unauthenticated(label + " has a malformed chunk-signature");
            }
            chunk_hash.emplace();
        }

        if (options.decoded_content_length && size > *options.decoded_content_length - decoded) {
            return incomplete("the chunks carry more than x-amz-decoded-content-length (" +
                              std::to_string(*options.decoded_content_length) + ") bytes");
        }
        chunk_remaining = size;
        ++chunk_index;
        if (size == 0) {
            auto verified = verify_chunk_signature();
            if (!verified) {
                return verified;
            }
            phase = Phase::Trailers;
        } else {
            phase = Phase::ChunkData;
        }
        return {};
    }

    Result<void> verify_chunk_signature() {
        if (!signed_stream()) {
            return {};
        }
        const std::string data_hash = crypto::hex_encode(chunk_hash->finish());
        chunk_hash.reset();
        const std::string expected = options.signatures->next_chunk_signature(data_hash);
        if (!crypto::constant_time_equal(expected, chunk_signature)) {
            return unauthenticated("the signature of chunk " + std::to_string(chunk_index) +
                                   " does not match");
        }
        return {};
    }

    void consume(const char* data, std::size_t n) {
        const std::string_view bytes(data, n);
        if (chunk_hash) {
            chunk_hash->update(bytes);
        }
        for (auto& entry : checksums) {
            entry.second.update(bytes);
        }
        chunk_remaining -= n;
        decoded += n;
        if (chunk_remaining == 0) {
            phase = Phase::ChunkEnd;
        }
    }

    Result<std::size_t> read_data(std::span<char> out) {
        const std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), chunk_remaining));
        if (begin == end && want < kDirectReadThreshold) {
            auto more = fill();
            if (!more) {
                return more.error();
            }
            if (!*more) {
                return incomplete("the body ends inside chunk " + std::to_string(chunk_index));
            }
        }
        std::size_t n = 0;
        if (begin < end) {
            n = std::min(want, end - begin);
            std::memcpy(out.data(), buffer.data() + begin, n);
            begin += n;
        } else {
            // Large reads go straight from the wire to the caller, never past this chunk.
            if (wire_eof) {
                return incomplete("the body ends inside chunk " + std::to_string(chunk_index));
            }
            auto got = wire.read(out.first(want));
            if (!got) {
                return got.error();
            }
            if (*got == 0) {
                wire_eof = true;
                return incomplete("the body ends inside chunk " + std::to_string(chunk_index));
            }
            n = std::min(*got, want);
        }
        consume(out.data(), n);
        return n;
    }

    Result<void> add_trailer_line(std::string_view line) {
        trailer_bytes += line.size() + 2;
        if (trailer_bytes > options.max_trailer_bytes) {
            return invalid("the trailer is larger than " +
                           std::to_string(options.max_trailer_bytes) + " bytes");
        }
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || trim(line.substr(0, colon)).empty()) {
            return invalid("malformed trailer line");
        }
        std::string name = lowercase(trim(line.substr(0, colon)));
        std::string value(trim(line.substr(colon + 1)));
        if (name == kTrailerSignature) {
            if (trailer_signature) {
                return unauthenticated("the trailer carries two x-amz-trailer-signature lines");
            }
            trailer_signature = lowercase(value);
            return {};
        }
        if (trailer_signature && signed_stream()) {
            return unauthenticated("trailer line '" + name + "' follows the trailer signature");
        }
        const bool duplicate = std::any_of(trailers.begin(), trailers.end(),
                                           [&](const auto& t) { return t.first == name; });
        if (duplicate) {
            return invalid("trailer '" + name + "' appears twice");
        }
        signed_trailer_text.append(line).push_back('\n');
        trailers.emplace_back(std::move(name), std::move(value));
        return {};
    }

    Result<void> finish() {
        if (signed_stream()) {
            if (options.expect_trailer) {
                if (!trailer_signature) {
                    return unauthenticated("the trailer has no x-amz-trailer-signature");
                }
                const std::string expected =
                    options.signatures->trailer_signature(signed_trailer_text);
                if (!crypto::constant_time_equal(expected, *trailer_signature)) {
                    return unauthenticated("the trailer signature does not match");
                }
            } else if (!trailers.empty() || trailer_signature) {
                return invalid("trailer lines in a stream whose payload type has no trailer");
            }
        }
        if (options.decoded_content_length && decoded != *options.decoded_content_length) {
            return incomplete("decoded " + std::to_string(decoded) +
                              " bytes, x-amz-decoded-content-length says " +
                              std::to_string(*options.decoded_content_length));
        }
        for (const std::string& announced : options.announced_trailers) {
            const std::string name = lowercase(trim(announced));
            if (name.empty()) {
                continue;
            }
            const bool present = std::any_of(trailers.begin(), trailers.end(),
                                             [&](const auto& t) { return t.first == name; });
            if (!present) {
                return incomplete("the trailer '" + name +
                                  "' announced in x-amz-trailer is missing");
            }
        }
        for (const auto& [name, value] : trailers) {
            if (name.rfind(kChecksumPrefix, 0) != 0) {
                continue;
            }
            auto entry = std::find_if(checksums.begin(), checksums.end(),
                                      [&](const auto& c) { return c.first == name; });
            if (entry == checksums.end()) {
                return invalid("the trailer '" + name + "' was not announced in x-amz-trailer");
            }
            const crypto::ChecksumAlgorithm algorithm = entry->second.algorithm();
            const auto provided = crypto::base64_decode(value);
            if (!provided || provided->size() != crypto::checksum_size(algorithm)) {
                return invalid("value for " + name + " is invalid");
            }
            const std::string computed = entry->second.finish_raw();
            if (!crypto::constant_time_equal(computed, *provided)) {
                return decode_error(ErrorCode::CorruptInput, kBadDigest,
                                    "The " + std::string(crypto::checksum_name(algorithm)) +
                                        " you specified did not match the calculated checksum.");
            }
        }
        return drain();
    }

    // The wire must end here; a few stray line ends are tolerated.
    Result<void> drain() {
        std::size_t line_ends = 0;
        while (true) {
            for (; begin < end; ++begin) {
                const char c = buffer[begin];
                if ((c != '\r' && c != '\n') || ++line_ends > kMaxTrailingLineEnds) {
                    return invalid("unexpected data after the end of the body");
                }
            }
            auto more = fill();
            if (!more) {
                return more.error();
            }
            if (!*more) {
                return {};
            }
        }
    }

    Result<std::size_t> step(std::span<char> out) {
        while (true) {
            switch (phase) {
            case Phase::Start: {
                auto started = start();
                if (!started) {
                    return started.error();
                }
                phase = Phase::ChunkHeader;
                break;
            }
            case Phase::ChunkHeader: {
                std::string_view line;
                auto status = read_line(options.max_chunk_header, "chunk header", line);
                if (!status) {
                    return status.error();
                }
                if (*status == LineStatus::Eof) {
                    return incomplete("the body ends before the final zero-length chunk");
                }
                auto parsed = parse_chunk_header(line);
                if (!parsed) {
                    return parsed.error();
                }
                break;
            }
            case Phase::ChunkData:
                return read_data(out);
            case Phase::ChunkEnd: {
                std::string_view line;
                auto status = read_line(options.max_chunk_header, "chunk end", line);
                if (!status) {
                    return status.error();
                }
                if (*status == LineStatus::Eof) {
                    return incomplete("the body ends after the data of chunk " +
                                      std::to_string(chunk_index));
                }
                if (!line.empty()) {
                    return invalid("chunk " + std::to_string(chunk_index) +
                                   " is longer than its declared size");
                }
                auto verified = verify_chunk_signature();
                if (!verified) {
                    return verified.error();
                }
                phase = Phase::ChunkHeader;
                break;
            }
            case Phase::Trailers: {
                std::string_view line;
                auto status = read_line(options.max_trailer_bytes, "trailer line", line);
                if (!status) {
                    return status.error();
                }
                // The empty line ends the trailer; the wire ending right after "0\r\n" (or
                // after the trailer lines) is tolerated as the same thing.
                if (*status == LineStatus::Eof || line.empty()) {
                    auto finished = finish();
                    if (!finished) {
                        return finished.error();
                    }
                    phase = Phase::Done;
                    return std::size_t{0};
                }
                auto added = add_trailer_line(line);
                if (!added) {
                    return added.error();
                }
                break;
            }
            case Phase::Done:
                return std::size_t{0};
            case Phase::Failed:
                return *failure;
            }
        }
    }
};

AwsChunkedSource::AwsChunkedSource(ByteSource& wire, AwsChunkedOptions options)
    : state_(std::make_unique<State>(wire, std::move(options))) {}

AwsChunkedSource::~AwsChunkedSource() = default;

Result<std::size_t> AwsChunkedSource::read(std::span<char> out) {
    if (state_->phase == State::Phase::Failed) {
        return *state_->failure;
    }
    if (out.empty() && state_->phase != State::Phase::Done) {
        // A zero-byte read cannot report progress without looking like the end of the stream.
        return state_->fail(
            make_error(ErrorCode::Internal, "aws-chunked read into an empty buffer"));
    }
    auto result = state_->step(out);
    if (!result) {
        return state_->fail(result.error());
    }
    return result;
}

const std::vector<std::pair<std::string, std::string>>& AwsChunkedSource::trailers() const {
    return state_->trailers;
}

std::string_view aws_chunked_error_code(const Error& error) {
    if (error.code == ErrorCode::Unauthenticated) {
        return kSignatureDoesNotMatch;
    }
    const std::string_view text = error.public_message;
    for (const std::string_view code : {kBadDigest, kIncompleteBody, kInvalidRequest}) {
        if (text.size() > code.size() + 1 && text.substr(0, code.size()) == code &&
            text.substr(code.size(), 2) == ": ") {
            return code;
        }
    }
    // Errors of the wire underneath (the client went silent, the connection dropped).
    if (error.code == ErrorCode::Timeout) {
        return "RequestTimeout";
    }
    if (error.code == ErrorCode::CorruptInput) {
        return kIncompleteBody;
    }
    return "InternalError";
}

std::string_view aws_chunked_error_message(const Error& error) {
    const std::string_view code = aws_chunked_error_code(error);
    std::string_view text = error.client_message();
    if (text.size() > code.size() + 2 && text.substr(0, code.size()) == code &&
        text.substr(code.size(), 2) == ": ") {
        text.remove_prefix(code.size() + 2);
    }
    return text;
}

} // namespace pf::aws
