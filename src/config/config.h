// The configuration model: every section, its defaults, and how it is loaded from a YAML file and
// the environment (PF_<SECTION>_<NAME>, which wins over the file). Every problem is reported at
// once, with the setting's name, and startup stops.
#pragma once

#include "base/result.h"
#include "config/imaging_config.h"
#include "config/serve_config.h"

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace pf::config {

struct Config {
    ImagingConfig imaging;
    ServeConfig serve;
};

using Environment = std::map<std::string, std::string>;

// Defaults, then the file (if any), then the environment.
Result<Config> load_config(const std::optional<std::filesystem::path>& file,
                           const Environment& env);

// A commented YAML document listing every setting with its default, environment variable and
// meaning: generated from the same table the loader uses, so it cannot drift.
std::string describe_settings();
// The same, noting what the loaded configuration declares where a setting is a list (the topics of
// serve.notify.topics): the values shown stay the defaults.
std::string describe_settings(const Config& loaded);

}  // namespace pf::config
