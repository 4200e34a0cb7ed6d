// The API's key pair: from the configuration, else from PHOTOFLUX_ACCESS_KEY_ID /
// PHOTOFLUX_SECRET_ACCESS_KEY, else the pair generated on first start and kept in
// <data_dir>/credentials.json (mode 0600), so a restart keeps working with the same keys.
#pragma once

#include "base/result.h"
#include "config/config.h"

#include <filesystem>
#include <string>

namespace pf::app {

struct ApiCredentials {
    std::string access_key_id;
    std::string secret_access_key;
    enum class Source { Config, Environment, Generated, File } source = Source::Generated;
    std::filesystem::path file;  // where generated credentials are kept
};

Result<ApiCredentials> resolve_credentials(const config::ServeConfig& serve,
                                           const config::Environment& env,
                                           const std::filesystem::path& data_dir);

}  // namespace pf::app
