// AwsEnvironment (region, credentials, endpoints the standard AWS way), the client options
// derived from it, and endpoint URL parsing.
#include "aws/aws_environment.h"

#include "aws/endpoint_url.h"
#include "aws/s3_client.h"
#include "aws/sns_client.h"

#include <gtest/gtest.h>

namespace pf::aws {
namespace {

EnvironmentMap base() {
    return {{"AWS_ACCESS_KEY_ID", "AK"}, {"AWS_SECRET_ACCESS_KEY", "SK"}};
}

TEST(AwsEnvironment, RegionFallsBackFromAwsRegionToDefaultRegionToUsEast1) {
    EnvironmentMap vars = base();
    EXPECT_EQ(AwsEnvironment::from(vars)->region, "us-east-1");
    vars["AWS_DEFAULT_REGION"] = "eu-west-1";
    EXPECT_EQ(AwsEnvironment::from(vars)->region, "eu-west-1");
    vars["AWS_REGION"] = "ap-southeast-2";
    EXPECT_EQ(AwsEnvironment::from(vars)->region, "ap-southeast-2");
}

TEST(AwsEnvironment, CredentialsAreRequiredAndTheTokenIsOptional) {
    auto missing = AwsEnvironment::from({});
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(missing.error().message.find("AWS_ACCESS_KEY_ID is not set"), std::string::npos);
    EXPECT_NE(missing.error().message.find("AWS_SECRET_ACCESS_KEY is not set"), std::string::npos);

    EnvironmentMap vars = base();
    vars["AWS_SESSION_TOKEN"] = "tok";
    auto env = AwsEnvironment::from(vars);
    ASSERT_TRUE(env.has_value());
    EXPECT_EQ(env->credentials.access_key_id, "AK");
    EXPECT_EQ(env->credentials.secret_access_key, "SK");
    EXPECT_EQ(env->credentials.session_token, "tok");
}

TEST(AwsEnvironment, ServiceEndpointsOverrideTheGeneralOneWhichOverridesAws) {
    EnvironmentMap vars = base();
    vars["AWS_REGION"] = "eu-central-1";
    auto env = AwsEnvironment::from(vars);
    ASSERT_TRUE(env.has_value());
    EXPECT_EQ(env->endpoint("s3").url, "https://s3.eu-central-1.amazonaws.com");
    EXPECT_FALSE(env->endpoint("s3").custom);
    EXPECT_EQ(env->endpoint("sns").url, "https://sns.eu-central-1.amazonaws.com");

    vars["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9000";
    vars["AWS_ENDPOINT_URL_SNS"] = "http://127.0.0.1:9100";
    env = AwsEnvironment::from(vars);
    ASSERT_TRUE(env.has_value());
    EXPECT_EQ(env->endpoint("s3").url, "http://127.0.0.1:9000");
    EXPECT_TRUE(env->endpoint("s3").custom);
    EXPECT_EQ(env->endpoint("sns").url, "http://127.0.0.1:9100");
    EXPECT_TRUE(env->endpoint("sns").custom);

    vars = base();
    vars["AWS_REGION"] = "cn-north-1";
    EXPECT_EQ(AwsEnvironment::from(vars)->endpoint("s3").url, "https://s3.cn-north-1.amazonaws.com.cn");
}

TEST(AwsEnvironment, BadValuesAreReportedTogether) {
    EnvironmentMap vars = base();
    vars["AWS_REGION"] = "us east 1";
    vars["AWS_ENDPOINT_URL_S3"] = "ftp://example.com";
    auto env = AwsEnvironment::from(vars);
    ASSERT_FALSE(env.has_value());
    EXPECT_NE(env.error().message.find("AWS_REGION"), std::string::npos);
    EXPECT_NE(env.error().message.find("AWS_ENDPOINT_URL_S3"), std::string::npos);
}

TEST(AwsEnvironment, ClientOptionsUsePathStyleForCustomEndpointsOrWhenForced) {
    EnvironmentMap vars = base();
    vars["AWS_SESSION_TOKEN"] = "tok";
    auto options = s3_client_options(*AwsEnvironment::from(vars));
    EXPECT_FALSE(options.path_style);
    EXPECT_EQ(options.credentials.session_token, "tok");
    vars["AWS_S3_FORCE_PATH_STYLE"] = "true";
    EXPECT_TRUE(s3_client_options(*AwsEnvironment::from(vars)).path_style);
    vars.erase("AWS_S3_FORCE_PATH_STYLE");
    vars["AWS_ENDPOINT_URL_S3"] = "http://localhost:9000";
    options = s3_client_options(*AwsEnvironment::from(vars));
    EXPECT_TRUE(options.path_style);
    EXPECT_EQ(options.endpoint.url, "http://localhost:9000");

    auto sns = sns_client_options(*AwsEnvironment::from(vars));
    EXPECT_EQ(sns.endpoint.url, "https://sns.us-east-1.amazonaws.com");
    EXPECT_EQ(sns.region, "us-east-1");
}

TEST(EndpointUrl, NormalisesTheAuthorityLikeTheHostHeader) {
    auto e = EndpointUrl::parse("HTTP://LocalHost:80");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->scheme, "http");
    EXPECT_EQ(e->authority(), "localhost");
    e = EndpointUrl::parse("https://s3.amazonaws.com:443/");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->authority(), "s3.amazonaws.com");
    EXPECT_EQ(e->base_path, "");
    e = EndpointUrl::parse("http://127.0.0.1:9000/storage/s3/");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->authority(), "127.0.0.1:9000");
    EXPECT_EQ(e->base_path, "/storage/s3");
    EXPECT_TRUE(e->host_is_ip());
    e = EndpointUrl::parse("http://[::1]:4566");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->authority(), "[::1]:4566");
    EXPECT_TRUE(e->host_is_ip());
    EXPECT_FALSE(EndpointUrl::parse("https://minio.example.com")->host_is_ip());
}

TEST(EndpointUrl, RefusesWhatCannotBeAnEndpoint) {
    for (const std::string bad : {"", "localhost:9000", "ftp://x", "http://", "http://:9000",
                                  "http://h:0", "http://h:65536", "http://h:9x", "http://u:p@h",
                                  "http://h/?q=1", "http://h/#f", "http://h/%G1", "http://[::1",
                                  "http://bad host"}) {
        SCOPED_TRACE(bad);
        auto e = EndpointUrl::parse(bad);
        ASSERT_FALSE(e.has_value());
        EXPECT_EQ(e.error().code, ErrorCode::InvalidArgument);
    }
    EXPECT_FALSE(EndpointUrl::parse("http://h/" + std::string(3000, 'a')).has_value());
}

}  // namespace
}  // namespace pf::aws
