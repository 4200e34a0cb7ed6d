#include "app/console_settings.h"

#include "base/file_io.h"
#include "imaging/recipe_parser.h"

#include <memory>
#include <system_error>

namespace pf::app {
namespace {

constexpr std::uint64_t kMaxRecipeBytes = 1 << 20;  // the recipe loader's limit
constexpr std::size_t kMaxBuckets = 1000;           // a page, not an inventory

std::string absolute_path(const std::string& path) {
    if (path.empty())
        return path;
    std::error_code ec;
    auto absolute = std::filesystem::absolute(path, ec);
    return ec ? path : absolute.lexically_normal().string();
}

// JSON strings must be UTF-8 (dump() throws otherwise), and a YAML comment may hold Latin-1:
// invalid bytes become U+FFFD.
std::string valid_utf8(const std::string& text) {
    auto dumped =
        nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return nlohmann::json::parse(dumped).get<std::string>();
}

}  // namespace

Result<std::string> effective_recipe_yaml(const config::ServeConfig& serve) {
    if (serve.function_recipe_file.empty()) {
        return std::string(imaging::default_recipe_yaml());
    }
    auto text = read_file(serve.function_recipe_file, kMaxRecipeBytes);
    if (!text) {
        return make_error(text.error().code, "cannot read serve.function.recipe_file " +
                                                 serve.function_recipe_file + ": " +
                                                 text.error().message);
    }
    return *text;
}

std::function<nlohmann::json()> console_settings(ConsoleSettingsInputs inputs) {
    auto in = std::make_shared<const ConsoleSettingsInputs>(std::move(inputs));
    const auto& serve = *in->serve;
    auto recipe = effective_recipe_yaml(serve);
    std::string recipe_text = recipe ? valid_utf8(*recipe) : std::string();
    std::string recipe_error = recipe ? std::string() : recipe.error().message;

    return [in, recipe_text, recipe_error]() -> nlohmann::json {
        using Names = Result<std::vector<std::string>>;
        const auto& s = *in->serve;
        nlohmann::json errors = nlohmann::json::array();
        nlohmann::json buckets = nlohmann::json::array();
        if (auto names = in->buckets ? in->buckets() : Names(std::vector<std::string>{}); names) {
            for (std::size_t i = 0; i < names->size() && i < kMaxBuckets; ++i) {
                const auto& name = (*names)[i];
                buckets.push_back(
                    {{"name", name},
                     {"rules", in->rules ? in->rules(name) : std::vector<std::string>{}}});
            }
        } else {
            errors.push_back("buckets: " + names.error().message);
        }
        nlohmann::json topics = nlohmann::json::array();
        if (auto arns = in->topics ? in->topics() : Names(std::vector<std::string>{}); arns) {
            topics = *arns;
        } else {
            errors.push_back("topics: " + arns.error().message);
        }
        if (!recipe_error.empty())
            errors.push_back("recipe: " + recipe_error);

        nlohmann::json function = nullptr;
        if (!s.function_name.empty()) {
            function = {
                {"name", s.function_name},
                {"workers", s.function_workers},  // 0: one per core
                {"timeout_seconds", s.function_timeout_seconds},
                {"memory_mb", s.function_memory_mb},
                {"max_retry_attempts", s.function_max_retry_attempts},
                {"output_bucket", s.function_output_bucket},  // empty: the photo's own bucket
                {"output_prefix", s.function_output_prefix},
                {"topic", in->function_topic_arn},
                {"trigger_prefix", s.function_trigger_prefix},
                {"trigger_suffix", s.function_trigger_suffix},
                {"recipe_file", absolute_path(s.function_recipe_file)},
                {"recipe", recipe_text},
            };
        }
        nlohmann::json out = {
            {"config_file", s.config_file.empty() ? nlohmann::json(nullptr)
                                                  : nlohmann::json(absolute_path(s.config_file))},
            {"data_dir", in->data_dir.string()},
            {"endpoint", in->endpoint ? in->endpoint() : std::string()},
            {"region", s.region},
            {"buckets", std::move(buckets)},
            {"function", std::move(function)},
            {"topics", std::move(topics)},
        };
        if (!errors.empty())
            out["errors"] = std::move(errors);
        return out;
    };
}

}  // namespace pf::app
