#include "crypto/digest.h"
#include "function/function_config.h"
#include "imaging/recipe_parser.h"
#include "support/temp_dir.h"

#include <gtest/gtest.h>

#include <fstream>

namespace pf::function {
namespace {

constexpr const char* kOneOutput = R"({"outputs":[{"name":"small","resize":{"width":64},
    "format":{"type":"png"}}]})";

void write(const std::filesystem::path& path, const std::string& text) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
}

TEST(FunctionConfig, DefaultsWithAnEmptyEnvironment) {
    auto config = load_function_config({});
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->recipe_source, "built-in");
    EXPECT_EQ(config->recipe.outputs().size(), imaging::default_recipe().outputs().size());
    EXPECT_EQ(config->recipe_hash,
              crypto::sha256_hex(imaging::default_recipe_yaml()).substr(0, 16));
    EXPECT_EQ(config->output_bucket, "");
    EXPECT_EQ(config->output_prefix, "processed/");
    EXPECT_EQ(config->topic_arn, "");
    EXPECT_TRUE(config->delete_derivatives);
    EXPECT_EQ(config->max_photo_bytes, 100ull << 20);
    EXPECT_EQ(config->imaging.limits.max_input_bytes, 100ull << 20);
    EXPECT_EQ(config->imaging.limits.max_pixels, config::ImagingLimits{}.max_pixels);
}

TEST(FunctionConfig, ReadsEveryVariable) {
    auto config = load_function_config({{"PF_RECIPE", kOneOutput},
                                        {"PF_OUTPUT_BUCKET", "thumbs.example"},
                                        {"PF_OUTPUT_PREFIX", "out/v2/"},
                                        {"PF_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:done"},
                                        {"PF_DELETE_DERIVATIVES", "false"},
                                        {"PF_MAX_PHOTO_BYTES", "5000000"},
                                        {"PF_VIPS_CONCURRENCY", "3"}});
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->recipe_source, "PF_RECIPE");
    ASSERT_EQ(config->recipe.outputs().size(), 1u);
    EXPECT_EQ(config->recipe.outputs()[0].name, "small");
    EXPECT_EQ(config->recipe_hash, crypto::sha256_hex(kOneOutput).substr(0, 16));
    EXPECT_EQ(config->output_bucket, "thumbs.example");
    EXPECT_EQ(config->output_prefix, "out/v2/");
    EXPECT_EQ(config->topic_arn, "arn:aws:sns:eu-west-1:123456789012:done");
    EXPECT_FALSE(config->delete_derivatives);
    EXPECT_EQ(config->max_photo_bytes, 5000000u);
    EXPECT_EQ(config->imaging.limits.max_input_bytes, 5000000u);
    EXPECT_EQ(config->vips_concurrency, 3);
    EXPECT_EQ(config->imaging.concurrency, 3);
}

TEST(FunctionConfig, RecipeHashChangesWithTheRecipeText) {
    EXPECT_EQ(recipe_hash("a").size(), 16u);
    EXPECT_NE(recipe_hash("outputs: []"), recipe_hash("outputs: [] "));
    EXPECT_EQ(recipe_hash("abc"), "ba7816bf8f01cfea");  // SHA-256("abc") begins so
}

TEST(FunctionConfig, RelativeRecipeFileResolvesAgainstTheTaskRoot) {
    test::TempDir root("pf-fn-config");
    write(root.path() / "recipes" / "r.yaml", kOneOutput);
    auto config = load_function_config(
        {{"PF_RECIPE_FILE", "recipes/r.yaml"}, {"LAMBDA_TASK_ROOT", root.path().string()}});
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->recipe_source, (root.path() / "recipes" / "r.yaml").string());
    EXPECT_EQ(config->recipe.outputs()[0].name, "small");
    EXPECT_EQ(config->recipe_hash, recipe_hash(kOneOutput));

    auto absolute =
        load_function_config({{"PF_RECIPE_FILE", (root.path() / "recipes" / "r.yaml").string()},
                              {"LAMBDA_TASK_ROOT", "/nonexistent"}});
    ASSERT_TRUE(absolute) << absolute.error().message;
    EXPECT_EQ(absolute->recipe_hash, recipe_hash(kOneOutput));
}

TEST(FunctionConfig, MissingRecipeFileIsReported) {
    test::TempDir root("pf-fn-config");
    auto config = load_function_config(
        {{"PF_RECIPE_FILE", "missing.yaml"}, {"LAMBDA_TASK_ROOT", root.path().string()}});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(config.error().message.find("PF_RECIPE_FILE"), std::string::npos);
    EXPECT_NE(config.error().message.find("missing.yaml"), std::string::npos);
}

TEST(FunctionConfig, OversizedRecipeIsRefused) {
    auto config = load_function_config({{"PF_RECIPE", std::string(kMaxRecipeBytes + 1, ' ')}});
    ASSERT_FALSE(config);
    EXPECT_NE(config.error().message.find("PF_RECIPE: "), std::string::npos);
    EXPECT_NE(config.error().message.find("over the limit"), std::string::npos);
}

TEST(FunctionConfig, InvalidRecipeProblemsAreListedUnderTheVariable) {
    auto config = load_function_config(
        {{"PF_RECIPE", R"({"outputs":[{"name":"a","resize":{"width":64,"fit":"sideways"}}]})"}});
    ASSERT_FALSE(config);
    EXPECT_NE(config.error().message.find("PF_RECIPE: outputs[0].resize.fit"), std::string::npos)
        << config.error().message;
}

TEST(FunctionConfig, EveryBadValueIsListedInOneError) {
    auto config = load_function_config({{"PF_RECIPE", kOneOutput},
                                        {"PF_RECIPE_FILE", "also.yaml"},
                                        {"PF_OUTPUT_BUCKET", "Not_A_Bucket"},
                                        {"PF_OUTPUT_PREFIX", "/abs/"},
                                        {"PF_TOPIC_ARN", "arn:aws:sqs:us-east-1:1:q"},
                                        {"PF_DELETE_DERIVATIVES", "maybe"},
                                        {"PF_MAX_PHOTO_BYTES", "12kb"},
                                        {"PF_VIPS_CONCURRENCY", "-1"}});
    ASSERT_FALSE(config);
    const std::string& m = config.error().message;
    EXPECT_EQ(m.rfind("invalid function configuration:", 0), 0u) << m;
    for (const char* name :
         {"PF_RECIPE and PF_RECIPE_FILE", "PF_OUTPUT_BUCKET", "PF_OUTPUT_PREFIX", "PF_TOPIC_ARN",
          "PF_DELETE_DERIVATIVES", "PF_MAX_PHOTO_BYTES", "PF_VIPS_CONCURRENCY"}) {
        EXPECT_NE(m.find(std::string("\n  ") + name), std::string::npos) << name << " in\n" << m;
    }
}

TEST(FunctionConfig, PhotoLimitBounds) {
    EXPECT_FALSE(load_function_config({{"PF_MAX_PHOTO_BYTES", "0"}}));
    EXPECT_FALSE(
        load_function_config({{"PF_MAX_PHOTO_BYTES", std::to_string(kMaxPhotoBytesLimit + 1)}}));
    EXPECT_TRUE(
        load_function_config({{"PF_MAX_PHOTO_BYTES", std::to_string(kMaxPhotoBytesLimit)}}));
    EXPECT_FALSE(load_function_config({{"PF_MAX_PHOTO_BYTES", "99999999999999999999999"}}));
}

TEST(FunctionConfig, EmptyPrefixNeedsASeparateOutputBucket) {
    auto alone = load_function_config({{"PF_OUTPUT_PREFIX", ""}});
    ASSERT_FALSE(alone);
    EXPECT_NE(alone.error().message.find("PF_OUTPUT_PREFIX"), std::string::npos);
    auto with_bucket =
        load_function_config({{"PF_OUTPUT_PREFIX", ""}, {"PF_OUTPUT_BUCKET", "thumbs"}});
    ASSERT_TRUE(with_bucket) << with_bucket.error().message;
    EXPECT_EQ(with_bucket->output_prefix, "");
}

TEST(FunctionConfig, PrefixLimits) {
    EXPECT_FALSE(
        load_function_config({{"PF_OUTPUT_PREFIX", std::string(kMaxOutputPrefixBytes + 1, 'p')}}));
    EXPECT_FALSE(load_function_config({{"PF_OUTPUT_PREFIX", "out\n/"}}));
    EXPECT_TRUE(load_function_config({{"PF_OUTPUT_PREFIX", "thumbnails/"}}));
}

TEST(FunctionConfig, BooleanSpellings) {
    for (const char* yes : {"true", "TRUE", "1", "yes", "on"}) {
        auto c = load_function_config({{"PF_DELETE_DERIVATIVES", yes}});
        ASSERT_TRUE(c) << yes;
        EXPECT_TRUE(c->delete_derivatives) << yes;
    }
    for (const char* no : {"false", "False", "0", "no", "off"}) {
        auto c = load_function_config({{"PF_DELETE_DERIVATIVES", no}});
        ASSERT_TRUE(c) << no;
        EXPECT_FALSE(c->delete_derivatives) << no;
    }
}

TEST(FunctionConfig, TopicArns) {
    EXPECT_TRUE(
        load_function_config({{"PF_TOPIC_ARN", "arn:aws:sns:us-east-1:000000000000:photos-done"}}));
    EXPECT_TRUE(load_function_config({{"PF_TOPIC_ARN", "arn:aws-cn:sns:cn-north-1:1:t.fifo"}}));
    EXPECT_FALSE(load_function_config({{"PF_TOPIC_ARN", "photos-done"}}));
    EXPECT_FALSE(load_function_config({{"PF_TOPIC_ARN", "arn:aws:sns:us-east-1:1:"}}));
    EXPECT_FALSE(load_function_config({{"PF_TOPIC_ARN", "arn:aws:sns:us-east-1:1:a/b"}}));
    EXPECT_FALSE(load_function_config({{"PF_TOPIC_ARN", "arn:aws:sns::1:topic"}}));
}

TEST(FunctionConfig, BucketNames) {
    EXPECT_TRUE(valid_bucket_name("photos"));
    EXPECT_TRUE(valid_bucket_name("my.photos-2"));
    EXPECT_TRUE(valid_bucket_name(std::string(63, 'a')));
    EXPECT_FALSE(valid_bucket_name(std::string(64, 'a')));
    EXPECT_FALSE(valid_bucket_name("ab"));
    EXPECT_FALSE(valid_bucket_name("Photos"));
    EXPECT_FALSE(valid_bucket_name("-photos"));
    EXPECT_FALSE(valid_bucket_name("photos."));
    EXPECT_FALSE(valid_bucket_name("pho_tos"));
    EXPECT_FALSE(valid_bucket_name("192.168.1.1"));
    EXPECT_TRUE(valid_bucket_name("192.168.1"));
}

}  // namespace
}  // namespace pf::function
