#include "config/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace pf::config {
namespace {

std::filesystem::path write_temp(const std::string& text) {
    auto path = std::filesystem::temp_directory_path() /
                ("pf-config-" + std::to_string(::getpid()) + "-" +
                 std::to_string(std::rand()) + ".yaml");
    std::ofstream(path) << text;
    return path;
}

TEST(Config, DefaultsAreSafe) {
    auto c = load_config(std::nullopt, {});
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->imaging.limits.max_pixels, 100'000'000u);
    EXPECT_EQ(c->imaging.limits.max_input_bytes, 100ull << 20);
    EXPECT_EQ(c->imaging.limits.fail_on, FailOn::Error);
    EXPECT_EQ(c->imaging.limits.time_budget.count(), 30'000);
}

TEST(Config, EnvironmentWinsOverTheFile) {
    auto file = write_temp("imaging:\n  limits:\n    max_pixels: 5000\n    max_frames: 3\n");
    auto c = load_config(file, {{"PF_IMAGING_MAX_PIXELS", "7000"}, {"UNRELATED", "x"}});
    std::filesystem::remove(file);
    ASSERT_TRUE(c.has_value()) << c.error().message;
    EXPECT_EQ(c->imaging.limits.max_pixels, 7000u);
    EXPECT_EQ(c->imaging.limits.max_frames, 3);
}

TEST(Config, ListsEveryProblem) {
    auto file = write_temp("imaging:\n  limits:\n    max_pixels: -3\n    max_pixles: 4\n"
                           "  concurrency: [1, 2]\n");
    auto c = load_config(file, {{"PF_IMAGING_FAIL_ON", "sometimes"},
                                {"PF_IMAGING_TIME_BUDGET_MS", "10"}});
    std::filesystem::remove(file);
    ASSERT_FALSE(c.has_value());
    const std::string& m = c.error().message;
    EXPECT_NE(m.find("imaging.limits.max_pixels: must be a whole number"), std::string::npos) << m;
    EXPECT_NE(m.find("imaging.limits.max_pixles: unknown setting"), std::string::npos) << m;
    EXPECT_NE(m.find("imaging.concurrency: must be a single value"), std::string::npos) << m;
    EXPECT_NE(m.find("PF_IMAGING_FAIL_ON: must be one of none, truncated, error, warning"),
              std::string::npos) << m;
    EXPECT_NE(m.find("PF_IMAGING_TIME_BUDGET_MS: must be between 100 and 3600000"),
              std::string::npos) << m;
}

TEST(Config, MissingOrBrokenFileIsAClearError) {
    auto missing = load_config(std::filesystem::path("/nonexistent/photoflux.yaml"), {});
    ASSERT_FALSE(missing.has_value());
    EXPECT_NE(missing.error().message.find("cannot read config file"), std::string::npos);
    auto file = write_temp("imaging: [unclosed\n");
    auto broken = load_config(file, {});
    std::filesystem::remove(file);
    ASSERT_FALSE(broken.has_value());
    EXPECT_NE(broken.error().message.find("is not valid YAML"), std::string::npos);
}

TEST(Config, DescriptionListsEverySettingAndParsesBackToTheDefaults) {
    std::string text = describe_settings();
    for (const char* env : {"PF_IMAGING_MAX_INPUT_BYTES", "PF_IMAGING_MAX_PIXELS",
                            "PF_IMAGING_MAX_FRAMES", "PF_IMAGING_MAX_OUTPUT_DIMENSION",
                            "PF_IMAGING_TIME_BUDGET_MS", "PF_IMAGING_FAIL_ON",
                            "PF_IMAGING_CONCURRENCY", "PF_SERVE_LISTEN", "PF_SERVE_DATA_DIR",
                            "PF_SERVE_CORS_ALLOWED_ORIGINS", "PF_SERVE_MAX_CONNECTIONS"}) {
        EXPECT_NE(text.find(env), std::string::npos) << env;
    }
    auto file = write_temp(text);
    auto c = load_config(file, {});
    std::filesystem::remove(file);
    ASSERT_TRUE(c.has_value()) << c.error().message;
    EXPECT_EQ(c->imaging.limits.max_pixels, Config{}.imaging.limits.max_pixels);
    EXPECT_EQ(c->serve.listen, Config{}.serve.listen);
    EXPECT_EQ(c->serve.cors_allowed_origins, "*");
    EXPECT_EQ(c->serve.cors_expose_headers, Config{}.serve.cors_expose_headers);
    EXPECT_EQ(c->serve.public_read_buckets, "");
}

TEST(Config, ServeSettingsFromFileAndEnvironment) {
    auto file = write_temp("serve:\n  listen: 0.0.0.0:9100\n  limits:\n    idle_timeout_ms: 5000\n");
    auto c = load_config(file, {{"PF_SERVE_DATA_DIR", "/srv/photos"}});
    std::filesystem::remove(file);
    ASSERT_TRUE(c.has_value()) << c.error().message;
    EXPECT_EQ(c->serve.listen, "0.0.0.0:9100");
    EXPECT_EQ(c->serve.idle_timeout, std::chrono::milliseconds(5000));
    EXPECT_EQ(c->serve.data_dir, "/srv/photos");
    auto bad = load_config(std::nullopt, {{"PF_SERVE_LISTEN", "9000"}, {"PF_SERVE_MAX_CONNECTIONS", "0"}});
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.error().message.find("PF_SERVE_LISTEN"), std::string::npos);
    EXPECT_NE(bad.error().message.find("PF_SERVE_MAX_CONNECTIONS"), std::string::npos);
}

}  // namespace
}  // namespace pf::config
