#include "fake_http.h"
#include "s3api/s3_request.h"

#include <gtest/gtest.h>

namespace pf::s3api {
namespace {

using testing::make_request;

S3Request parse(const http::Request& http, std::vector<std::string> domains = {"localhost"}) {
    S3Request out;
    auto error = parse_s3_request(http, AddressingOptions{std::move(domains)}, out);
    EXPECT_FALSE(error) << (error ? error->code : "");
    return out;
}

TEST(S3Request, PathStyleSplitsBucketAndKeyAndDecodesOnce) {
    auto http = make_request("GET", "/photos/a%20b%2Bc/%25x.jpg?x-id=GetObject", {{"host", "127.0.0.1:9000"}});
    auto r = parse(http);
    EXPECT_EQ(r.bucket, "photos");
    EXPECT_EQ(r.key, "a b+c/%x.jpg");
    EXPECT_FALSE(r.virtual_hosted);
    EXPECT_EQ(r.param("x-id"), "GetObject");
}

TEST(S3Request, PlusInPathIsLiteral) {
    auto http = make_request("GET", "/photos/a+b", {{"host", "localhost:9000"}});
    EXPECT_EQ(parse(http).key, "a+b");
}

TEST(S3Request, BucketLevelWithAndWithoutTrailingSlash) {
    auto a = make_request("GET", "/photos", {{"host", "localhost"}});
    auto b = make_request("GET", "/photos/?list-type=2&prefix=a%2Fb", {{"host", "localhost"}});
    EXPECT_EQ(parse(a).bucket, "photos");
    EXPECT_EQ(parse(a).key, "");
    auto rb = parse(b);
    EXPECT_EQ(rb.key, "");
    EXPECT_EQ(rb.param("prefix"), "a/b");
    EXPECT_TRUE(rb.has("list-type"));
}

TEST(S3Request, VirtualHostedTakesBucketFromHost) {
    auto http = make_request("PUT", "/dir/cat.jpg", {{"host", "photos.localhost:9000"}});
    auto r = parse(http);
    EXPECT_TRUE(r.virtual_hosted);
    EXPECT_EQ(r.bucket, "photos");
    EXPECT_EQ(r.key, "dir/cat.jpg");
}

TEST(S3Request, ServiceLevelHasNoBucket) {
    auto http = make_request("GET", "/", {{"host", "localhost:9000"}});
    auto r = parse(http);
    EXPECT_EQ(r.bucket, "");
    EXPECT_EQ(r.key, "");
}

TEST(S3Request, MalformedEscapeIsInvalidUri) {
    auto http = make_request("GET", "/photos/%G1", {{"host", "localhost"}});
    S3Request out;
    auto error = parse_s3_request(http, {}, out);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->code, "InvalidURI");
    EXPECT_EQ(error->status, 400);
}

TEST(S3Request, BucketNames) {
    EXPECT_FALSE(validate_bucket_name("photos"));
    EXPECT_FALSE(validate_bucket_name("my.bucket-1"));
    for (const std::string& bad : std::vector<std::string>{"ab", std::string(64, 'a'), "Photos", "_photos", "-abc", "abc-",
                            "a..b", "192.168.1.1", "a_b"}) {
        auto error = validate_bucket_name(bad);
        ASSERT_TRUE(error) << bad;
        EXPECT_EQ(error->code, "InvalidBucketName") << bad;
    }
}

TEST(S3Request, HostileKeysAreRefused) {
    EXPECT_FALSE(validate_key("a/b c+d/ünïcødé.jpg"));
    EXPECT_FALSE(validate_key("..a/b.."));  // dots inside a segment are fine
    EXPECT_EQ(validate_key(std::string(1025, 'k'))->code, "KeyTooLongError");
    EXPECT_FALSE(validate_key(std::string(1024, 'k')));
    EXPECT_EQ(validate_key(std::string("a\0b", 3))->code, "InvalidArgument");
    EXPECT_EQ(validate_key("tab\there")->code, "InvalidArgument");
    EXPECT_EQ(validate_key("del\x7F")->code, "InvalidArgument");
    EXPECT_EQ(validate_key("../etc/passwd")->code, "InvalidArgument");
    EXPECT_EQ(validate_key("a/../../b")->code, "InvalidArgument");
    EXPECT_EQ(validate_key("a/./b")->code, "InvalidArgument");
    EXPECT_EQ(validate_key("..")->code, "InvalidArgument");
    EXPECT_EQ(validate_key("\xFF\xFE")->code, "InvalidArgument");
    EXPECT_EQ(validate_key("\xC0\xAF")->code, "InvalidArgument");      // overlong '/'
    EXPECT_EQ(validate_key("\xED\xA0\x80")->code, "InvalidArgument");  // surrogate
    EXPECT_EQ(validate_key("abc\xE2\x82")->code, "InvalidArgument");   // truncated
}

}  // namespace
}  // namespace pf::s3api
