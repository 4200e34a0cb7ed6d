#include "aws/uri_encoding.h"

#include <gtest/gtest.h>

namespace pf::aws {
namespace {

TEST(UriEncode, KeepsOnlyUnreservedCharacters) {
    EXPECT_EQ(uri_encode("AZaz09-_.~", false), "AZaz09-_.~");
    EXPECT_EQ(uri_encode("a b", false), "a%20b") << "space is %20, never '+'";
    EXPECT_EQ(uri_encode("a+b", false), "a%2Bb");
    EXPECT_EQ(uri_encode("a/b", false), "a%2Fb");
    EXPECT_EQ(uri_encode("a/b", true), "a/b");
    EXPECT_EQ(uri_encode("$&'()*,;=!@:?#[]%", false),
              "%24%26%27%28%29%2A%2C%3B%3D%21%40%3A%3F%23%5B%5D%25");
    EXPECT_EQ(uri_encode("", true), "");
}

TEST(UriEncode, EncodesUtf8BytesWithUppercaseHex) {
    EXPECT_EQ(uri_encode("caf\xc3\xa9", false), "caf%C3%A9");
    EXPECT_EQ(uri_encode("\xe2\x82\xac/\xf0\x9f\x93\xb7", true), "%E2%82%AC/%F0%9F%93%B7");
    EXPECT_EQ(uri_encode(std::string_view("\x00\x7f", 2), false), "%00%7F");
}

TEST(PercentDecodePath, DecodesOnceAndKeepsPlus) {
    EXPECT_EQ(percent_decode_path("/bucket/a%20b+c.jpg"), "/bucket/a b+c.jpg");
    EXPECT_EQ(percent_decode_path("%2541"), "%41") << "decoded exactly once";
    EXPECT_EQ(percent_decode_path("caf%c3%A9"), "caf\xc3\xa9") << "either hex case";
    EXPECT_EQ(percent_decode_path("~%7E"), "~~");
    EXPECT_EQ(percent_decode_path(""), "");
}

TEST(PercentDecodePath, RejectsMalformedEscapes) {
    EXPECT_EQ(percent_decode_path("%G1"), std::nullopt);
    EXPECT_EQ(percent_decode_path("abc%"), std::nullopt);
    EXPECT_EQ(percent_decode_path("abc%4"), std::nullopt);
    EXPECT_EQ(percent_decode_path("%%41"), std::nullopt);
    EXPECT_EQ(percent_decode_path("%4g"), std::nullopt);
}

TEST(FormDecode, PlusIsSpaceAndEscapedPlusIsPlus) {
    EXPECT_EQ(form_decode("a+b"), "a b");
    EXPECT_EQ(form_decode("a%2Bb"), "a+b");
    EXPECT_EQ(form_decode("in/My+Photo%281%29.jpg"), "in/My Photo(1).jpg");
    EXPECT_EQ(form_decode("%"), std::nullopt);
}

TEST(FormEncode, SpaceIsPlusAndLiteralPlusIsEscaped) {
    EXPECT_EQ(form_encode("a b+c"), "a+b%2Bc");
    EXPECT_EQ(form_encode("in/cat.jpg"), "in%2Fcat.jpg");
    EXPECT_EQ(form_encode("~x_y-z."), "~x_y-z.");
    EXPECT_EQ(form_encode("\xc3\xa9"), "%C3%A9");
    for (const std::string key : {"a b+c/d%e", "\xe2\x82\xac ~!*", "++  ", ""}) {
        EXPECT_EQ(form_decode(form_encode(key)), key);
    }
}

TEST(ParseQuery, SplitsAndDecodesInWireOrder) {
    auto q = parse_query("a=1&b&c=x%20y&d=&e=p+q&e=2");
    ASSERT_TRUE(q.has_value());
    const QueryParams expected = {{"a", "1"}, {"b", ""},    {"c", "x y"},
                                  {"d", ""},  {"e", "p q"}, {"e", "2"}};
    EXPECT_EQ(*q, expected);
}

TEST(ParseQuery, ValueMayContainEqualsAndNamesAreDecoded) {
    auto q = parse_query("x%2Did=a=b&response-content-type=image%2Fjpeg");
    ASSERT_TRUE(q.has_value());
    const QueryParams expected = {{"x-id", "a=b"}, {"response-content-type", "image/jpeg"}};
    EXPECT_EQ(*q, expected);
}

TEST(ParseQuery, EmptyPiecesAreSkipped) {
    auto q = parse_query("&a=1&&b=2&");
    ASSERT_TRUE(q.has_value());
    const QueryParams expected = {{"a", "1"}, {"b", "2"}};
    EXPECT_EQ(*q, expected);
    auto empty = parse_query("");
    ASSERT_TRUE(empty.has_value());
    EXPECT_TRUE(empty->empty());
}

TEST(ParseQuery, MalformedEscapesFailTheWholeQuery) {
    EXPECT_EQ(parse_query("a=%ZZ"), std::nullopt);
    EXPECT_EQ(parse_query("ok=1&bad%=2"), std::nullopt);
    EXPECT_EQ(parse_query("a=1%"), std::nullopt);
    EXPECT_EQ(parse_query("a=%4"), std::nullopt);
}

} // namespace
} // namespace pf::aws
