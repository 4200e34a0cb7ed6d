#include "fake_http.h"
#include "s3api/conditions.h"

#include <gtest/gtest.h>

namespace pf::s3api {
namespace {

using testing::make_request;

storage::ObjectInfo object() {
    storage::ObjectInfo info;
    info.etag = "5eb63bbbe01eeed093cb22bb8f5acdc3";
    info.size = 1000;
    // Sun, 29 Nov 2026 12:00:00 GMT
    info.last_modified = std::chrono::system_clock::time_point(std::chrono::seconds(1795953600));
    return info;
}

ConditionOutcome evaluate(std::vector<std::pair<std::string, std::string>> headers,
                          std::string_view prefix = "") {
    auto request = make_request("GET", "/b/k", std::move(headers));
    return evaluate_conditions(request, object(), prefix);
}

TEST(Conditions, IfMatchComparesWithoutQuotes) {
    EXPECT_EQ(evaluate({{"if-match", "\"5eb63bbbe01eeed093cb22bb8f5acdc3\""}}), ConditionOutcome::Proceed);
    EXPECT_EQ(evaluate({{"if-match", "5eb63bbbe01eeed093cb22bb8f5acdc3"}}), ConditionOutcome::Proceed);
    EXPECT_EQ(evaluate({{"if-match", "\"other\", \"5eb63bbbe01eeed093cb22bb8f5acdc3\""}}), ConditionOutcome::Proceed);
    EXPECT_EQ(evaluate({{"if-match", "*"}}), ConditionOutcome::Proceed);
    EXPECT_EQ(evaluate({{"if-match", "\"nope\""}}), ConditionOutcome::PreconditionFailed);
}

TEST(Conditions, IfNoneMatchGivesNotModified) {
    EXPECT_EQ(evaluate({{"if-none-match", "\"5eb63bbbe01eeed093cb22bb8f5acdc3\""}}), ConditionOutcome::NotModified);
    EXPECT_EQ(evaluate({{"if-none-match", "\"other\""}}), ConditionOutcome::Proceed);
}

TEST(Conditions, DatesAndTheirPrecedence) {
    const std::string before = "Sun, 29 Nov 2026 11:00:00 GMT";
    const std::string same = "Sun, 29 Nov 2026 12:00:00 GMT";
    const std::string after = "Sun, 29 Nov 2026 13:00:00 GMT";
    EXPECT_EQ(evaluate({{"if-modified-since", before}}), ConditionOutcome::Proceed);
    EXPECT_EQ(evaluate({{"if-modified-since", same}}), ConditionOutcome::NotModified);
    EXPECT_EQ(evaluate({{"if-unmodified-since", before}}), ConditionOutcome::PreconditionFailed);
    EXPECT_EQ(evaluate({{"if-unmodified-since", after}}), ConditionOutcome::Proceed);
    // S3: If-Match true wins over If-Unmodified-Since false; If-None-Match false (no match)
    // wins over If-Modified-Since.
    EXPECT_EQ(evaluate({{"if-match", "*"}, {"if-unmodified-since", before}}), ConditionOutcome::Proceed);
    EXPECT_EQ(evaluate({{"if-none-match", "\"other\""}, {"if-modified-since", same}}), ConditionOutcome::Proceed);
    // Unparseable dates are ignored.
    EXPECT_EQ(evaluate({{"if-modified-since", "yesterday"}}), ConditionOutcome::Proceed);
}

TEST(Conditions, CopySourceConditionsNeverSayNotModified) {
    EXPECT_EQ(evaluate({{"x-amz-copy-source-if-none-match", "\"5eb63bbbe01eeed093cb22bb8f5acdc3\""}},
                       "x-amz-copy-source-"),
              ConditionOutcome::PreconditionFailed);
    EXPECT_EQ(evaluate({{"x-amz-copy-source-if-match", "\"5eb63bbbe01eeed093cb22bb8f5acdc3\""}},
                       "x-amz-copy-source-"),
              ConditionOutcome::Proceed);
}

TEST(Ranges, Forms) {
    ByteRange r;
    EXPECT_EQ(parse_range("bytes=0-9", 1234, r), RangeOutcome::Partial);
    EXPECT_EQ(r.first, 0u);
    EXPECT_EQ(r.length, 10u);
    EXPECT_EQ(parse_range("bytes=100-", 1234, r), RangeOutcome::Partial);
    EXPECT_EQ(r.first, 100u);
    EXPECT_EQ(r.length, 1134u);
    EXPECT_EQ(parse_range("bytes=-500", 1234, r), RangeOutcome::Partial);
    EXPECT_EQ(r.first, 734u);
    EXPECT_EQ(r.length, 500u);
    EXPECT_EQ(parse_range("bytes=-5000", 1234, r), RangeOutcome::Partial);
    EXPECT_EQ(r.first, 0u);
    EXPECT_EQ(r.length, 1234u);
    EXPECT_EQ(parse_range("bytes=1000-99999", 1234, r), RangeOutcome::Partial);
    EXPECT_EQ(r.length, 234u);
}

TEST(Ranges, UnsatisfiableAndIgnored) {
    ByteRange r;
    EXPECT_EQ(parse_range("bytes=1234-", 1234, r), RangeOutcome::Unsatisfiable);
    EXPECT_EQ(parse_range("bytes=-0", 1234, r), RangeOutcome::Unsatisfiable);
    EXPECT_EQ(parse_range("bytes=0-", 0, r), RangeOutcome::Unsatisfiable);
    EXPECT_EQ(parse_range("bytes=5-1", 1234, r), RangeOutcome::Whole);
    EXPECT_EQ(parse_range("bytes=0-1,5-6", 1234, r), RangeOutcome::Whole);
    EXPECT_EQ(parse_range("items=0-1", 1234, r), RangeOutcome::Whole);
    EXPECT_EQ(parse_range("bytes=a-b", 1234, r), RangeOutcome::Whole);
}

}  // namespace
}  // namespace pf::s3api
