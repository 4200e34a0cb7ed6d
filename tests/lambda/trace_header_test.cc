// X-Ray trace handling for the recursion guard: Lineage parsing, the child trace handed to the
// function, and hostile trace text.
#include "crypto/digest.h"
#include "lambda/trace_header.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace pf::lambda {
namespace {

constexpr const char* kArn = "arn:aws:lambda:us-east-1:000000000000:function:photo";

TEST(TraceHeader, LineageCountIsReadFromTheField) {
    EXPECT_EQ(lineage_count("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
                            "Sampled=0;Lineage=1f2e3d4c:3"),
              3u);
    EXPECT_EQ(lineage_count("Lineage=abcdef01:15;Root=1-a-b"), 15u);
    EXPECT_EQ(lineage_count("Root=1-a-b; Lineage = abcdef01:7 ;Sampled=1"), 7u);
}

TEST(TraceHeader, MissingOrMalformedLineageCountsAsZero) {
    EXPECT_EQ(lineage_count(""), 0u);
    EXPECT_EQ(lineage_count("Root=1-a-b;Parent=c;Sampled=0"), 0u);
    EXPECT_EQ(lineage_count("Root=1-a-b;Lineage=abcdef01"), 0u);
    EXPECT_EQ(lineage_count("Root=1-a-b;Lineage=abcdef01:"), 0u);
    EXPECT_EQ(lineage_count("Root=1-a-b;Lineage=abcdef01:-4"), 0u);
    EXPECT_EQ(lineage_count("Root=1-a-b;Lineage=abcdef01:4x"), 0u);
    EXPECT_EQ(lineage_count("Root=1-a-b;Lineage=:4"), 0u);
}

TEST(TraceHeader, HugeCountSaturatesInsteadOfWrapping) {
    EXPECT_EQ(lineage_count("Root=1-a-b;Lineage=abcdef01:99999999999999999999999"), UINT32_MAX);
    EXPECT_EQ(lineage_count("Root=1-a-b;Lineage=abcdef01:4294967296"), UINT32_MAX);
}

TEST(TraceHeader, UnusableTraceTextIsIgnored) {
    std::string control = "Root=1-a-b;Lineage=abcdef01:9\n";
    EXPECT_FALSE(trace_header_usable(control));
    EXPECT_EQ(lineage_count(control), 0u);
    std::string huge = "Root=1-a-b;Lineage=abcdef01:9;X=" + std::string(kMaxTraceHeaderBytes, 'a');
    EXPECT_FALSE(trace_header_usable(huge));
    EXPECT_EQ(trace_root(huge), "");
}

TEST(TraceHeader, ChildTraceKeepsTheFieldsAndCountsOneMore) {
    const std::string child =
        child_trace("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;"
                    "Lineage=00000000:4",
                    kArn, 1700000000);
    const std::string hash = crypto::sha256_hex(kArn).substr(0, 8);
    EXPECT_EQ(child, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
                     "Sampled=1;Lineage=" +
                         hash + ":5");
    EXPECT_EQ(lineage_count(child), 5u);
    EXPECT_EQ(lineage_hash(kArn), hash);
}

TEST(TraceHeader, ChildOfNoTraceIsAFreshTraceAtCountOne) {
    const std::string child = child_trace("", kArn, 0x6553f100);
    const std::regex shape(
        "Root=1-6553f100-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0;Lineage=[0-9a-f]{8}:1");
    EXPECT_TRUE(std::regex_match(child, shape)) << child;
    EXPECT_NE(child_trace("", kArn, 0x6553f100), child);  // fresh ids each time
    // A trace without Root is treated the same way, but its count is carried on.
    const std::string rootless = child_trace("Parent=1;Lineage=abcdef01:6", kArn, 0);
    EXPECT_EQ(lineage_count(rootless), 7u);
    EXPECT_FALSE(trace_root(rootless).empty());
}

TEST(TraceHeader, ChildNeverGrowsPastTheLimit) {
    // Near the limit, appending Lineage would make the next hop see "no trace" and reset the
    // count; the child gets a fresh Root but keeps counting.
    std::string long_trace =
        "Root=1-a-b;X=" + std::string(kMaxTraceHeaderBytes - 32, 'y') + ";Lineage=abcdef01:9";
    ASSERT_EQ(long_trace.size(), kMaxTraceHeaderBytes);
    const std::string child = child_trace(long_trace, kArn, 0);
    EXPECT_TRUE(trace_header_usable(child));
    EXPECT_EQ(lineage_count(child), 10u);
}

}  // namespace
}  // namespace pf::lambda
