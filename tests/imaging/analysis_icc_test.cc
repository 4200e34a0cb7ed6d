#include "imaging/analysis/icc_profile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace pf::imaging {
namespace {

std::string be32(uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xFF),
            static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
}

std::string be16(uint16_t v) {
    return {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)};
}

// UTF-16BE from a list of code units (so tests can include surrogates explicitly).
std::string utf16be(const std::vector<uint16_t>& units) {
    std::string out;
    for (auto u : units)
        out += be16(u);
    return out;
}

std::string utf16be_ascii(const std::string& ascii) {
    std::vector<uint16_t> units(ascii.begin(), ascii.end());
    return utf16be(units);
}

// Builds a minimal ICC profile: 128-byte header, tag table, tag data (each tag 4-byte aligned).
// Tags are placed in the given order, so a test can put 'desc' last.
std::string build_profile(uint32_t version, const std::string& colour_space,
                          const std::vector<std::pair<std::string, std::string>>& tags) {
    const uint32_t table_size = 4 + 12 * static_cast<uint32_t>(tags.size());
    std::string table = be32(static_cast<uint32_t>(tags.size()));
    std::string data;
    const uint32_t offset = 128 + table_size;
    for (const auto& [signature, body] : tags) {
        // Pad before each tag rather than after, so the last tag ends the profile exactly.
        while (data.size() % 4 != 0)
            data += '\0';
        table += signature + be32(offset + static_cast<uint32_t>(data.size())) +
                 be32(static_cast<uint32_t>(body.size()));
        data += body;
    }

    std::string header(128, '\0');
    const uint32_t total = 128 + table_size + static_cast<uint32_t>(data.size());
    header.replace(0, 4, be32(total));
    header.replace(4, 4, "test");
    header.replace(8, 4, be32(version));
    header.replace(12, 4, "mntr");
    header.replace(16, 4, colour_space);
    header.replace(20, 4, "XYZ ");
    header.replace(36, 4, "acsp");
    return header + table + data;
}

std::string xyz_tag() {
    return "XYZ " + std::string(4, '\0') + be32(0xF6D6) + be32(0x10000) + be32(0xD32D);
}

std::string text_description(const std::string& ascii) {
    // textDescriptionType: ASCII part, then empty Unicode and ScriptCode parts.
    std::string body = "desc" + std::string(4, '\0') +
                       be32(static_cast<uint32_t>(ascii.size() + 1)) + ascii + '\0';
    body += be32(0) + be32(0);                      // Unicode language code, count
    body += be16(0) + '\0' + std::string(67, '\0'); // ScriptCode code, count, 67 bytes
    return body;
}

std::string mluc(const std::vector<std::pair<std::string, std::string>>& records) {
    // records: {"enUS", utf16be bytes}
    std::string body =
        "mluc" + std::string(4, '\0') + be32(static_cast<uint32_t>(records.size())) + be32(12);
    uint32_t offset = 16 + 12 * static_cast<uint32_t>(records.size());
    std::string strings;
    for (const auto& [locale, text] : records) {
        body += locale + be32(static_cast<uint32_t>(text.size())) +
                be32(offset + static_cast<uint32_t>(strings.size()));
        strings += text;
    }
    return body + strings;
}

TEST(IccProfileTest, ReadsV2TextDescription) {
    const auto profile = build_profile(
        0x02100000, "RGB ", {{"wtpt", xyz_tag()}, {"desc", text_description("sRGB IEC61966-2.1")}});
    EXPECT_EQ(icc_description(profile), "sRGB IEC61966-2.1");
    EXPECT_EQ(icc_colour_space(profile), "RGB");
}

TEST(IccProfileTest, ReadsV4MlucPreferringEnUs) {
    const auto profile =
        build_profile(0x04300000, "CMYK",
                      {{"wtpt", xyz_tag()},
                       {"desc", mluc({{"deDE", utf16be_ascii("Druckprofil")},
                                      {"enGB", utf16be_ascii("Print profile (GB)")},
                                      {"enUS", utf16be_ascii("Print profile")}})}});
    EXPECT_EQ(icc_description(profile), "Print profile");
    EXPECT_EQ(icc_colour_space(profile), "CMYK");
}

TEST(IccProfileTest, MlucFallsBackToEnglishThenFirstRecord) {
    const auto english = build_profile(
        0x04300000, "GRAY",
        {{"desc", mluc({{"frFR", utf16be_ascii("Gris")}, {"enGB", utf16be_ascii("Grey")}})}});
    EXPECT_EQ(icc_description(english), "Grey");
    EXPECT_EQ(icc_colour_space(english), "GRAY");

    const auto first = build_profile(
        0x04300000, "Lab ",
        {{"desc", mluc({{"frFR", utf16be_ascii("Gris")}, {"deDE", utf16be_ascii("Grau")}})}});
    EXPECT_EQ(icc_description(first), "Gris");
    EXPECT_EQ(icc_colour_space(first), "Lab");
}

TEST(IccProfileTest, MlucConvertsUtf16ToUtf8) {
    // "Café ✓ 😀" with a surrogate pair, then a NUL terminator and trailing junk.
    const std::string text =
        utf16be({'C', 'a', 'f', 0x00E9, ' ', 0x2713, ' ', 0xD83D, 0xDE00, 0x0000, 'X'});
    const auto profile = build_profile(0x04300000, "RGB ", {{"desc", mluc({{"enUS", text}})}});
    EXPECT_EQ(icc_description(profile), "Caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80");

    // Unpaired surrogates become U+FFFD instead of producing invalid UTF-8.
    const std::string broken = utf16be({'A', 0xD800, 'B', 0xDC00});
    const auto bad = build_profile(0x04300000, "RGB ", {{"desc", mluc({{"enUS", broken}})}});
    EXPECT_EQ(icc_description(bad), "A\xEF\xBF\xBD"
                                    "B\xEF\xBF\xBD");
}

TEST(IccProfileTest, V2DescriptionWithLatin1BytesBecomesUtf8) {
    const auto profile =
        build_profile(0x02100000, "RGB ", {{"desc", text_description("\xA9 Vendor")}});
    EXPECT_EQ(icc_description(profile), "\xC2\xA9 Vendor");
}

TEST(IccProfileTest, MissingOrEmptyDescriptionIsNullopt) {
    const auto no_desc = build_profile(0x02100000, "RGB ", {{"wtpt", xyz_tag()}});
    EXPECT_FALSE(icc_description(no_desc).has_value());
    EXPECT_EQ(icc_colour_space(no_desc), "RGB");

    const auto empty = build_profile(0x02100000, "RGB ", {{"desc", text_description("   ")}});
    EXPECT_FALSE(icc_description(empty).has_value());

    const auto unknown_type =
        build_profile(0x02100000, "RGB ", {{"desc", "text" + std::string(4, '\0') + "hello"}});
    EXPECT_FALSE(icc_description(unknown_type).has_value());
}

TEST(IccProfileTest, RejectsNonProfiles) {
    EXPECT_FALSE(icc_description("").has_value());
    EXPECT_FALSE(icc_colour_space("").has_value());
    std::string not_icc(256, 'x');
    EXPECT_FALSE(icc_description(not_icc).has_value());
    EXPECT_FALSE(icc_colour_space(not_icc).has_value());

    auto profile = build_profile(0x02100000, "RGB ", {{"desc", text_description("ok")}});
    auto bad_space = profile;
    bad_space.replace(16, 4, std::string("\x01\x02\x03\x04", 4));
    EXPECT_FALSE(icc_colour_space(bad_space).has_value());
}

TEST(IccProfileTest, EveryTruncationReturnsNullopt) {
    const std::vector<std::string> profiles = {
        build_profile(0x02100000, "RGB ",
                      {{"wtpt", xyz_tag()}, {"desc", text_description("Truncate me")}}),
        build_profile(0x04300000, "RGB ",
                      {{"wtpt", xyz_tag()},
                       {"desc", mluc({{"deDE", utf16be_ascii("Abgeschnitten")},
                                      {"enUS", utf16be_ascii("Truncate me")}})}}),
    };
    for (const auto& profile : profiles) {
        ASSERT_EQ(icc_description(profile), "Truncate me");
        for (size_t len = 0; len < profile.size(); ++len) {
            const std::string_view prefix = std::string_view(profile).substr(0, len);
            EXPECT_FALSE(icc_description(prefix).has_value()) << len;
            // The colour space needs only the header.
            EXPECT_EQ(icc_colour_space(prefix).has_value(), len >= 128) << len;
        }
    }
}

TEST(IccProfileTest, HostileTagTablesAreSafe) {
    auto profile = build_profile(0x02100000, "RGB ", {{"desc", text_description("Fine")}});
    ASSERT_EQ(icc_description(profile), "Fine");

    auto huge_count = profile;
    huge_count.replace(128, 4, be32(0xFFFFFFFF));
    EXPECT_EQ(icc_description(huge_count), "Fine"); // only the entries actually present are read

    auto far_offset = profile;
    far_offset.replace(132 + 4, 4, be32(0xFFFFFFF0));
    EXPECT_FALSE(icc_description(far_offset).has_value());

    auto huge_size = profile;
    huge_size.replace(132 + 8, 4, be32(0xFFFFFFFF));
    EXPECT_FALSE(icc_description(huge_size).has_value());

    auto offset_in_header = profile;
    offset_in_header.replace(132 + 4, 4, be32(16));
    EXPECT_FALSE(icc_description(offset_in_header).has_value());

    auto huge_ascii_count = profile;
    huge_ascii_count.replace(144 + 8, 4, be32(0xFFFFFFFF));
    EXPECT_FALSE(icc_description(huge_ascii_count).has_value());

    auto tiny_declared_size = profile;
    tiny_declared_size.replace(0, 4, be32(100));
    EXPECT_FALSE(icc_description(tiny_declared_size).has_value());

    // mluc records pointing outside the tag or with an absurd record count.
    std::string records = mluc({{"enUS", utf16be_ascii("Inside")}});
    auto bad_record = records;
    bad_record.replace(16 + 8, 4, be32(0x7FFFFFFF));
    EXPECT_FALSE(
        icc_description(build_profile(0x04300000, "RGB ", {{"desc", bad_record}})).has_value());
    auto many_records = records;
    many_records.replace(8, 4, be32(0xFFFFFFFF));
    EXPECT_EQ(icc_description(build_profile(0x04300000, "RGB ", {{"desc", many_records}})),
              "Inside");
    auto zero_record_size = records;
    zero_record_size.replace(12, 4, be32(0));
    EXPECT_FALSE(icc_description(build_profile(0x04300000, "RGB ", {{"desc", zero_record_size}}))
                     .has_value());
}

TEST(IccProfileTest, SystemProfileHasDescription) {
    namespace fs = std::filesystem;
    fs::path chosen = "/usr/share/color/icc/colord/sRGB.icc";
    std::error_code ec;
    if (!fs::is_regular_file(chosen, ec)) {
        chosen.clear();
        std::vector<fs::path> candidates;
        if (fs::is_directory("/usr/share/color", ec)) {
            for (auto it = fs::recursive_directory_iterator(
                     "/usr/share/color", fs::directory_options::skip_permission_denied, ec);
                 !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
                if (it->is_regular_file(ec) && it->path().extension() == ".icc") {
                    candidates.push_back(it->path());
                }
            }
        }
        std::sort(candidates.begin(), candidates.end());
        if (!candidates.empty())
            chosen = candidates.front();
    }
    if (chosen.empty())
        GTEST_SKIP() << "no ICC profiles installed under /usr/share/color";

    std::ifstream in(chosen, std::ios::binary);
    ASSERT_TRUE(in) << chosen;
    const std::string profile((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
    const auto description = icc_description(profile);
    ASSERT_TRUE(description.has_value()) << chosen;
    EXPECT_FALSE(description->empty());
    EXPECT_TRUE(icc_colour_space(profile).has_value()) << chosen;
}

} // namespace
} // namespace pf::imaging
