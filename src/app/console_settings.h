// The web console's settings page (GET /_/console/api/settings, docs/console.md): what serve runs
// with, read-only. Built by app/ because only it knows the config file, the data directory and
// the URL serve listens at; the console just forwards the JSON.
#pragma once

#include "base/result.h"
#include "config/serve_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace pf::app {

struct ConsoleSettingsInputs {
    const config::ServeConfig* serve = nullptr;  // outlives the builder
    std::filesystem::path data_dir;
    // Read at every request: the URL is known once the server listens.
    std::function<std::string()> endpoint;
    std::function<Result<std::vector<std::string>>()> buckets;
    // A bucket's notification rules, one line each (PipelineHost::describe_rules).
    std::function<std::vector<std::string>(const std::string& bucket)> rules;
    // The topics' ARNs.
    std::function<Result<std::vector<std::string>>()> topics;
    // The function's topic as an ARN (empty when it has none).
    std::string function_topic_arn;
};

// The recipe the function applies, as YAML text: serve.function.recipe_file's content when set
// (at most 1 MiB, as the recipe loader reads it), else the built-in recipe.
Result<std::string> effective_recipe_yaml(const config::ServeConfig& serve);

// Returns the settings builder. The recipe is read now, once: it is what the workers load (serve
// refused to start with one they could not). A bucket list or topic list that cannot be read is
// shown empty, with an "errors" entry saying why, so the page still shows the rest.
std::function<nlohmann::json()> console_settings(ConsoleSettingsInputs inputs);

}  // namespace pf::app
