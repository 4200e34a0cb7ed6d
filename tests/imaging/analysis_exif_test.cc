#include "imaging/analysis/exif_reader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace pf::imaging {
namespace {

// TIFF field types, spelled out so the tests do not depend on the reader's internals.
constexpr uint16_t kByte = 1;
constexpr uint16_t kAscii = 2;
constexpr uint16_t kShort = 3;
constexpr uint16_t kLong = 4;
constexpr uint16_t kRational = 5;
constexpr uint16_t kUndefined = 7;
constexpr uint16_t kSRational = 10;

struct TestEntry {
    uint16_t tag = 0;
    uint16_t type = 0;
    uint32_t count = 0;
    std::string payload = {};           // encoded value bytes, placed inline or out of line
    int ifd_ref = -1;                   // >= 0: value is the offset of that IFD in the blob
    std::optional<uint32_t> field = {}; // raw 4-byte value/offset field, written verbatim
};

struct TestIfd {
    std::vector<TestEntry> entries;
    std::optional<uint16_t> count_override; // lie about the number of entries
};

// Small TIFF writer for building EXIF blobs in either byte order. IFDs are laid out in order,
// each followed by its out-of-line value data; IFD 0 is the first IFD.
class TiffWriter {
public:
    explicit TiffWriter(bool little_endian) : little_(little_endian) {}

    std::string u16(uint16_t v) const {
        std::string s(2, '\0');
        s[little_ ? 0 : 1] = static_cast<char>(v & 0xFF);
        s[little_ ? 1 : 0] = static_cast<char>(v >> 8);
        return s;
    }

    std::string u32(uint32_t v) const {
        std::string s(4, '\0');
        for (int i = 0; i < 4; ++i) {
            s[static_cast<size_t>(little_ ? i : 3 - i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
        }
        return s;
    }

    TestEntry ascii(uint16_t tag, const std::string& text) const {
        std::string payload = text + '\0';
        return TestEntry{tag, kAscii, static_cast<uint32_t>(payload.size()), payload};
    }

    TestEntry bytes(uint16_t tag, uint16_t type, const std::string& data) const {
        return TestEntry{tag, type, static_cast<uint32_t>(data.size()), data};
    }

    TestEntry shorts(uint16_t tag, std::vector<uint16_t> values) const {
        std::string payload;
        for (auto v : values)
            payload += u16(v);
        return TestEntry{tag, kShort, static_cast<uint32_t>(values.size()), payload};
    }

    TestEntry longs(uint16_t tag, std::vector<uint32_t> values) const {
        std::string payload;
        for (auto v : values)
            payload += u32(v);
        return TestEntry{tag, kLong, static_cast<uint32_t>(values.size()), payload};
    }

    TestEntry rationals(uint16_t tag, std::vector<std::pair<uint32_t, uint32_t>> values) const {
        std::string payload;
        for (auto [n, d] : values)
            payload += u32(n) + u32(d);
        return TestEntry{tag, kRational, static_cast<uint32_t>(values.size()), payload};
    }

    TestEntry srationals(uint16_t tag, std::vector<std::pair<int32_t, int32_t>> values) const {
        std::string payload;
        for (auto [n, d] : values) {
            payload += u32(static_cast<uint32_t>(n)) + u32(static_cast<uint32_t>(d));
        }
        return TestEntry{tag, kSRational, static_cast<uint32_t>(values.size()), payload};
    }

    TestEntry pointer(uint16_t tag, int ifd_index) const {
        return TestEntry{tag, kLong, 1, {}, ifd_index, std::nullopt};
    }

    TestEntry raw(uint16_t tag, uint16_t type, uint32_t count, uint32_t field) const {
        return TestEntry{tag, type, count, {}, -1, field};
    }

    std::string build(const std::vector<TestIfd>& ifds, bool exif_prefix = true) const {
        // First pass: where every IFD starts.
        std::vector<uint32_t> ifd_offsets;
        uint32_t cursor = 8;
        for (const auto& ifd : ifds) {
            ifd_offsets.push_back(cursor);
            cursor += static_cast<uint32_t>(2 + 12 * ifd.entries.size() + 4);
            for (const auto& e : ifd.entries) {
                if (!e.field && e.ifd_ref < 0 && e.payload.size() > 4) {
                    cursor += static_cast<uint32_t>((e.payload.size() + 1) & ~size_t{1});
                }
            }
        }
        // Second pass: serialise.
        std::string out = little_ ? std::string("II*\0", 4) : std::string("MM\0*", 4);
        out += u32(ifds.empty() ? 0 : ifd_offsets[0]);
        for (size_t k = 0; k < ifds.size(); ++k) {
            const auto& ifd = ifds[k];
            std::string table =
                u16(ifd.count_override.value_or(static_cast<uint16_t>(ifd.entries.size())));
            std::string data;
            uint32_t data_offset =
                ifd_offsets[k] + static_cast<uint32_t>(2 + 12 * ifd.entries.size() + 4);
            for (const auto& e : ifd.entries) {
                table += u16(e.tag) + u16(e.type) + u32(e.count);
                if (e.field) {
                    table += u32(*e.field);
                } else if (e.ifd_ref >= 0) {
                    table += u32(ifd_offsets[static_cast<size_t>(e.ifd_ref)]);
                } else if (e.payload.size() <= 4) {
                    std::string inline_value = e.payload;
                    inline_value.resize(4, '\0');
                    table += inline_value;
                } else {
                    table += u32(data_offset + static_cast<uint32_t>(data.size()));
                    data += e.payload;
                    if (data.size() % 2 != 0)
                        data += '\0';
                }
            }
            table += u32(0); // no next IFD
            out += table + data;
        }
        return exif_prefix ? std::string("Exif\0\0", 6) + out : out;
    }

private:
    bool little_;
};

// Tag numbers used by the tests.
constexpr uint16_t kMake = 0x010F;
constexpr uint16_t kModel = 0x0110;
constexpr uint16_t kOrientation = 0x0112;
constexpr uint16_t kSoftware = 0x0131;
constexpr uint16_t kDateTime = 0x0132;
constexpr uint16_t kArtist = 0x013B;
constexpr uint16_t kCopyright = 0x8298;
constexpr uint16_t kExifIfd = 0x8769;
constexpr uint16_t kGpsIfd = 0x8825;
constexpr uint16_t kExposureTime = 0x829A;
constexpr uint16_t kFNumber = 0x829D;
constexpr uint16_t kIso = 0x8827;
constexpr uint16_t kDateTimeOriginal = 0x9003;
constexpr uint16_t kOffsetTime = 0x9010;
constexpr uint16_t kOffsetTimeOriginal = 0x9011;
constexpr uint16_t kFocalLength = 0x920A;
constexpr uint16_t kFocalLength35 = 0xA405;
constexpr uint16_t kLensMake = 0xA433;
constexpr uint16_t kLensModel = 0xA434;
constexpr uint16_t kGpsLatRef = 1;
constexpr uint16_t kGpsLat = 2;
constexpr uint16_t kGpsLonRef = 3;
constexpr uint16_t kGpsLon = 4;
constexpr uint16_t kGpsAltRef = 5;
constexpr uint16_t kGpsAlt = 6;

// A realistic camera blob: IFD0 -> Exif IFD (index 1) and GPS IFD (index 2).
std::string full_blob(bool little_endian, bool exif_prefix = true) {
    TiffWriter w(little_endian);
    TestIfd ifd0{{
                     w.ascii(kMake, "Canon"),
                     w.ascii(kModel, "Canon EOS R5   "),
                     w.shorts(kOrientation, {6}),
                     w.ascii(kSoftware, "Photoflux 1.0"),
                     w.ascii(kDateTime, "2024:06:01 09:00:00"),
                     w.ascii(kArtist, "Jane Doe"),
                     w.bytes(kCopyright, kAscii, std::string("(c) Jane Doe\0Ed Itor\0", 21)),
                     w.pointer(kExifIfd, 1),
                     w.pointer(kGpsIfd, 2),
                 },
                 std::nullopt};
    TestIfd exif{{
                     w.rationals(kExposureTime, {{1, 250}}),
                     w.rationals(kFNumber, {{28, 10}}),
                     w.shorts(kIso, {400}),
                     w.ascii(kDateTimeOriginal, "2024:05:01 12:34:56"),
                     w.ascii(kOffsetTimeOriginal, "+02:00"),
                     w.rationals(kFocalLength, {{50, 1}}),
                     w.shorts(kFocalLength35, {75}),
                     w.ascii(kLensMake, "Canon"),
                     w.ascii(kLensModel, "RF50mm F1.8 STM"),
                 },
                 std::nullopt};
    TestIfd gps{{
                    w.ascii(kGpsLatRef, "S"),
                    w.rationals(kGpsLat, {{33, 1}, {51, 1}, {3564, 100}}),
                    w.ascii(kGpsLonRef, "E"),
                    w.rationals(kGpsLon, {{151, 1}, {12, 1}, {4032, 100}}),
                    w.bytes(kGpsAltRef, kByte, std::string(1, '\1')),
                    w.rationals(kGpsAlt, {{125, 10}}),
                },
                std::nullopt};
    return w.build({ifd0, exif, gps}, exif_prefix);
}

void expect_full_summary(const std::optional<ExifSummary>& s) {
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->make, "Canon");
    EXPECT_EQ(s->model, "Canon EOS R5"); // trailing spaces trimmed
    EXPECT_EQ(s->software, "Photoflux 1.0");
    EXPECT_EQ(s->artist, "Jane Doe");
    EXPECT_EQ(s->copyright, "(c) Jane Doe / Ed Itor");
    EXPECT_EQ(s->lens_make, "Canon");
    EXPECT_EQ(s->lens_model, "RF50mm F1.8 STM");
    EXPECT_EQ(s->orientation, 6);
    EXPECT_EQ(s->date_taken, "2024-05-01T12:34:56+02:00");
    ASSERT_TRUE(s->exposure_time_s.has_value());
    EXPECT_DOUBLE_EQ(*s->exposure_time_s, 1.0 / 250.0);
    EXPECT_EQ(s->exposure_time_text, "1/250");
    ASSERT_TRUE(s->f_number.has_value());
    EXPECT_DOUBLE_EQ(*s->f_number, 2.8);
    EXPECT_EQ(s->iso, 400);
    ASSERT_TRUE(s->focal_length_mm.has_value());
    EXPECT_DOUBLE_EQ(*s->focal_length_mm, 50.0);
    EXPECT_EQ(s->focal_length_35mm, 75);
    ASSERT_TRUE(s->gps.has_value());
    EXPECT_NEAR(s->gps->latitude, -(33.0 + 51.0 / 60.0 + 35.64 / 3600.0), 1e-9);
    EXPECT_NEAR(s->gps->longitude, 151.0 + 12.0 / 60.0 + 40.32 / 3600.0, 1e-9);
    ASSERT_TRUE(s->gps->altitude_m.has_value());
    EXPECT_DOUBLE_EQ(*s->gps->altitude_m, -12.5);
}

TEST(ExifReaderTest, ReadsEveryFieldLittleEndian) {
    expect_full_summary(read_exif(full_blob(true)));
}

TEST(ExifReaderTest, ReadsEveryFieldBigEndian) {
    expect_full_summary(read_exif(full_blob(false)));
}

TEST(ExifReaderTest, AcceptsBareTiffHeaderWithoutExifPrefix) {
    expect_full_summary(read_exif(full_blob(true, false)));
    expect_full_summary(read_exif(full_blob(false, false)));
}

TEST(ExifReaderTest, RejectsUnparseableInput) {
    EXPECT_FALSE(read_exif("").has_value());
    EXPECT_FALSE(read_exif(std::string("Exif\0\0", 6)).has_value());
    EXPECT_FALSE(read_exif("not exif at all, just text").has_value());
    EXPECT_FALSE(read_exif(std::string("Exif\0\0XX*\0\x08\0\0\0", 14)).has_value());
    // "II" with the big-endian magic is not a TIFF header.
    EXPECT_FALSE(read_exif(std::string("II\0*\x08\0\0\0\0\0\0\0\0\0", 14)).has_value());
    // IFD0 offset past the end.
    TiffWriter w(true);
    const std::string blob = std::string("II*\0", 4) + w.u32(0x7FFFFFF0) + std::string(16, '\0');
    EXPECT_FALSE(read_exif(blob).has_value());
    // IFD0 offset inside the header.
    EXPECT_FALSE(read_exif(std::string("II*\0\x02\0\0\0\0\0\0\0\0\0", 14)).has_value());
}

TEST(ExifReaderTest, EmptyIfd0IsParseableButEmpty) {
    TiffWriter w(true);
    const auto s = read_exif(w.build({TestIfd{}}));
    ASSERT_TRUE(s.has_value());
    EXPECT_FALSE(s->make.has_value());
    EXPECT_FALSE(s->date_taken.has_value());
    EXPECT_FALSE(s->gps.has_value());
}

std::optional<ExifSummary> exif_with_exposure(bool little, uint32_t num, uint32_t den) {
    TiffWriter w(little);
    TestIfd ifd0{{w.pointer(kExifIfd, 1)}, std::nullopt};
    TestIfd exif{{w.rationals(kExposureTime, {{num, den}})}, std::nullopt};
    return read_exif(w.build({ifd0, exif}));
}

TEST(ExifReaderTest, FormatsExposureTimes) {
    const struct {
        uint32_t num, den;
        const char* text;
    } cases[] = {
        {1, 250, "1/250"}, {10, 2500, "1/250"}, {1, 8000, "1/8000"}, {1, 3, "1/3"},
        {1, 2, "1/2"},     {4, 5, "0.8"},       {1, 1, "1"},         {2, 1, "2"},
        {5, 2, "2.5"},     {30, 1, "30"},       {3, 10, "0.3"},      {1, 30, "1/30"},
    };
    for (const auto& c : cases) {
        for (const bool little : {true, false}) {
            const auto s = exif_with_exposure(little, c.num, c.den);
            ASSERT_TRUE(s.has_value());
            EXPECT_EQ(s->exposure_time_text, c.text) << c.num << "/" << c.den;
            ASSERT_TRUE(s->exposure_time_s.has_value());
            EXPECT_DOUBLE_EQ(*s->exposure_time_s, static_cast<double>(c.num) / c.den);
        }
    }
}

TEST(ExifReaderTest, ZeroDenominatorsAreRejected) {
    const auto exposure = exif_with_exposure(true, 1, 0);
    ASSERT_TRUE(exposure.has_value());
    EXPECT_FALSE(exposure->exposure_time_s.has_value());
    EXPECT_FALSE(exposure->exposure_time_text.has_value());

    TiffWriter w(false);
    TestIfd ifd0{{w.pointer(kExifIfd, 1), w.pointer(kGpsIfd, 2)}, std::nullopt};
    TestIfd exif{{w.rationals(kFNumber, {{28, 0}}), w.rationals(kFocalLength, {{0, 0}})},
                 std::nullopt};
    TestIfd gps{{
                    w.ascii(kGpsLatRef, "N"),
                    w.rationals(kGpsLat, {{10, 1}, {0, 0}, {0, 1}}),
                    w.ascii(kGpsLonRef, "E"),
                    w.rationals(kGpsLon, {{10, 1}, {0, 1}, {0, 1}}),
                },
                std::nullopt};
    const auto s = read_exif(w.build({ifd0, exif, gps}));
    ASSERT_TRUE(s.has_value());
    EXPECT_FALSE(s->f_number.has_value());
    EXPECT_FALSE(s->focal_length_mm.has_value());
    EXPECT_FALSE(s->gps.has_value());
}

TEST(ExifReaderTest, ZeroExposureAndNegativeValuesAreDropped) {
    const auto zero = exif_with_exposure(true, 0, 100);
    ASSERT_TRUE(zero.has_value());
    EXPECT_FALSE(zero->exposure_time_s.has_value());

    TiffWriter w(true);
    TestIfd ifd0{{w.pointer(kExifIfd, 1)}, std::nullopt};
    TestIfd exif{{w.srationals(kExposureTime, {{-1, 250}}), w.srationals(kFNumber, {{-28, -10}})},
                 std::nullopt};
    const auto s = read_exif(w.build({ifd0, exif}));
    ASSERT_TRUE(s.has_value());
    EXPECT_FALSE(s->exposure_time_s.has_value());
    ASSERT_TRUE(s->f_number.has_value()); // SRATIONAL -28/-10 is a positive 2.8
    EXPECT_DOUBLE_EQ(*s->f_number, 2.8);
}

std::optional<GpsPosition> gps_with_refs(bool little, const std::string& lat_ref,
                                         const std::string& lon_ref) {
    TiffWriter w(little);
    TestIfd ifd0{{w.pointer(kGpsIfd, 1)}, std::nullopt};
    TestIfd gps;
    if (!lat_ref.empty())
        gps.entries.push_back(w.ascii(kGpsLatRef, lat_ref));
    gps.entries.push_back(w.rationals(kGpsLat, {{48, 1}, {30, 1}, {0, 1}}));
    if (!lon_ref.empty())
        gps.entries.push_back(w.ascii(kGpsLonRef, lon_ref));
    gps.entries.push_back(w.rationals(kGpsLon, {{2, 1}, {15, 1}, {36, 1}}));
    const auto s = read_exif(w.build({ifd0, gps}));
    if (!s)
        return std::nullopt;
    return s->gps;
}

TEST(ExifReaderTest, GpsSignsFollowReferences) {
    const double lat = 48.5;
    const double lon = 2.0 + 15.0 / 60.0 + 36.0 / 3600.0;
    for (const bool little : {true, false}) {
        const struct {
            const char* lat_ref;
            const char* lon_ref;
            double lat_sign, lon_sign;
        } cases[] = {{"N", "E", 1, 1}, {"S", "E", -1, 1}, {"N", "W", 1, -1}, {"S", "W", -1, -1}};
        for (const auto& c : cases) {
            const auto pos = gps_with_refs(little, c.lat_ref, c.lon_ref);
            ASSERT_TRUE(pos.has_value()) << c.lat_ref << c.lon_ref;
            EXPECT_NEAR(pos->latitude, c.lat_sign * lat, 1e-12);
            EXPECT_NEAR(pos->longitude, c.lon_sign * lon, 1e-12);
            EXPECT_FALSE(pos->altitude_m.has_value());
        }
    }
}

TEST(ExifReaderTest, GpsRequiresValidReferencesAndRanges) {
    EXPECT_FALSE(gps_with_refs(true, "", "E").has_value());
    EXPECT_FALSE(gps_with_refs(true, "N", "").has_value());
    EXPECT_FALSE(gps_with_refs(true, "X", "E").has_value());
    EXPECT_FALSE(gps_with_refs(true, "N", "N").has_value());

    TiffWriter w(true);
    TestIfd ifd0{{w.pointer(kGpsIfd, 1)}, std::nullopt};
    TestIfd gps{{
                    w.ascii(kGpsLatRef, "N"),
                    w.rationals(kGpsLat, {{91, 1}, {0, 1}, {0, 1}}),
                    w.ascii(kGpsLonRef, "E"),
                    w.rationals(kGpsLon, {{10, 1}, {0, 1}, {0, 1}}),
                },
                std::nullopt};
    const auto s = read_exif(w.build({ifd0, gps}));
    ASSERT_TRUE(s.has_value());
    EXPECT_FALSE(s->gps.has_value());
}

TEST(ExifReaderTest, GpsAltitudeAboveSeaLevelWithoutReference) {
    TiffWriter w(false);
    TestIfd ifd0{{w.pointer(kGpsIfd, 1)}, std::nullopt};
    TestIfd gps{{
                    w.ascii(kGpsLatRef, "N"),
                    w.rationals(kGpsLat, {{0, 1}, {0, 1}, {0, 1}}),
                    w.ascii(kGpsLonRef, "W"),
                    w.rationals(kGpsLon, {{180, 1}, {0, 1}, {0, 1}}),
                    w.rationals(kGpsAlt, {{8848, 1}}),
                },
                std::nullopt};
    const auto s = read_exif(w.build({ifd0, gps}));
    ASSERT_TRUE(s.has_value() && s->gps.has_value());
    EXPECT_DOUBLE_EQ(s->gps->latitude, 0.0);
    EXPECT_DOUBLE_EQ(s->gps->longitude, -180.0);
    EXPECT_EQ(s->gps->altitude_m, 8848.0);
}

std::optional<ExifSummary> dates(const std::string& original, const std::string& offset_original,
                                 const std::string& modified, const std::string& offset) {
    TiffWriter w(true);
    TestIfd ifd0{{w.pointer(kExifIfd, 1)}, std::nullopt};
    if (!modified.empty())
        ifd0.entries.push_back(w.ascii(kDateTime, modified));
    TestIfd exif;
    if (!original.empty())
        exif.entries.push_back(w.ascii(kDateTimeOriginal, original));
    if (!offset_original.empty()) {
        exif.entries.push_back(w.ascii(kOffsetTimeOriginal, offset_original));
    }
    if (!offset.empty())
        exif.entries.push_back(w.ascii(kOffsetTime, offset));
    return read_exif(w.build({ifd0, exif}));
}

TEST(ExifReaderTest, DateFormatting) {
    EXPECT_EQ(dates("2024:05:01 12:34:56", "", "", "")->date_taken, "2024-05-01T12:34:56");
    EXPECT_EQ(dates("2024:05:01 12:34:56", "-07:30", "", "")->date_taken,
              "2024-05-01T12:34:56-07:30");
    // The original time wins over the modification time, with its own offset.
    EXPECT_EQ(dates("2024:05:01 12:34:56", "+02:00", "2025:01:01 00:00:00", "+05:00")->date_taken,
              "2024-05-01T12:34:56+02:00");
    // Fallback to DateTime, paired with OffsetTime.
    EXPECT_EQ(dates("", "+02:00", "2025:01:01 00:00:00", "+05:00")->date_taken,
              "2025-01-01T00:00:00+05:00");
    // Blank/zero originals fall back as well.
    EXPECT_EQ(dates("0000:00:00 00:00:00", "", "2025:01:01 00:00:00", "")->date_taken,
              "2025-01-01T00:00:00");
    EXPECT_EQ(dates("    :  :     :  :  ", "", "2025:01:01 00:00:00", "")->date_taken,
              "2025-01-01T00:00:00");
    // Malformed offsets are dropped, the timestamp kept.
    EXPECT_EQ(dates("2024:05:01 12:34:56", "   :  ", "", "")->date_taken, "2024-05-01T12:34:56");
    EXPECT_EQ(dates("2024:05:01 12:34:56", "+2:00", "", "")->date_taken, "2024-05-01T12:34:56");
    EXPECT_EQ(dates("2024:05:01 12:34:56", "+99:00", "", "")->date_taken, "2024-05-01T12:34:56");
    // Impossible fields.
    EXPECT_FALSE(dates("2024:13:01 12:34:56", "", "", "")->date_taken.has_value());
    EXPECT_FALSE(dates("2024:05:01 24:00:00", "", "", "")->date_taken.has_value());
    EXPECT_FALSE(dates("2024:05:01", "", "", "")->date_taken.has_value());
    EXPECT_FALSE(dates("", "", "", "")->date_taken.has_value());
}

TEST(ExifReaderTest, OrientationOnlyWhenValid) {
    for (uint16_t value = 0; value < 12; ++value) {
        TiffWriter w(value % 2 == 0);
        const auto s = read_exif(w.build({TestIfd{{w.shorts(kOrientation, {value})}, {}}}));
        ASSERT_TRUE(s.has_value());
        if (value >= 1 && value <= 8) {
            EXPECT_EQ(s->orientation, value);
        } else {
            EXPECT_FALSE(s->orientation.has_value()) << value;
        }
    }
}

TEST(ExifReaderTest, IsoAcceptsLongAndIgnoresZero) {
    TiffWriter w(false);
    TestIfd ifd0{{w.pointer(kExifIfd, 1)}, std::nullopt};
    TestIfd exif{{w.longs(kIso, {12800})}, std::nullopt};
    EXPECT_EQ(read_exif(w.build({ifd0, exif}))->iso, 12800);
    TestIfd zero{{w.shorts(kIso, {0})}, std::nullopt};
    EXPECT_FALSE(read_exif(w.build({ifd0, zero}))->iso.has_value());
}

TEST(ExifReaderTest, StringsAreTrimmedAndSanitised) {
    TiffWriter w(true);
    TestIfd ifd0{{
                     w.bytes(kMake, kAscii, std::string("Nikon\0\0\0garbage", 16)),
                     w.ascii(kModel, "  \t "),
                     w.ascii(kSoftware, "bad \xFF\xFE utf8"),
                     w.ascii(kArtist, "line\nbreak"),
                     w.bytes(kCopyright, kUndefined, "Undefined-typed text"),
                 },
                 std::nullopt};
    const auto s = read_exif(w.build({ifd0}));
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->make, "Nikon");
    EXPECT_FALSE(s->model.has_value());
    EXPECT_EQ(s->software, "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8");
    EXPECT_EQ(s->artist, "line break");
    EXPECT_EQ(s->copyright, "Undefined-typed text");
}

TEST(ExifReaderTest, ShortStringsStoredInline) {
    TiffWriter w(false);
    const auto s = read_exif(w.build({TestIfd{{w.ascii(kMake, "Leo")}, {}}}));
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->make, "Leo");
}

// --- Hostile input -----------------------------------------------------------------------------

TEST(ExifReaderTest, EveryTruncationIsSafe) {
    for (const bool little : {true, false}) {
        const std::string blob = full_blob(little);
        for (size_t len = 0; len < blob.size(); ++len) {
            const auto s = read_exif(std::string_view(blob).substr(0, len));
            if (!s)
                continue;
            // Whatever was read must be what the full blob says, never garbage.
            if (s->make) {
                EXPECT_EQ(*s->make, "Canon");
            }
            if (s->lens_model) {
                EXPECT_EQ(*s->lens_model, "RF50mm F1.8 STM");
            }
            if (s->date_taken) {
                EXPECT_TRUE(*s->date_taken == "2024-05-01T12:34:56+02:00" ||
                            *s->date_taken == "2024-05-01T12:34:56" ||
                            *s->date_taken == "2024-06-01T09:00:00")
                    << *s->date_taken;
            }
            if (s->gps) {
                EXPECT_LT(s->gps->latitude, -33.0);
            }
        }
        // Only IFD0's header needs to be present for a (possibly empty) summary.
        EXPECT_FALSE(read_exif(std::string_view(blob).substr(0, 6 + 8)).has_value());
        EXPECT_TRUE(read_exif(std::string_view(blob).substr(0, 6 + 10)).has_value());
    }
}

TEST(ExifReaderTest, OffsetsOutsideTheBlobAreIgnored) {
    TiffWriter w(true);
    TestIfd ifd0{{
                     w.raw(kMake, kAscii, 32, 0xFFFFFFF0),  // value offset far past the end
                     w.raw(kModel, kAscii, 0xFFFFFFFF, 8),  // absurd count
                     w.raw(kExifIfd, kLong, 1, 0x7FFFFFFF), // sub-IFD pointer out of range
                     w.raw(kGpsIfd, kLong, 1, 0xFFFFFFFF),
                     w.raw(kCopyright, kRational, 0x20000000, 8), // count * size overflows 32 bits
                     w.ascii(kArtist, "Still read"),
                 },
                 std::nullopt};
    const auto s = read_exif(w.build({ifd0}));
    ASSERT_TRUE(s.has_value());
    EXPECT_FALSE(s->make.has_value());
    EXPECT_FALSE(s->model.has_value());
    EXPECT_FALSE(s->copyright.has_value());
    EXPECT_FALSE(s->date_taken.has_value());
    EXPECT_FALSE(s->gps.has_value());
    EXPECT_EQ(s->artist, "Still read");
}

TEST(ExifReaderTest, IfdLoopsTerminate) {
    for (const bool little : {true, false}) {
        TiffWriter w(little);
        // IFD0's Exif pointer points at IFD0 itself; the GPS pointer at the Exif IFD.
        TestIfd ifd0{{w.ascii(kMake, "Loop"), w.pointer(kExifIfd, 0), w.pointer(kGpsIfd, 1)},
                     std::nullopt};
        TestIfd exif_like{{w.pointer(kExifIfd, 1), w.pointer(kGpsIfd, 1)}, std::nullopt};
        const auto s = read_exif(w.build({ifd0, exif_like}));
        ASSERT_TRUE(s.has_value());
        EXPECT_EQ(s->make, "Loop");

        // Exif IFD pointing to itself, with a GPS pointer back to it as well.
        TestIfd ifd0b{{w.pointer(kExifIfd, 1)}, std::nullopt};
        TestIfd self{{w.pointer(kExifIfd, 1), w.pointer(kGpsIfd, 1), w.shorts(kIso, {200})},
                     std::nullopt};
        const auto t = read_exif(w.build({ifd0b, self}));
        ASSERT_TRUE(t.has_value());
        EXPECT_EQ(t->iso, 200);
        EXPECT_FALSE(t->gps.has_value());
    }
}

TEST(ExifReaderTest, AbsurdEntryCountsAreBounded) {
    TiffWriter w(true);
    // Claims 65535 entries but holds two: the two present entries are still read.
    TestIfd liar{{w.ascii(kMake, "Liar"), w.shorts(kOrientation, {3})}, uint16_t{0xFFFF}};
    const auto s = read_exif(w.build({liar}));
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->make, "Liar");
    EXPECT_EQ(s->orientation, 3);

    // A genuinely huge IFD: entries past the per-IFD cap are not examined.
    TestIfd huge;
    for (int i = 0; i < 1500; ++i)
        huge.entries.push_back(w.shorts(0xC000, {1}));
    huge.entries.push_back(w.ascii(kMake, "Too far"));
    const auto t = read_exif(w.build({huge}));
    ASSERT_TRUE(t.has_value());
    EXPECT_FALSE(t->make.has_value());
}

TEST(ExifReaderTest, UnknownTypesAndMismatchedTypesAreIgnored) {
    TiffWriter w(false);
    TestIfd ifd0{{
                     w.raw(kMake, 99, 4, 0x41424344),     // unknown type
                     w.rationals(kOrientation, {{1, 1}}), // wrong type for orientation
                     w.shorts(kModel, {0x4142, 0x4300}),  // numeric type for a string
                     w.raw(kSoftware, kAscii, 0, 0),      // zero count
                 },
                 std::nullopt};
    const auto s = read_exif(w.build({ifd0}));
    ASSERT_TRUE(s.has_value());
    EXPECT_FALSE(s->make.has_value());
    EXPECT_FALSE(s->orientation.has_value());
    EXPECT_FALSE(s->model.has_value());
    EXPECT_FALSE(s->software.has_value());
}

TEST(ExifReaderTest, RandomMutationsNeverCrash) {
    std::mt19937 rng(12345);
    for (const bool little : {true, false}) {
        const std::string original = full_blob(little);
        for (int round = 0; round < 3000; ++round) {
            std::string blob = original;
            const int flips = 1 + static_cast<int>(rng() % 8);
            for (int i = 0; i < flips; ++i) {
                blob[rng() % blob.size()] = static_cast<char>(rng() & 0xFF);
            }
            const auto s = read_exif(blob);
            if (s && s->orientation) {
                EXPECT_GE(*s->orientation, 1);
                EXPECT_LE(*s->orientation, 8);
            }
            if (s && s->gps) {
                EXPECT_LE(std::fabs(s->gps->latitude), 90.0);
                EXPECT_LE(std::fabs(s->gps->longitude), 180.0);
            }
        }
    }
}

} // namespace
} // namespace pf::imaging
