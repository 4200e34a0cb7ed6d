#include "aws/header_auth.h"

#include "crypto/digest.h"

#include <gtest/gtest.h>

namespace pf::aws {
namespace {

using namespace std::chrono_literals;

const std::chrono::system_clock::time_point kNow =
    std::chrono::system_clock::from_time_t(1'800'000'000);

// A request signed by the client-side signer, as `aws lambda invoke` would send it.
HeaderList signed_headers(const std::string& secret, const std::string& service,
                          std::chrono::system_clock::time_point when, const std::string& body) {
    SignRequest sign;
    sign.method = "POST";
    sign.path = "/2015-03-31/functions/process-photo/invocations";
    sign.headers = {{"host", "127.0.0.1:9000"}, {"content-type", "application/json"}};
    sign.payload_hash = crypto::sha256_hex(body);
    sign.region = "us-east-1";
    sign.service = service;
    sign.now = when;
    HeaderList headers = sign.headers;
    for (auto& h : sign_request(sign, {"AKTEST", secret, ""})) headers.push_back(h);
    return headers;
}

Result<std::string> verify(const HeaderList& headers, const std::string& body,
                           std::chrono::system_clock::time_point now = kNow) {
    HeaderAuthRequest request{"POST", "/2015-03-31/functions/process-photo/invocations", "",
                              &headers, crypto::sha256_hex(body)};
    HeaderAuthOptions options{"lambda",
                              [](std::string_view key) -> std::optional<std::string> {
                                  if (key == "AKTEST") return std::string("secret");
                                  return std::nullopt;
                              },
                              now, 15min};
    return verify_header_signature(request, options);
}

TEST(HeaderAuth, AcceptsWhatTheClientSignerSigns) {
    auto caller = verify(signed_headers("secret", "lambda", kNow, "{}"), "{}");
    ASSERT_TRUE(caller.has_value()) << caller.error().message;
    EXPECT_EQ(*caller, "AKTEST");
}

TEST(HeaderAuth, RefusesWithTheKindOfFailure) {
    EXPECT_EQ(verify({{"host", "x"}}, "").error().code, ErrorCode::Unauthenticated);
    EXPECT_EQ(verify(signed_headers("wrong", "lambda", kNow, "{}"), "{}").error().code,
              ErrorCode::Forbidden);
    // The body is part of the signature.
    EXPECT_EQ(verify(signed_headers("secret", "lambda", kNow, "{}"), "{\"x\":1}").error().code,
              ErrorCode::Forbidden);
    auto scope = verify(signed_headers("secret", "s3", kNow, "{}"), "{}");
    EXPECT_EQ(scope.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(scope.error().message.find("'lambda'"), std::string::npos);
    auto headers = signed_headers("secret", "lambda", kNow, "{}");
    for (auto& [name, value] : headers) {
        if (name == "authorization") value.replace(value.find("AKTEST"), 6, "AKNONE");
    }
    EXPECT_EQ(verify(headers, "{}").error().code, ErrorCode::NotFound);
}

TEST(HeaderAuth, ClockSkewIsWordedAsAwsSoSdksCorrectIt) {
    auto old = verify(signed_headers("secret", "lambda", kNow - 16min, "{}"), "{}");
    EXPECT_EQ(old.error().code, ErrorCode::Forbidden);
    EXPECT_EQ(old.error().message.rfind("Signature expired: ", 0), 0u) << old.error().message;
    auto future = verify(signed_headers("secret", "lambda", kNow + 16min, "{}"), "{}");
    EXPECT_EQ(future.error().message.rfind("Signature not yet current: ", 0), 0u);
    EXPECT_TRUE(verify(signed_headers("secret", "lambda", kNow - 14min, "{}"), "{}").has_value());
}

}  // namespace
}  // namespace pf::aws
