#include "aws/time_format.h"

#include <gtest/gtest.h>

namespace pf::aws {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

SystemTime at(long long unix_seconds) {
    return SystemTime(seconds(unix_seconds));
}

// 2013-05-24T00:00:00Z, the SigV4 examples' date.
constexpr long long kExampleDay = 1369353600;
// 2026-11-29T11:57:44Z (a Sunday).
constexpr long long kSunday = 1795953464;

TEST(TimeFormat, FormatsTheThreeWireForms) {
    EXPECT_EQ(format_amz_date(at(kExampleDay)), "20130524T000000Z");
    EXPECT_EQ(format_amz_day(at(kExampleDay)), "20130524");
    EXPECT_EQ(format_http_date(at(kExampleDay)), "Fri, 24 May 2013 00:00:00 GMT");
    EXPECT_EQ(format_amz_date(at(kSunday)), "20261129T115744Z");
    EXPECT_EQ(format_iso8601_millis(at(kSunday)), "2026-11-29T11:57:44.000Z");
    EXPECT_EQ(format_http_date(at(kSunday)), "Sun, 29 Nov 2026 11:57:44 GMT");
    EXPECT_EQ(format_iso8601_millis(at(kSunday) + milliseconds(7)), "2026-11-29T11:57:44.007Z");
    EXPECT_EQ(format_iso8601_millis(at(0)), "1970-01-01T00:00:00.000Z");
}

TEST(TimeFormat, SubSecondPartsAreTruncatedNotRounded) {
    const SystemTime t = at(kSunday) + milliseconds(999) + std::chrono::microseconds(900);
    EXPECT_EQ(format_amz_date(t), "20261129T115744Z");
    EXPECT_EQ(format_iso8601_millis(t), "2026-11-29T11:57:44.999Z");
}

TEST(TimeFormat, AmzDateRoundTrips) {
    for (long long t : {0LL, kExampleDay, kSunday, 951782400LL /* 2000-02-29 */, 4102444799LL}) {
        const auto parsed = parse_amz_date(format_amz_date(at(t)));
        ASSERT_TRUE(parsed.has_value()) << t;
        EXPECT_EQ(*parsed, at(t));
    }
}

TEST(TimeFormat, HttpDateRoundTripsAndAcceptsObsoleteForms) {
    EXPECT_EQ(parse_http_date(format_http_date(at(kSunday))), at(kSunday));
    // RFC 9110's three examples of the same instant.
    const SystemTime expected = at(784111777); // 1994-11-06T08:49:37Z
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), expected);
    EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), expected);
    EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), expected);
    EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), at(0));
}

TEST(TimeFormat, Iso8601AcceptsFractionsAndOffsets) {
    EXPECT_EQ(parse_iso8601("2026-11-29T11:57:44Z"), at(kSunday));
    EXPECT_EQ(parse_iso8601("2026-11-29T11:57:44.000Z"), at(kSunday));
    EXPECT_EQ(parse_iso8601("2026-11-29T11:57:44.25Z"), at(kSunday) + milliseconds(250));
    EXPECT_EQ(parse_iso8601("2026-11-29T12:57:44+01:00"), at(kSunday));
    EXPECT_EQ(parse_iso8601("2026-11-29T10:27:44-01:30"), at(kSunday));
    EXPECT_EQ(parse_iso8601("2015-12-30T12:00:00.000Z"), at(1451476800));
    const auto round = parse_iso8601(format_iso8601_millis(at(kSunday) + milliseconds(123)));
    EXPECT_EQ(round, at(kSunday) + milliseconds(123));
}

TEST(TimeFormat, RejectsBadInputs) {
    for (const char* bad :
         {"", "20130524", "20130524T000000", "20130524T000000z0", "2013-05-24T00:00:00Z",
          "20131324T000000Z", "20130230T000000Z", "20130524T240000Z", "20130524T006000Z",
          "20130524T000060Z", "2013052AT000000Z", " 20130524T000000Z", "20130524T000000Z "}) {
        EXPECT_EQ(parse_amz_date(bad), std::nullopt) << bad;
    }
    EXPECT_EQ(parse_amz_date("20120229T000000Z"), at(1330473600)) << "leap day is valid";
    EXPECT_EQ(parse_amz_date("21000229T000000Z"), std::nullopt) << "2100 is not a leap year";
    EXPECT_EQ(parse_amz_date("99990101T000000Z"), std::nullopt) << "beyond system_clock";

    for (const char* bad :
         {"", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
          "Sun, 06 Foo 1994 08:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
          "Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49 GMT",
          "Sun, 06 Nov 1994 08:49:37 GMT trailing", "1994-11-06T08:49:37Z", "0"}) {
        EXPECT_EQ(parse_http_date(bad), std::nullopt) << bad;
    }

    for (const char* bad :
         {"", "2026-11-29", "2026-11-29T11:57:44", "2026-11-29T11:57:44.Z", "2026-11-29 11:57:44Z",
          "2026-11-29T11:57:44+0100", "2026-02-30T00:00:00Z", "2026-11-29T11:57:44Zjunk",
          "20261129T115744Z"}) {
        EXPECT_EQ(parse_iso8601(bad), std::nullopt) << bad;
    }
}

} // namespace
} // namespace pf::aws
