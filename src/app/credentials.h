// The API's key pair: from the configuration, else from PHOTOFLUX_ACCESS_KEY_ID /
// PHOTOFLUX_SECRET_ACCESS_KEY, else the pair generated on first start and kept in
// <data_dir>/credentials.json (mode 0600), so a restart keeps working with the same keys.
#pragma once

#include "base/result.h"
#include "config/config.h"

#include <filesystem>
#include <optional>
#include <string>

namespace pf::app {

struct ApiCredentials {
    std::string access_key_id;
    std::string secret_access_key;
    enum class Source { Config, Environment, Generated, File } source = Source::Generated;
    std::filesystem::path file;  // where generated credentials are kept
};

// The pair kept in a credentials.json written by resolve_credentials(); nullopt when the file
// does not exist, CorruptInput when it is not such a file.
Result<std::optional<ApiCredentials>> read_credentials_file(const std::filesystem::path& file);

Result<ApiCredentials> resolve_credentials(const config::ServeConfig& serve,
                                           const config::Environment& env,
                                           const std::filesystem::path& data_dir);

}  // namespace pf::app
