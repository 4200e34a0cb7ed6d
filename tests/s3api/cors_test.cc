#include "s3api/cors.h"

#include <gtest/gtest.h>

namespace pf::s3api {
namespace {

std::string header(const HeaderPairs& headers, std::string_view name) {
    for (const auto& [n, v] : headers) {
        if (n == name) return v;
    }
    return "";
}

TEST(Cors, PreflightAllowedEchoesOriginAndHeaders) {
    CorsPolicy policy;
    policy.expose_headers = {"ETag", "x-amz-request-id"};
    auto h = preflight_headers(policy, "https://app.example", "PUT", "content-type, x-amz-date");
    ASSERT_TRUE(h);
    EXPECT_EQ(header(*h, "Access-Control-Allow-Origin"), "https://app.example");
    EXPECT_NE(header(*h, "Access-Control-Allow-Methods").find("PUT"), std::string::npos);
    EXPECT_EQ(header(*h, "Access-Control-Allow-Headers"), "content-type, x-amz-date");
    EXPECT_EQ(header(*h, "Access-Control-Expose-Headers"), "ETag, x-amz-request-id");
}

TEST(Cors, RestrictedPolicyRefusesOtherOriginsMethodsAndHeaders) {
    CorsPolicy policy;
    policy.allowed_origins = {"https://*.example.com"};
    policy.allowed_methods = {"GET", "PUT"};
    policy.allowed_headers = {"content-type", "x-amz-*"};
    EXPECT_TRUE(preflight_headers(policy, "https://app.example.com", "PUT", "x-amz-date"));
    EXPECT_FALSE(preflight_headers(policy, "https://evil.test", "PUT", ""));
    EXPECT_FALSE(preflight_headers(policy, "https://app.example.com", "DELETE", ""));
    EXPECT_FALSE(preflight_headers(policy, "https://app.example.com", "PUT", "authorization-x"));
    EXPECT_FALSE(preflight_headers(policy, "", "PUT", ""));
    EXPECT_TRUE(response_cors_headers(policy, "https://evil.test").empty());
    EXPECT_EQ(header(response_cors_headers(policy, "https://a.example.com"), "Access-Control-Allow-Origin"),
              "https://a.example.com");
}

TEST(Cors, SplitList) {
    EXPECT_EQ(split_list(" a, b ,,c "), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_TRUE(split_list("").empty());
}

}  // namespace
}  // namespace pf::s3api
