#include "aws/aws_chunked.h"
#include "crypto/checksum.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>
#include <vector>

namespace pf::aws {
namespace {

constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kAmzDate = "20130524T000000Z";
const CredentialScope kScope{"20130524", "us-east-1", "s3"};

// Sheet 2.7 #6 and #7 (the seeds are recomputed from their canonical requests in sigv4_test).
constexpr std::string_view kSeed6 =
    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const std::vector<std::string> kChunkSigs6 = {
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"};
constexpr std::string_view kSeed7 =
    "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";
const std::vector<std::string> kChunkSigs7 = {
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"};
constexpr std::string_view kTrailerSig7 =
    "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435";

// Sheet 2.7 #11, as botocore sends it (inside the HTTP chunking, already removed here).
constexpr std::string_view kUnsignedHello =
    "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";

// A wire that hands out at most `step` bytes per read, and counts what it gave.
class WireSource : public ByteSource {
public:
    WireSource(std::string data, std::size_t step) : data_(std::move(data)), step_(step) {}
    Result<std::size_t> read(std::span<char> out) override {
        const std::size_t n = std::min({out.size(), step_, data_.size() - pos_});
        std::memcpy(out.data(), data_.data() + pos_, n);
        pos_ += n;
        return n;
    }
    std::size_t consumed() const { return pos_; }

private:
    std::string data_;
    std::size_t step_;
    std::size_t pos_ = 0;
};

// A wire whose connection fails after `good` bytes.
class BrokenWire : public ByteSource {
public:
    BrokenWire(std::string data, std::size_t good) : data_(std::move(data)), good_(good) {}
    Result<std::size_t> read(std::span<char> out) override {
        if (pos_ >= good_) {
            return make_error(ErrorCode::Timeout, "client stopped sending");
        }
        const std::size_t n = std::min(out.size(), good_ - pos_);
        std::memcpy(out.data(), data_.data() + pos_, n);
        pos_ += n;
        return n;
    }

private:
    std::string data_;
    std::size_t good_;
    std::size_t pos_ = 0;
};

Result<std::string> drain(ByteSource& source, std::size_t read_size) {
    std::string out;
    std::vector<char> buffer(read_size);
    while (true) {
        auto n = source.read(buffer);
        if (!n) {
            return n.error();
        }
        if (*n == 0) {
            return out;
        }
        EXPECT_LE(*n, read_size);
        out.append(buffer.data(), *n);
    }
}

std::string hex_size(std::size_t n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%zx", n);
    return buf;
}

std::string signed_chunk(std::string_view data, std::string_view sig) {
    std::string out = hex_size(data.size()) + ";chunk-signature=";
    out.append(sig).append("\r\n").append(data).append("\r\n");
    return out;
}

std::string vector6_wire() {
    return signed_chunk(std::string(65536, 'a'), kChunkSigs6[0]) +
           signed_chunk(std::string(1024, 'a'), kChunkSigs6[1]) + signed_chunk("", kChunkSigs6[2]);
}

std::string vector7_wire() {
    std::string wire = signed_chunk(std::string(65536, 'a'), kChunkSigs7[0]) +
                       signed_chunk(std::string(1024, 'a'), kChunkSigs7[1]);
    wire += "0;chunk-signature=" + kChunkSigs7[2] + "\r\n";
    wire += "x-amz-checksum-crc32c:sOO8/Q==\r\n";
    wire += "x-amz-trailer-signature:" + std::string(kTrailerSig7) + "\r\n\r\n";
    return wire;
}

ChunkSignatureChain chain(std::string_view seed) {
    return ChunkSignatureChain(signing_key(kSecret, kScope), std::string(kAmzDate), kScope,
                               std::string(seed));
}

AwsChunkedOptions vector6_options() {
    AwsChunkedOptions options;
    options.signatures = chain(kSeed6);
    options.decoded_content_length = 66560;
    return options;
}

AwsChunkedOptions vector7_options() {
    AwsChunkedOptions options;
    options.signatures = chain(kSeed7);
    options.expect_trailer = true;
    options.announced_trailers = {"x-amz-checksum-crc32c"};
    options.decoded_content_length = 66560;
    return options;
}

AwsChunkedOptions unsigned_options(std::vector<std::string> announced = {"x-amz-checksum-crc32"}) {
    AwsChunkedOptions options;
    options.expect_trailer = true;
    options.announced_trailers = std::move(announced);
    return options;
}

Result<std::string> decode(std::string wire, AwsChunkedOptions options,
                           std::size_t read_size = 8192, std::size_t wire_step = 1 << 20) {
    WireSource source(std::move(wire), wire_step);
    AwsChunkedSource decoder(source, std::move(options));
    return drain(decoder, read_size);
}

// A client that signs its own chunks: arbitrary chunk sizes and trailers for the tests below.
std::string encode_signed(std::string_view data, const std::vector<std::size_t>& sizes,
                          std::string_view seed, const std::vector<std::string>& trailer_lines,
                          bool with_trailer) {
    ChunkSignatureChain signer = chain(seed);
    std::string wire;
    std::size_t pos = 0;
    for (const std::size_t size : sizes) {
        const std::string_view piece = data.substr(pos, size);
        pos += size;
        wire += signed_chunk(piece, signer.next_chunk_signature(crypto::sha256_hex(piece)));
    }
    wire += "0;chunk-signature=" + signer.next_chunk_signature(kEmptySha256) + "\r\n";
    if (with_trailer) {
        std::string signed_text;
        for (const auto& line : trailer_lines) {
            wire += line + "\r\n";
            signed_text += line + "\n";
        }
        wire += "x-amz-trailer-signature:" + signer.trailer_signature(signed_text) + "\r\n";
    }
    wire += "\r\n";
    return wire;
}

void expect_failure(const Result<std::string>& result, ErrorCode code, std::string_view s3_code,
                    std::string_view message_part = {}) {
    ASSERT_FALSE(result.has_value()) << "decoded " << result->size() << " bytes";
    EXPECT_EQ(result.error().code, code) << result.error().message;
    EXPECT_EQ(aws_chunked_error_code(result.error()), s3_code) << result.error().message;
    if (!message_part.empty()) {
        EXPECT_NE(result.error().message.find(message_part), std::string::npos)
            << result.error().message;
    }
}

TEST(AwsChunked, Vector6SignedChunksInManyReadSizes) {
    const std::string wire = vector6_wire();
    ASSERT_EQ(wire.size(), 66824u) << "the sheet's content-length";
    const std::pair<std::size_t, std::size_t> shapes[] = {
        {1, 1 << 20},       {1, 1},        {3, 7}, {4096, 1}, {65535, 4096}, {65536, 65536},
        {1 << 20, 1 << 20}, {100'000, 333}};
    for (const auto& [read_size, wire_step] : shapes) {
        auto decoded = decode(wire, vector6_options(), read_size, wire_step);
        ASSERT_TRUE(decoded.has_value())
            << read_size << "/" << wire_step << ": " << decoded.error().message;
        EXPECT_EQ(*decoded, std::string(66560, 'a')) << read_size << "/" << wire_step;
    }
}

TEST(AwsChunked, Vector7SignedChunksAndSignedTrailer) {
    const std::string wire = vector7_wire();
    for (const auto& [read_size, wire_step] : std::vector<std::pair<std::size_t, std::size_t>>{
             {1, 1 << 20}, {1, 1}, {7, 3}, {65536, 5000}, {1 << 20, 1 << 20}}) {
        WireSource source(wire, wire_step);
        AwsChunkedSource decoder(source, vector7_options());
        auto decoded = drain(decoder, read_size);
        ASSERT_TRUE(decoded.has_value()) << read_size << ": " << decoded.error().message;
        EXPECT_EQ(*decoded, std::string(66560, 'a'));
        const std::vector<std::pair<std::string, std::string>> trailers = {
            {"x-amz-checksum-crc32c", "sOO8/Q=="}};
        EXPECT_EQ(decoder.trailers(), trailers);
    }
}

TEST(AwsChunked, Vector11UnsignedWithChecksumTrailer) {
    for (const std::size_t read_size : {1ul, 2ul, 5ul, 11ul, 4096ul}) {
        for (const std::size_t wire_step : {1ul, 4ul, 1000ul}) {
            WireSource source(std::string(kUnsignedHello), wire_step);
            AwsChunkedSource decoder(source, unsigned_options());
            auto decoded = drain(decoder, read_size);
            ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
            EXPECT_EQ(*decoded, "hello world");
            ASSERT_EQ(decoder.trailers().size(), 1u);
            EXPECT_EQ(decoder.trailers()[0].first, "x-amz-checksum-crc32");
            EXPECT_EQ(decoder.trailers()[0].second, "DUoRhQ==");
            EXPECT_EQ(crypto::hex_encode(crypto::as_bytes(crypto::md5(*decoded))),
                      "5eb63bbbe01eeed093cb22bb8f5acdc3")
                << "the ETag of the decoded body";
        }
    }
}

TEST(AwsChunked, EveryDataByteIsCoveredByTheChunkSignature) {
    const std::string wire = vector6_wire();
    const std::size_t first_data = wire.find("\r\n") + 2;
    const std::size_t second_header = first_data + 65536 + 2;
    const std::size_t second_data = wire.find("\r\n", second_header) + 2;
    for (const std::size_t pos :
         {first_data, first_data + 1, first_data + 32768, first_data + 65535, second_data,
          second_data + 512, second_data + 1023}) {
        std::string tampered = wire;
        tampered[pos] = 'b';
        expect_failure(decode(tampered, vector6_options()), ErrorCode::Unauthenticated,
                       "SignatureDoesNotMatch", "does not match");
    }
}

TEST(AwsChunked, EverySignatureCharacterMatters) {
    const std::string wire6 = vector6_wire();
    for (const auto& sig : kChunkSigs6) {
        const std::size_t at = wire6.find(sig);
        ASSERT_NE(at, std::string::npos);
        for (std::size_t i = 0; i < sig.size(); ++i) {
            std::string tampered = wire6;
            tampered[at + i] = sig[i] == '0' ? '1' : '0';
            expect_failure(decode(tampered, vector6_options(), 65536), ErrorCode::Unauthenticated,
                           "SignatureDoesNotMatch");
        }
    }
    const std::string wire7 = vector7_wire();
    const std::size_t at = wire7.find(kTrailerSig7);
    for (std::size_t i = 0; i < kTrailerSig7.size(); ++i) {
        std::string tampered = wire7;
        tampered[at + i] = kTrailerSig7[i] == 'f' ? 'e' : 'f';
        expect_failure(decode(tampered, vector7_options(), 65536), ErrorCode::Unauthenticated,
                       "SignatureDoesNotMatch", "trailer signature");
    }
}

TEST(AwsChunked, SignedTrailerValueIsCovered) {
    std::string tampered = vector7_wire();
    const std::size_t at = tampered.find("sOO8/Q==");
    tampered.replace(at, 8, "AAAAAA==");
    expect_failure(decode(tampered, vector7_options()), ErrorCode::Unauthenticated,
                   "SignatureDoesNotMatch", "trailer signature");
}

TEST(AwsChunked, MissingOrMalformedSignaturesAreUnauthenticated) {
    std::string no_sig = vector6_wire();
    no_sig.replace(0, no_sig.find("\r\n"), "10000");
    expect_failure(decode(no_sig, vector6_options()), ErrorCode::Unauthenticated,
                   "SignatureDoesNotMatch", "no chunk-signature");

    std::string short_sig = vector6_wire();
    short_sig.erase(short_sig.find("\r\n") - 1, 1);
    expect_failure(decode(short_sig, vector6_options()), ErrorCode::Unauthenticated,
                   "SignatureDoesNotMatch", "malformed chunk-signature");

    std::string no_trailer_sig = vector7_wire();
    no_trailer_sig.erase(no_trailer_sig.find("x-amz-trailer-signature"));
    no_trailer_sig += "\r\n";
    expect_failure(decode(no_trailer_sig, vector7_options()), ErrorCode::Unauthenticated,
                   "SignatureDoesNotMatch", "no x-amz-trailer-signature");

    // The right chunks but the wrong seed (another request's signature).
    AwsChunkedOptions wrong_seed = vector6_options();
    wrong_seed.signatures = chain(kSeed7);
    expect_failure(decode(vector6_wire(), std::move(wrong_seed)), ErrorCode::Unauthenticated,
                   "SignatureDoesNotMatch", "chunk 1");
}

TEST(AwsChunked, UppercaseSignatureHexIsAccepted) {
    std::string wire = vector6_wire();
    const std::size_t start = wire.find('=') + 1;
    for (std::size_t i = start; i < start + 64; ++i) {
        wire[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(wire[i])));
    }
    ASSERT_EQ(wire.find(kChunkSigs6[0]), std::string::npos);
    auto decoded = decode(wire, vector6_options());
    ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
    EXPECT_EQ(decoded->size(), 66560u);
}

TEST(AwsChunked, WrongTrailerChecksumIsBadDigest) {
    std::string wire(kUnsignedHello);
    wire.replace(wire.find("DUoRhQ=="), 8, "AAAAAA==");
    auto result = decode(wire, unsigned_options());
    expect_failure(result, ErrorCode::CorruptInput, "BadDigest");
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(aws_chunked_error_message(result.error()),
              "The CRC32 you specified did not match the calculated checksum.");

    // A client that signed a wrong checksum: authentic, but still BadDigest.
    const std::string data(100'000, 'z');
    const std::string wrong = crypto::checksum_base64(crypto::ChecksumAlgorithm::Crc32c, "other");
    AwsChunkedOptions options = vector7_options();
    options.decoded_content_length = data.size();
    auto signed_result = decode(
        encode_signed(data, {65536, 34464}, kSeed7, {"x-amz-checksum-crc32c:" + wrong}, true),
        std::move(options));
    expect_failure(signed_result, ErrorCode::CorruptInput, "BadDigest", "CRC32C");
}

TEST(AwsChunked, EveryChecksumAlgorithmIsVerifiedAsATrailer) {
    std::string data;
    for (int i = 0; i < 50'000; ++i) {
        data.push_back(static_cast<char>(i * 7));
    }
    for (auto algorithm : {crypto::ChecksumAlgorithm::Crc32, crypto::ChecksumAlgorithm::Crc32c,
                           crypto::ChecksumAlgorithm::Crc64Nvme, crypto::ChecksumAlgorithm::Sha1,
                           crypto::ChecksumAlgorithm::Sha256}) {
        const std::string header = crypto::checksum_header(algorithm);
        const std::string good = crypto::checksum_base64(algorithm, data);
        std::string wire = hex_size(30'000) + "\r\n" + data.substr(0, 30'000) + "\r\n" +
                           hex_size(20'000) + "\r\n" + data.substr(30'000) + "\r\n0\r\n" + header +
                           ":" + good + "\r\n\r\n";
        auto ok = decode(wire, unsigned_options({header}), 4096);
        ASSERT_TRUE(ok.has_value()) << header << ": " << ok.error().message;
        EXPECT_EQ(*ok, data);

        std::string bad = wire;
        bad.replace(bad.find(good), good.size(), crypto::checksum_base64(algorithm, data + "!"));
        expect_failure(decode(bad, unsigned_options({header}), 4096), ErrorCode::CorruptInput,
                       "BadDigest");
    }
}

TEST(AwsChunked, SignedStreamsOfAnyChunkingRoundTrip) {
    std::string data(300'001, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) {
        data[i] = static_cast<char>((i * 31) ^ (i >> 9));
    }
    const std::string crc = crypto::checksum_base64(crypto::ChecksumAlgorithm::Crc32, data);
    const std::vector<std::vector<std::size_t>> chunkings = {
        {300'001}, {1, 300'000}, {8192, 8192, 283'617}, {100'000, 100'000, 100'000, 1}};
    for (const auto& sizes : chunkings) {
        AwsChunkedOptions plain;
        plain.signatures = chain(kSeed6);
        plain.decoded_content_length = data.size();
        auto decoded =
            decode(encode_signed(data, sizes, kSeed6, {}, false), std::move(plain), 10'000);
        ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
        EXPECT_EQ(*decoded, data);

        AwsChunkedOptions trailer;
        trailer.signatures = chain(kSeed7);
        trailer.expect_trailer = true;
        trailer.announced_trailers = {"x-amz-checksum-crc32"};
        auto with_trailer =
            decode(encode_signed(data, sizes, kSeed7, {"x-amz-checksum-crc32:" + crc}, true),
                   std::move(trailer), 777);
        ASSERT_TRUE(with_trailer.has_value()) << with_trailer.error().message;
        EXPECT_EQ(*with_trailer, data);
    }
}

TEST(AwsChunked, HugeChunksAreStreamedNotBuffered) {
    // One 20 MiB chunk, as the Go SDK may send: the first bytes come out long before the chunk
    // has been read from the wire, and large reads go straight through.
    const std::string data(20 << 20, 'q');
    WireSource source(hex_size(data.size()) + "\r\n" + data + "\r\n0\r\n\r\n", 1 << 20);
    AwsChunkedOptions options;
    options.decoded_content_length = data.size();
    AwsChunkedSource decoder(source, std::move(options));
    std::vector<char> buffer(256 << 10);
    auto first = decoder.read(buffer);
    ASSERT_TRUE(first.has_value());
    EXPECT_GT(*first, 0u);
    EXPECT_LT(source.consumed(), std::size_t{2} << 20);
    std::size_t total = *first;
    while (true) {
        auto n = decoder.read(buffer);
        ASSERT_TRUE(n.has_value()) << n.error().message;
        if (*n == 0) {
            break;
        }
        total += *n;
        EXPECT_LE(source.consumed(), total + (1 << 20)) << "read ahead by more than a wire block";
    }
    EXPECT_EQ(total, data.size());
}

TEST(AwsChunked, TruncationAnywhereIsIncompleteBody) {
    const std::string wire(kUnsignedHello);
    for (std::size_t cut = 0; cut < wire.size(); ++cut) {
        auto result = decode(wire.substr(0, cut), unsigned_options(), 3, 2);
        if (cut == wire.size() - 2) {
            // Only the final empty line is missing: the tolerated "EOF after the trailer".
            ASSERT_TRUE(result.has_value()) << result.error().message;
            EXPECT_EQ(*result, "hello world");
            continue;
        }
        expect_failure(result, ErrorCode::CorruptInput, "IncompleteBody");
    }
    const std::string signed_wire = vector7_wire();
    for (const std::size_t cut :
         {std::size_t{0}, std::size_t{10}, std::size_t{100}, std::size_t{65625}, std::size_t{65630},
          signed_wire.size() - 40, signed_wire.find("x-amz-trailer-signature") + 30}) {
        auto result = decode(signed_wire.substr(0, cut), vector7_options(), 4096, 1000);
        ASSERT_FALSE(result.has_value()) << cut;
        EXPECT_EQ(aws_chunked_error_code(result.error()), "IncompleteBody")
            << cut << ": " << result.error().message;
    }
}

TEST(AwsChunked, ToleratedFramingVariants) {
    // JS in a browser without a checksum: EOF straight after the last chunk.
    auto bare = decode("5\r\nhello\r\n0\r\n", AwsChunkedOptions{});
    ASSERT_TRUE(bare.has_value()) << bare.error().message;
    EXPECT_EQ(*bare, "hello");

    // Trailer lines ending in a bare LF.
    auto lf =
        decode("b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\n\n", unsigned_options());
    ASSERT_TRUE(lf.has_value()) << lf.error().message;
    EXPECT_EQ(*lf, "hello world");

    // Uppercase hex size, zero-padded sizes, extensions on unsigned chunks.
    auto hex = decode("0B;ext=1\r\nhello world\r\n000\r\n\r\n", AwsChunkedOptions{});
    ASSERT_TRUE(hex.has_value()) << hex.error().message;
    EXPECT_EQ(*hex, "hello world");

    // An empty object.
    auto empty = decode("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", unsigned_options());
    ASSERT_TRUE(empty.has_value()) << empty.error().message;
    EXPECT_EQ(*empty, "");

    // A stray line end after the end.
    auto stray = decode(std::string(kUnsignedHello) + "\r\n", unsigned_options());
    ASSERT_TRUE(stray.has_value()) << stray.error().message;
}

TEST(AwsChunked, DecodedLengthMustMatch) {
    AwsChunkedOptions longer = unsigned_options();
    longer.decoded_content_length = 12;
    expect_failure(decode(std::string(kUnsignedHello), std::move(longer)), ErrorCode::CorruptInput,
                   "IncompleteBody", "decoded 11 bytes, x-amz-decoded-content-length says 12");

    AwsChunkedOptions shorter = unsigned_options();
    shorter.decoded_content_length = 10;
    expect_failure(decode(std::string(kUnsignedHello), std::move(shorter)), ErrorCode::CorruptInput,
                   "IncompleteBody", "more than x-amz-decoded-content-length");

    AwsChunkedOptions signed_options = vector6_options();
    signed_options.decoded_content_length = 66561;
    expect_failure(decode(vector6_wire(), std::move(signed_options)), ErrorCode::CorruptInput,
                   "IncompleteBody");
}

TEST(AwsChunked, MalformedChunkHeadersAreInvalidRequest) {
    const std::pair<std::string, std::string> cases[] = {
        {"zz\r\nhello\r\n0\r\n\r\n", "malformed size"},
        {"\r\nhello\r\n0\r\n\r\n", "malformed size"},
        {"-1\r\nhello\r\n0\r\n\r\n", "malformed size"},
        {"0x5\r\nhello\r\n0\r\n\r\n", "malformed size"},
        {" 5\r\nhello\r\n0\r\n\r\n", "malformed size"},
        {"5 \r\nhello\r\n0\r\n\r\n", "malformed size"},
        {"fffffffffffffffffff\r\nhello\r\n0\r\n\r\n", "impossibly large"},
        {"ffffffffffffffff\r\nhello\r\n0\r\n\r\n", "impossibly large"},
        {"3\r\nhello\r\n0\r\n\r\n", "longer than its declared size"},
        {std::string(5000, '1') + "\r\n", "chunk header is longer than 4096 bytes"},
        {std::string(5000, '1'), "chunk header is longer than 4096 bytes"},
        {"5;" + std::string(5000, 'x') + "\r\nhello\r\n0\r\n\r\n", "longer than 4096"},
        {"5\r\nhello\r\n0\r\nno colon here\r\n\r\n", "malformed trailer line"},
        {"5\r\nhello\r\n0\r\n:value\r\n\r\n", "malformed trailer line"},
        {"5\r\nhello\r\n0\r\n\r\ntrailing garbage", "after the end of the body"},
    };
    for (const auto& [wire, message] : cases) {
        for (const std::size_t step : {1ul, 1ul << 20}) {
            expect_failure(decode(wire, AwsChunkedOptions{}, 64, step), ErrorCode::CorruptInput,
                           "InvalidRequest", message);
        }
    }
}

TEST(AwsChunked, TrailerRules) {
    // A checksum trailer nobody announced cannot have been computed: refused, not trusted.
    expect_failure(decode(std::string(kUnsignedHello), unsigned_options({})),
                   ErrorCode::CorruptInput, "InvalidRequest", "not announced");
    // An announced trailer that never came.
    expect_failure(decode("b\r\nhello world\r\n0\r\n\r\n", unsigned_options()),
                   ErrorCode::CorruptInput, "IncompleteBody", "missing");
    // An algorithm we cannot compute.
    expect_failure(decode(std::string(kUnsignedHello), unsigned_options({"x-amz-checksum-sha512"})),
                   ErrorCode::CorruptInput, "InvalidRequest", "unsupported checksum");
    // Not base64 of the right size.
    expect_failure(
        decode("b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ\r\n\r\n", unsigned_options()),
        ErrorCode::CorruptInput, "InvalidRequest", "is invalid");
    // The same trailer twice.
    expect_failure(decode("b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n"
                          "x-amz-checksum-crc32:DUoRhQ==\r\n\r\n",
                          unsigned_options()),
                   ErrorCode::CorruptInput, "InvalidRequest", "twice");
    // Trailers in a signed stream without a signed trailer cannot be authenticated.
    std::string wire6 = vector6_wire();
    wire6.insert(wire6.size() - 2, "x-amz-checksum-crc32:AAAAAA==\r\n");
    expect_failure(decode(wire6, vector6_options()), ErrorCode::CorruptInput, "InvalidRequest",
                   "no trailer");
    // A trailer bigger than the limit.
    AwsChunkedOptions small = unsigned_options({});
    small.max_trailer_bytes = 64;
    expect_failure(decode("0\r\nx-custom:" + std::string(40, 'v') +
                              "\r\nx-other:" + std::string(40, 'v') + "\r\n\r\n",
                          std::move(small)),
                   ErrorCode::CorruptInput, "InvalidRequest", "larger than 64");
    // Non-checksum trailers are kept, names lowercased, values trimmed.
    WireSource source("0\r\nX-Custom:  v 1 \r\n\r\n", 100);
    AwsChunkedSource decoder(source, unsigned_options({}));
    auto decoded = drain(decoder, 16);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
    ASSERT_EQ(decoder.trailers().size(), 1u);
    EXPECT_EQ(decoder.trailers()[0], (std::pair<std::string, std::string>{"x-custom", "v 1"}));
}

TEST(AwsChunked, WireErrorsPassThroughAndErrorsAreFinal) {
    BrokenWire wire(vector6_wire(), 30'000);
    AwsChunkedSource decoder(wire, vector6_options());
    auto result = drain(decoder, 4096);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, ErrorCode::Timeout);
    EXPECT_EQ(aws_chunked_error_code(result.error()), "RequestTimeout");
    std::vector<char> buffer(10);
    auto again = decoder.read(buffer);
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, ErrorCode::Timeout);

    WireSource source("zz\r\n", 10);
    AwsChunkedSource bad(source, AwsChunkedOptions{});
    auto first = bad.read(buffer);
    auto second = bad.read(buffer);
    ASSERT_FALSE(first.has_value());
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(first.error().message, second.error().message);
}

TEST(AwsChunked, ErrorCodeMapping) {
    EXPECT_EQ(aws_chunked_error_code(make_error(ErrorCode::Unauthenticated, "x")),
              "SignatureDoesNotMatch");
    EXPECT_EQ(aws_chunked_error_code(make_error(ErrorCode::CorruptInput, "x", "BadDigest: y")),
              "BadDigest");
    EXPECT_EQ(aws_chunked_error_code(make_error(ErrorCode::CorruptInput, "x")), "IncompleteBody");
    EXPECT_EQ(aws_chunked_error_code(make_error(ErrorCode::Unavailable, "gone")), "InternalError");
    EXPECT_EQ(
        aws_chunked_error_message(make_error(ErrorCode::CorruptInput, "x", "InvalidRequest: why")),
        "why");
    EXPECT_EQ(aws_chunked_error_message(make_error(ErrorCode::Timeout, "slow")), "slow");
}

} // namespace
} // namespace pf::aws
