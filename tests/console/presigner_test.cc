// Presigned URLs are checked by the S3 API's own authenticator: what the console signs is what
// the S3 port accepts.
#include "console/presigner.h"

#include "s3api/authenticator.h"
#include "s3api/s3_request.h"

#include <gtest/gtest.h>

#include <variant>

namespace pf::console {
namespace {

const aws::SigningCredentials kCredentials{"AKIDCONSOLE", "console-secret-key", ""};
const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'760'000'000));

class OneKey : public s3api::CredentialStore {
public:
    std::optional<std::string> secret_for(std::string_view id) const override {
        if (id == kCredentials.access_key_id) {
            return kCredentials.secret_access_key;
        }
        return std::nullopt;
    }
};

// Authenticates `url` as the S3 API would, for a request sent with `method` to `host` at `at`.
std::variant<s3api::AuthResult, s3api::S3Error> verify(const std::string& method,
                                                       const std::string& url,
                                                       const std::string& host,
                                                       std::chrono::system_clock::time_point at) {
    static OneKey keys;
    http::Request http;
    http.method = method;
    http.target = url;
    http.headers = {{"host", host}};
    s3api::S3Request request;
    if (auto error = s3api::parse_s3_request(http, {}, request)) {
        return *error;
    }
    s3api::Authenticator auth(keys, s3api::AuthOptions{.now = [at] { return at; }});
    return auth.authenticate(request);
}

PresignInput input(std::string method, std::map<std::string, std::string> query = {}) {
    return PresignInput{std::move(method), "photos", "uploads/summer trip/ä+b.jpg",
                        std::move(query), "localhost:9000"};
}

TEST(Presigner, AllowedOperationsAreAcceptedByTheS3Authenticator) {
    const std::vector<PresignInput> allowed = {
        input("PUT"),
        input("GET"),
        input("HEAD"),
        input("DELETE"),
        input("POST", {{"uploads", ""}}),
        input("PUT", {{"partNumber", "3"}, {"uploadId", "abc-123"}}),
        input("POST", {{"uploadId", "abc-123"}}),
        input("DELETE", {{"uploadId", "abc-123"}}),
    };
    for (const auto& in : allowed) {
        auto url = presign(in, kCredentials, "us-east-1", kNow);
        ASSERT_TRUE(url) << in.method << ": " << url.error().message;
        EXPECT_TRUE(url->url.starts_with("/photos/uploads/summer%20trip/")) << url->url;
        EXPECT_EQ(url->expires_at, kNow + std::chrono::minutes(15));
        auto verified = verify(in.method, url->url, in.host, kNow + std::chrono::minutes(1));
        ASSERT_TRUE(std::holds_alternative<s3api::AuthResult>(verified))
            << in.method << " " << url->url << ": "
            << std::get<s3api::S3Error>(verified).code << " "
            << std::get<s3api::S3Error>(verified).message;
        EXPECT_EQ(std::get<s3api::AuthResult>(verified).principal.access_key_id, "AKIDCONSOLE");
    }
}

TEST(Presigner, UrlIsBoundToHostMethodAndLifetime) {
    auto in = input("PUT");
    auto url = presign(in, kCredentials, "us-east-1", kNow);
    ASSERT_TRUE(url);
    auto other_host = verify("PUT", url->url, "evil.example:9000", kNow);
    ASSERT_TRUE(std::holds_alternative<s3api::S3Error>(other_host));
    EXPECT_EQ(std::get<s3api::S3Error>(other_host).code, "SignatureDoesNotMatch");
    auto other_method = verify("DELETE", url->url, in.host, kNow);
    ASSERT_TRUE(std::holds_alternative<s3api::S3Error>(other_method));
    auto expired = verify("PUT", url->url, in.host, kNow + std::chrono::minutes(16));
    ASSERT_TRUE(std::holds_alternative<s3api::S3Error>(expired));
    EXPECT_EQ(std::get<s3api::S3Error>(expired).code, "AccessDenied");
}

TEST(Presigner, DisallowedOperationsAreRefused) {
    const std::vector<PresignInput> refused = {
        input("PATCH"),
        input("GET", {{"acl", ""}}),
        input("PUT", {{"policy", ""}}),
        input("POST"),                                     // POST object without ?uploads
        input("PUT", {{"partNumber", "1"}}),               // part without upload id
        input("PUT", {{"partNumber", "0"}, {"uploadId", "x"}}),
        input("PUT", {{"partNumber", "10001"}, {"uploadId", "x"}}),
        input("POST", {{"uploads", ""}, {"tagging", ""}}),
        input("GET", {{"uploadId", "x"}}),                 // ListParts is not needed
        input("DELETE", {{"uploadId", ""}}),
    };
    for (const auto& in : refused) {
        auto url = presign(in, kCredentials, "us-east-1", kNow);
        ASSERT_FALSE(url) << in.method << " with " << in.query.size() << " params was signed";
        EXPECT_EQ(url.error().code, ErrorCode::InvalidArgument);
    }
    auto bad_bucket = input("GET");
    bad_bucket.bucket = "_console";
    EXPECT_FALSE(presign(bad_bucket, kCredentials, "us-east-1", kNow));
    auto no_key = input("GET");
    no_key.key.clear();
    EXPECT_FALSE(presign(no_key, kCredentials, "us-east-1", kNow));
    auto no_host = input("GET");
    no_host.host.clear();
    EXPECT_FALSE(presign(no_host, kCredentials, "us-east-1", kNow));
}

}  // namespace
}  // namespace pf::console
