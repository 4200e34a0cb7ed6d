#include "s3api/xml_reader.h"
#include "s3api/xml_writer.h"

#include <gtest/gtest.h>

#include <chrono>

namespace pf::s3api {
namespace {

TEST(XmlReader, IgnoresNamespacesAndReadsChildren) {
    auto doc = XmlDocument::parse(
        "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Object><Key>a</Key></Object>"
        "<Object><Key>b&amp;c</Key></Object><Quiet>true</Quiet></Delete>");
    ASSERT_TRUE(doc);
    EXPECT_EQ(doc->root().name(), "Delete");
    auto objects = doc->root().children("Object");
    ASSERT_EQ(objects.size(), 2u);
    EXPECT_EQ(objects[1].child("Key")->text(), "b&c");
    EXPECT_EQ(doc->root().child("Quiet")->text(), "true");
    EXPECT_FALSE(doc->root().child("Missing"));
}

TEST(XmlReader, RefusesEntityExpansionQuickly) {
    std::string bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">";
    for (int i = 1; i < 10; ++i) {
        bomb += "<!ENTITY lol" + std::to_string(i) + " \"";
        for (int k = 0; k < 10; ++k) bomb += "&lol" + (i == 1 ? std::string() : std::to_string(i - 1)) + ";";
        bomb += "\">";
    }
    bomb += "]><Delete><Object><Key>&lol9;</Key></Object></Delete>";
    auto start = std::chrono::steady_clock::now();
    auto doc = XmlDocument::parse(bomb);
    EXPECT_FALSE(doc);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
}

TEST(XmlReader, RefusesDeepNestingAndMalformedText) {
    std::string deep;
    for (int i = 0; i < 10000; ++i) deep += "<a>";
    for (int i = 0; i < 10000; ++i) deep += "</a>";
    EXPECT_FALSE(XmlDocument::parse(deep));
    EXPECT_FALSE(XmlDocument::parse("<Delete><Object></Delete>"));
    EXPECT_FALSE(XmlDocument::parse(""));
    EXPECT_FALSE(XmlDocument::parse("not xml"));
    // Undeclared entities are not expanded (and pugixml leaves them as text).
    auto doc = XmlDocument::parse("<a>&unknown;</a>");
    if (doc) {
        EXPECT_NE(doc->root().text().find("unknown"), std::string::npos);
    }
}

TEST(XmlWriter, EscapesTextAndNestsElements) {
    XmlWriter xml;
    xml.open("ListBucketResult", kS3Namespace).element("Key", "a<b>&\"c'").element("Size", std::uint64_t{42});
    xml.open("CommonPrefixes").element("Prefix", "p/").close();
    std::string out = xml.take();
    EXPECT_NE(out.find("<Key>a&lt;b&gt;&amp;&quot;c&apos;</Key>"), std::string::npos);
    EXPECT_NE(out.find("<Size>42</Size>"), std::string::npos);
    EXPECT_NE(out.find("<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListBucketResult>"),
              std::string::npos);
    // What the writer produces, the reader reads back.
    auto doc = XmlDocument::parse(out);
    ASSERT_TRUE(doc);
    EXPECT_EQ(doc->root().child("Key")->text(), "a<b>&\"c'");
}

TEST(XmlWriter, OutputIsAlwaysWellFormed) {
    XmlWriter xml;
    xml.open("R")
        .element("Key", std::string("a\x01" "b\tc\nd\re"))
        .element("Bad", std::string("x\xFF\xFEy\xC0\xAFz\xED\xA0\x80w\xE6\x97"))
        .element("Nul", std::string("a\0b", 3))
        .element("Fine", "日本語 ü 😀");
    auto doc = XmlDocument::parse(xml.take());
    ASSERT_TRUE(doc);
    EXPECT_EQ(doc->root().child("Key")->text(), "a\xEF\xBF\xBD" "b\tc\nd\re");
    EXPECT_EQ(doc->root().child("Bad")->text(),
              "x\xEF\xBF\xBD\xEF\xBF\xBDy\xEF\xBF\xBD\xEF\xBF\xBDz\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDw\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(doc->root().child("Nul")->text(), "a\xEF\xBF\xBD" "b");
    EXPECT_EQ(doc->root().child("Fine")->text(), "日本語 ü 😀");
}

}  // namespace
}  // namespace pf::s3api
