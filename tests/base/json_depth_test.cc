// json_nesting_exceeds: counts nesting outside strings, and stops at the first level too deep.
#include "base/json_depth.h"

#include <gtest/gtest.h>

#include <string>

namespace pf {
namespace {

TEST(JsonDepth, CountsObjectsAndArraysOutsideStrings) {
    EXPECT_FALSE(json_nesting_exceeds(R"({"a":[{"b":1}]})", 3));
    EXPECT_TRUE(json_nesting_exceeds(R"({"a":[{"b":1}]})", 2));
    EXPECT_FALSE(json_nesting_exceeds(R"({"a":"[[[[{{{{"})", 1)) << "brackets in a string";
    EXPECT_FALSE(json_nesting_exceeds(R"({"a":"\"[[[["})", 1)) << "an escaped quote does not end it";
    EXPECT_FALSE(json_nesting_exceeds(R"([][][][])", 1)) << "siblings are not nesting";
    EXPECT_FALSE(json_nesting_exceeds("", 0));
}

TEST(JsonDepth, HostileDepthIsFoundWithoutParsing) {
    std::string deep(100000, '[');
    EXPECT_TRUE(json_nesting_exceeds(deep, 64));
    EXPECT_FALSE(json_nesting_exceeds(std::string(64, '[') + std::string(64, ']'), 64));
}

}  // namespace
}  // namespace pf
