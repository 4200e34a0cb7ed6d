// The authenticator against the SigV4 test vectors of the reference sheet (2.7 #1 and #5), and
// what a one-character change to any signed part does.
#include "fake_http.h"
#include "s3api/authenticator.h"

#include <gtest/gtest.h>

namespace pf::s3api {
namespace {

using namespace std::chrono;
using testing::make_request;

constexpr const char* kAccessKey = "AKIAIOSFODNN7EXAMPLE";
constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const system_clock::time_point kVectorTime = system_clock::time_point(seconds(1369353600));  // 20130524T000000Z

class ExampleCredentials : public CredentialStore {
public:
    std::optional<std::string> secret_for(std::string_view id) const override {
        if (id == kAccessKey) return std::string(kSecret);
        return std::nullopt;
    }
};

class AuthenticatorTest : public ::testing::Test {
protected:
    std::variant<AuthResult, S3Error> run(const http::Request& http,
                                          system_clock::time_point now = kVectorTime) {
        AuthOptions options;
        options.now = [now] { return now; };
        Authenticator auth(credentials_, options);
        S3Request request;
        auto error = parse_s3_request(http, AddressingOptions{{"s3.amazonaws.com"}}, request);
        EXPECT_FALSE(error);
        return auth.authenticate(request);
    }
    static std::string code(const std::variant<AuthResult, S3Error>& r) {
        return std::holds_alternative<S3Error>(r) ? std::get<S3Error>(r).code : "OK";
    }

    ExampleCredentials credentials_;
};

std::vector<std::pair<std::string, std::string>> vector1_headers() {
    return {{"host", "examplebucket.s3.amazonaws.com"},
            {"range", "bytes=0-9"},
            {"x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
            {"x-amz-date", "20130524T000000Z"},
            {"authorization",
             "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
             "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
             "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"}};
}

TEST_F(AuthenticatorTest, HeaderSignatureVectorIsAccepted) {
    auto result = run(make_request("GET", "/test.txt", vector1_headers()));
    ASSERT_EQ(code(result), "OK");
    const auto& ok = std::get<AuthResult>(result);
    EXPECT_FALSE(ok.principal.anonymous);
    EXPECT_EQ(ok.principal.access_key_id, kAccessKey);
    EXPECT_EQ(ok.payload.kind, PayloadPlan::Kind::SignedHash);
}

TEST_F(AuthenticatorTest, AnyChangeToASignedPartIsRefused) {
    auto changed_header = [&](const std::string& name, const std::string& value) {
        auto headers = vector1_headers();
        for (auto& h : headers) {
            if (h.first == name) h.second = value;
        }
        return run(make_request("GET", "/test.txt", headers));
    };
    EXPECT_EQ(code(changed_header("range", "bytes=0-8")), "SignatureDoesNotMatch");
    EXPECT_EQ(code(changed_header("host", "examplebucket.s3.amazonaws.co")), "SignatureDoesNotMatch");
    EXPECT_EQ(code(changed_header("x-amz-content-sha256",
                                  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b856")),
              "SignatureDoesNotMatch");
    EXPECT_EQ(code(run(make_request("GET", "/test.tx", vector1_headers()))), "SignatureDoesNotMatch");
    EXPECT_EQ(code(run(make_request("PUT", "/test.txt", vector1_headers()))), "SignatureDoesNotMatch");
    EXPECT_EQ(code(run(make_request("GET", "/test.txt?a=1", vector1_headers()))), "SignatureDoesNotMatch");
    auto headers = vector1_headers();
    headers.back().second.back() = '2';  // the signature itself
    EXPECT_EQ(code(run(make_request("GET", "/test.txt", headers))), "SignatureDoesNotMatch");
}

TEST_F(AuthenticatorTest, MismatchEchoesWhatWasSigned) {
    auto headers = vector1_headers();
    headers[1].second = "bytes=0-8";
    auto result = run(make_request("GET", "/test.txt", headers));
    ASSERT_TRUE(std::holds_alternative<S3Error>(result));
    const auto& error = std::get<S3Error>(result);
    EXPECT_EQ(error.status, 403);
    bool has_canonical = false;
    for (const auto& [name, value] : error.details) {
        has_canonical |= name == "CanonicalRequest" && value.find("range:bytes=0-8") != std::string::npos;
    }
    EXPECT_TRUE(has_canonical);
}

TEST_F(AuthenticatorTest, ClockSkewUnknownKeyAndMissingPayloadHash) {
    auto request = make_request("GET", "/test.txt", vector1_headers());
    EXPECT_EQ(code(run(request, kVectorTime + minutes(14))), "OK");
    EXPECT_EQ(code(run(request, kVectorTime + minutes(16))), "RequestTimeTooSkewed");
    EXPECT_EQ(code(run(request, kVectorTime - minutes(16))), "RequestTimeTooSkewed");

    auto headers = vector1_headers();
    headers.back().second.replace(headers.back().second.find("AKIAIOSFODNN7EXAMPLE"), 20,
                                  "AKIAIOSFODNN7EXAMPLF");
    EXPECT_EQ(code(run(make_request("GET", "/test.txt", headers))), "InvalidAccessKeyId");

    headers = vector1_headers();
    headers.erase(headers.begin() + 2);
    EXPECT_EQ(code(run(make_request("GET", "/test.txt", headers))), "InvalidRequest");
}

TEST_F(AuthenticatorTest, UnsignedMetadataHeaderIsRefused) {
    auto headers = vector1_headers();
    headers.emplace_back("x-amz-meta-owner", "mallory");
    EXPECT_EQ(code(run(make_request("GET", "/test.txt", headers))), "AccessDenied");
}

TEST_F(AuthenticatorTest, SigV2AndSigV4aAreRefusedClearly) {
    auto v2 = make_request("GET", "/test.txt", {{"host", "examplebucket.s3.amazonaws.com"},
                                                {"authorization", "AWS AKIAIOSFODNN7EXAMPLE:abc="}});
    EXPECT_EQ(code(run(v2)), "InvalidRequest");
    auto v2q = make_request("GET", "/test.txt?AWSAccessKeyId=AKIA&Signature=x&Expires=1",
                            {{"host", "examplebucket.s3.amazonaws.com"}});
    EXPECT_EQ(code(run(v2q)), "InvalidRequest");
}

const std::string kPresigned =
    "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

TEST_F(AuthenticatorTest, PresignedVectorWithinItsLifetime) {
    auto request = make_request("GET", kPresigned, {{"host", "examplebucket.s3.amazonaws.com"}});
    auto result = run(request, kVectorTime + hours(1));
    ASSERT_EQ(code(result), "OK");
    EXPECT_EQ(std::get<AuthResult>(result).payload.kind, PayloadPlan::Kind::Unsigned);
}

TEST_F(AuthenticatorTest, PresignedExpiredNotYetValidAndTampered) {
    auto request = make_request("GET", kPresigned, {{"host", "examplebucket.s3.amazonaws.com"}});
    auto expired = run(request, kVectorTime + seconds(86401));
    ASSERT_EQ(code(expired), "AccessDenied");
    EXPECT_EQ(std::get<S3Error>(expired).message, "Request has expired");
    auto early = run(request, kVectorTime - minutes(20));
    ASSERT_EQ(code(early), "AccessDenied");
    EXPECT_EQ(std::get<S3Error>(early).message, "Request is not valid yet");

    std::string tampered = kPresigned;
    tampered.replace(tampered.find("86400"), 5, "86401");
    EXPECT_EQ(code(run(make_request("GET", tampered, {{"host", "examplebucket.s3.amazonaws.com"}}),
                       kVectorTime + hours(1))),
              "SignatureDoesNotMatch");
    EXPECT_EQ(code(run(make_request("GET", kPresigned, {{"host", "examplebucket.s3.amazonaws.com:80"}}),
                       kVectorTime + hours(1))),
              "SignatureDoesNotMatch");

    std::string week = kPresigned;
    week.replace(week.find("86400"), 5, "604801");
    EXPECT_EQ(code(run(make_request("GET", week, {{"host", "examplebucket.s3.amazonaws.com"}}),
                       kVectorTime + hours(1))),
              "AuthorizationQueryParametersError");
}

TEST_F(AuthenticatorTest, NoCredentialsMeansAnonymous) {
    auto result = run(make_request("GET", "/test.txt", {{"host", "examplebucket.s3.amazonaws.com"}}));
    ASSERT_EQ(code(result), "OK");
    EXPECT_TRUE(std::get<AuthResult>(result).principal.anonymous);
}

TEST_F(AuthenticatorTest, PostPolicySignatureVector) {
    AuthOptions options;
    Authenticator auth(credentials_, options);
    const std::string policy =
        "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7"
        "ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91"
        "c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3Qi"
        "OiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwi"
        "fSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRh"
        "LXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVT"
        "MjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNy"
        "ZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9"
        "LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAi"
        "MjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
    auto ok = auth.verify_post_signature(
        "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request", "20151229T000000Z", policy,
        "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e");
    EXPECT_TRUE(std::holds_alternative<Principal>(ok));
    auto bad = auth.verify_post_signature(
        "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request", "20151229T000000Z", policy,
        "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699f");
    ASSERT_TRUE(std::holds_alternative<S3Error>(bad));
    EXPECT_EQ(std::get<S3Error>(bad).code, "SignatureDoesNotMatch");
}

}  // namespace
}  // namespace pf::s3api
