#include "aws/post_policy.h"
#include "aws/sigv4.h"
#include "aws/time_format.h"
#include "crypto/encoding.h"

#include <gtest/gtest.h>

namespace pf::aws {
namespace {

// Sheet 2.7 #8 (its JSON uses CRLF line endings).
constexpr std::string_view kPolicy =
    "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgIC"
    "B7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNl"
    "ci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaX"
    "JlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2Fk"
    "Lmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LW"
    "Ftei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRp"
    "b24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgIC"
    "B7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3"
    "czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7In"
    "gtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";

SystemTime at(std::string_view iso) {
    return *parse_iso8601(iso);
}

std::string b64(std::string_view json) {
    return crypto::base64_encode(json);
}

// The form a browser would submit for the example policy (before the file field).
FormFields example_form() {
    return {
        {"key", "user/user1/${filename}"},
        {"acl", "public-read"},
        {"success_action_redirect",
         "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html"},
        {"Content-Type", "image/jpeg"},
        {"x-amz-meta-uuid", "14365123651274"},
        {"x-amz-server-side-encryption", "AES256"},
        {"X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"},
        {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
        {"X-Amz-Date", "20151229T000000Z"},
        {"x-amz-meta-tag", ""},
        {"Policy", std::string(kPolicy)},
        {"X-Amz-Signature", "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"}};
}

constexpr std::string_view kBucket = "sigv4examplebucket";
constexpr std::string_view kKey = "user/user1/photo.jpg"; // after ${filename} substitution

Result<PostPolicy> example_policy() {
    return parse_post_policy(kPolicy);
}

void expect_denied(const Result<void>& result, std::string_view message_part) {
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, ErrorCode::Forbidden);
    EXPECT_NE(result.error().client_message().find(message_part), std::string::npos)
        << result.error().client_message();
}

TEST(PostPolicy, Vector8ParsesEveryCondition) {
    EXPECT_EQ(post_policy_signature("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                    {"20151229", "us-east-1", "s3"}, kPolicy),
              "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e");
    auto policy = example_policy();
    ASSERT_TRUE(policy.has_value()) << policy.error().message;
    EXPECT_EQ(policy->expiration, at("2015-12-30T12:00:00Z"));
    EXPECT_FALSE(policy->content_length_range.has_value());
    using M = PostPolicy::Match;
    const std::vector<std::tuple<std::string, M, std::string>> expected = {
        {"bucket", M::Exact, "sigv4examplebucket"},
        {"key", M::StartsWith, "user/user1/"},
        {"acl", M::Exact, "public-read"},
        {"success_action_redirect", M::Exact,
         "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html"},
        {"content-type", M::StartsWith, "image/"},
        {"x-amz-meta-uuid", M::Exact, "14365123651274"},
        {"x-amz-server-side-encryption", M::Exact, "AES256"},
        {"x-amz-meta-tag", M::StartsWith, ""},
        {"x-amz-credential", M::Exact, "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"},
        {"x-amz-algorithm", M::Exact, "AWS4-HMAC-SHA256"},
        {"x-amz-date", M::Exact, "20151229T000000Z"}};
    ASSERT_EQ(policy->conditions.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(policy->conditions[i].field, std::get<0>(expected[i]));
        EXPECT_EQ(policy->conditions[i].match, std::get<1>(expected[i])) << i;
        EXPECT_EQ(policy->conditions[i].value, std::get<2>(expected[i]));
    }
}

TEST(PostPolicy, Vector8FormIsAcceptedBeforeExpiry) {
    auto policy = example_policy();
    ASSERT_TRUE(policy.has_value());
    auto ok = check_post_policy_fields(*policy, example_form(), kBucket, kKey,
                                       at("2015-12-29T10:00:00Z"));
    EXPECT_TRUE(ok.has_value()) << ok.error().message;
    EXPECT_TRUE(check_post_policy_size(*policy, 123'456'789).has_value());
}

TEST(PostPolicy, ExpiredPolicyIsForbidden) {
    auto policy = example_policy();
    ASSERT_TRUE(policy.has_value());
    expect_denied(check_post_policy_fields(*policy, example_form(), kBucket, kKey,
                                           at("2015-12-30T12:00:01Z")),
                  "Invalid according to Policy: Policy expired");
    EXPECT_TRUE(
        check_post_policy_fields(*policy, example_form(), kBucket, kKey, at("2015-12-30T12:00:00Z"))
            .has_value())
        << "valid up to and including the expiration instant";
}

TEST(PostPolicy, EveryConditionIsEnforced) {
    auto policy = example_policy();
    ASSERT_TRUE(policy.has_value());
    const SystemTime now = at("2015-12-29T10:00:00Z");
    // starts-with on the key (checked on the final key, after ${filename}).
    expect_denied(
        check_post_policy_fields(*policy, example_form(), kBucket, "user/user2/photo.jpg", now),
        "[\"starts-with\", \"$key\", \"user/user1/\"]");
    // eq on the bucket.
    expect_denied(check_post_policy_fields(*policy, example_form(), "otherbucket", kKey, now),
                  "[\"eq\", \"$bucket\", \"sigv4examplebucket\"]");
    // eq on a form field (names compared case-insensitively, values exactly).
    FormFields form = example_form();
    form[1].second = "private";
    expect_denied(check_post_policy_fields(*policy, form, kBucket, kKey, now), "$acl");
    form = example_form();
    form[5].second = "aes256";
    expect_denied(check_post_policy_fields(*policy, form, kBucket, kKey, now),
                  "$x-amz-server-side-encryption");
    // starts-with on Content-Type.
    form = example_form();
    form[3].second = "text/plain";
    expect_denied(check_post_policy_fields(*policy, form, kBucket, kKey, now),
                  "[\"starts-with\", \"$content-type\", \"image/\"]");
    // A required field that is absent.
    form = example_form();
    form.erase(form.begin() + 4);
    expect_denied(check_post_policy_fields(*policy, form, kBucket, kKey, now), "$x-amz-meta-uuid");
    // ["starts-with", "$x-amz-meta-tag", ""] admits any value, or none.
    form = example_form();
    form[9].second = "anything at all";
    EXPECT_TRUE(check_post_policy_fields(*policy, form, kBucket, kKey, now).has_value());
    form.erase(form.begin() + 9);
    EXPECT_TRUE(check_post_policy_fields(*policy, form, kBucket, kKey, now).has_value());
}

TEST(PostPolicy, FieldNamesAreCaseInsensitive) {
    auto policy = example_policy();
    ASSERT_TRUE(policy.has_value());
    FormFields form = example_form();
    form[3].first = "CONTENT-TYPE";
    form[1].first = "ACL";
    form[8].first = "x-amz-date";
    EXPECT_TRUE(check_post_policy_fields(*policy, form, kBucket, kKey, at("2015-12-29T10:00:00Z"))
                    .has_value());
}

TEST(PostPolicy, EveryFieldMustBeCoveredByACondition) {
    auto policy = example_policy();
    ASSERT_TRUE(policy.has_value());
    const SystemTime now = at("2015-12-29T10:00:00Z");
    FormFields form = example_form();
    form.emplace_back("x-amz-meta-other", "1");
    expect_denied(check_post_policy_fields(*policy, form, kBucket, kKey, now),
                  "Invalid according to Policy: Extra input fields: x-amz-meta-other");
    form = example_form();
    form.emplace_back("Cache-Control", "max-age=1");
    expect_denied(check_post_policy_fields(*policy, form, kBucket, kKey, now),
                  "Extra input fields: Cache-Control");
    // Exempt: the signature, the policy itself, the file and x-ignore-* fields.
    form = example_form();
    form.emplace_back("x-ignore-tracking", "1");
    form.emplace_back("X-Ignore-Other", "2");
    form.emplace_back("file", "");
    EXPECT_TRUE(check_post_policy_fields(*policy, form, kBucket, kKey, now).has_value());
}

TEST(PostPolicy, ArrayEqAndObjectFormsAreEquivalent) {
    auto policy = parse_post_policy(b64(R"({"expiration":"2030-01-01T00:00:00Z","conditions":[
        ["eq","$bucket","b"],["EQ","$Key","k"],{"success_action_status":"201"}]})"));
    ASSERT_TRUE(policy.has_value()) << policy.error().message;
    ASSERT_EQ(policy->conditions.size(), 3u);
    EXPECT_EQ(policy->conditions[1].field, "key");
    const SystemTime now = at("2029-01-01T00:00:00Z");
    EXPECT_TRUE(check_post_policy_fields(*policy, {{"key", "k"}, {"success_action_status", "201"}},
                                         "b", "k", now)
                    .has_value());
    expect_denied(
        check_post_policy_fields(*policy, {{"success_action_status", "200"}}, "b", "k", now),
        "$success_action_status");
}

TEST(PostPolicy, PolicyWithoutABucketConditionIsRefused) {
    auto policy = parse_post_policy(
        b64(R"({"expiration":"2030-01-01T00:00:00Z","conditions":[["starts-with","$key",""]]})"));
    ASSERT_TRUE(policy.has_value());
    expect_denied(
        check_post_policy_fields(*policy, {{"key", "x"}}, "b", "x", at("2029-01-01T00:00:00Z")),
        "bucket");
}

TEST(PostPolicy, ContentLengthRange) {
    auto policy = parse_post_policy(b64(R"({"expiration":"2030-01-01T00:00:00Z","conditions":[
        {"bucket":"b"},["content-length-range", 10, 100]]})"));
    ASSERT_TRUE(policy.has_value()) << policy.error().message;
    ASSERT_TRUE(policy->content_length_range.has_value());
    EXPECT_EQ(*policy->content_length_range, (std::pair<std::uint64_t, std::uint64_t>{10, 100}));
    EXPECT_TRUE(check_post_policy_size(*policy, 10).has_value());
    EXPECT_TRUE(check_post_policy_size(*policy, 100).has_value());
    auto above = check_post_policy_size(*policy, 101);
    ASSERT_FALSE(above.has_value());
    EXPECT_EQ(above.error().code, ErrorCode::TooLarge);
    EXPECT_NE(above.error().client_message().find("exceeds the maximum"), std::string::npos);
    auto below = check_post_policy_size(*policy, 9);
    ASSERT_FALSE(below.has_value());
    EXPECT_EQ(below.error().code, ErrorCode::LimitExceeded);
    EXPECT_NE(below.error().client_message().find("smaller than the minimum"), std::string::npos);

    // Bounds as digit strings, as some SDKs write them.
    auto strings = parse_post_policy(b64(R"({"expiration":"2030-01-01T00:00:00Z","conditions":[
        ["content-length-range","0","5242880"]]})"));
    ASSERT_TRUE(strings.has_value()) << strings.error().message;
    EXPECT_EQ(strings->content_length_range->second, 5242880u);
}

TEST(PostPolicy, MalformedPoliciesAreInvalidArgument) {
    const std::pair<std::string, std::string> cases[] = {
        {"not base64!", "not valid base64"},
        {b64("{not json"), "not valid JSON"},
        {b64("[1,2]"), "not a JSON object"},
        {b64(R"({"conditions":[]})"), "missing \"expiration\""},
        {b64(R"({"expiration":"tomorrow","conditions":[]})"), "not an ISO 8601 time"},
        {b64(R"({"expiration":"2030-01-01T00:00:00Z"})"), "missing \"conditions\""},
        {b64(R"({"expiration":"2030-01-01T00:00:00Z","conditions":{}})"), "missing \"conditions\""},
        {b64(R"({"expiration":"2030-01-01T00:00:00Z","conditions":[["in","$key","a"]]})"),
         "unknown condition 'in'"},
        {b64(R"({"expiration":"2030-01-01T00:00:00Z","conditions":[["eq","key","a"]]})"),
         "must name a field"},
        {b64(R"({"expiration":"2030-01-01T00:00:00Z","conditions":[["eq","$key"]]})"),
         "needs a \"$field\" and a value"},
        {b64(R"({"expiration":"2030-01-01T00:00:00Z","conditions":[["eq","$key",1]]})"),
         "needs a \"$field\" and a value"},
        {b64(R"({"expiration":"2030-01-01T00:00:00Z","conditions":[{"acl":1}]})"),
         "must have a string value"},
        {b64(R"({"expiration":"2030-01-01T00:00:00Z","conditions":["acl"]})"),
         "neither an object nor an array"},
        {b64(R"({"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",5,1]]})"),
         "content-length-range"},
        {b64(R"({"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",-1,1]]})"),
         "content-length-range"},
        {b64(R"({"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",1]]})"),
         "needs a minimum and a maximum"},
        {b64(R"({"expiration":"2030-01-01T00:00:00Z","conditions":[[[[[[[[[[1]]]]]]]]]]})"),
         "nests deeper"},
    };
    for (const auto& [policy, message] : cases) {
        auto parsed = parse_post_policy(policy);
        ASSERT_FALSE(parsed.has_value()) << message;
        EXPECT_EQ(parsed.error().code, ErrorCode::InvalidArgument);
        EXPECT_NE(parsed.error().message.find(message), std::string::npos)
            << parsed.error().message;
    }
    auto big =
        parse_post_policy(b64(R"({"expiration":"2030-01-01T00:00:00Z","conditions":[{"x":")" +
                              std::string(30'000, 'a') + "\"}]}"));
    ASSERT_FALSE(big.has_value());
    EXPECT_NE(big.error().message.find("larger than 20480"), std::string::npos);
}

} // namespace
} // namespace pf::aws
