#include "app/credentials.h"

#include "base/file_io.h"
#include "crypto/random.h"

#include <nlohmann/json.hpp>

#include <sys/stat.h>

namespace pf::app {
namespace {

constexpr std::string_view kKeyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::string_view kSecretAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

Result<std::optional<ApiCredentials>> read_credentials_file(const std::filesystem::path& file) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) {
        return std::optional<ApiCredentials>();
    }
    auto text = read_file(file, 64 * 1024);
    if (!text) {
        return text.error();
    }
    auto doc = nlohmann::json::parse(*text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("access_key_id") ||
        !doc.contains("secret_access_key") || !doc["access_key_id"].is_string() ||
        !doc["secret_access_key"].is_string()) {
        return make_error(ErrorCode::CorruptInput,
                          file.string() + " is not a valid credentials file; remove it to "
                                          "generate new credentials");
    }
    ApiCredentials out;
    out.access_key_id = doc["access_key_id"].get<std::string>();
    out.secret_access_key = doc["secret_access_key"].get<std::string>();
    out.source = ApiCredentials::Source::File;
    out.file = file;
    return std::optional<ApiCredentials>(std::move(out));
}

Result<ApiCredentials> resolve_credentials(const config::ServeConfig& serve,
                                           const config::Environment& env,
                                           const std::filesystem::path& data_dir) {
    ApiCredentials out;
    out.file = data_dir / "credentials.json";
    if (!serve.access_key_id.empty() || !serve.secret_access_key.empty()) {
        if (serve.access_key_id.empty() || serve.secret_access_key.empty()) {
            return make_error(ErrorCode::InvalidArgument,
                              "serve.access_key_id and serve.secret_access_key must be set together");
        }
        out.access_key_id = serve.access_key_id;
        out.secret_access_key = serve.secret_access_key;
        out.source = ApiCredentials::Source::Config;
        return out;
    }
    auto id = env.find("PHOTOFLUX_ACCESS_KEY_ID");
    auto secret = env.find("PHOTOFLUX_SECRET_ACCESS_KEY");
    if (id != env.end() || secret != env.end()) {
        if (id == env.end() || secret == env.end() || id->second.empty() || secret->second.empty()) {
            return make_error(ErrorCode::InvalidArgument,
                              "PHOTOFLUX_ACCESS_KEY_ID and PHOTOFLUX_SECRET_ACCESS_KEY must be set "
                              "together");
        }
        out.access_key_id = id->second;
        out.secret_access_key = secret->second;
        out.source = ApiCredentials::Source::Environment;
        return out;
    }
    auto kept = read_credentials_file(out.file);
    if (!kept) {
        return kept.error();
    }
    if (*kept) {
        return std::move(**kept);
    }
    // AWS-shaped keys: 20-character id, 40-character secret.
    out.access_key_id = "PF" + crypto::random_string(18, kKeyAlphabet);
    out.secret_access_key = crypto::random_string(40, kSecretAlphabet);
    out.source = ApiCredentials::Source::Generated;
    nlohmann::json doc{{"access_key_id", out.access_key_id},
                       {"secret_access_key", out.secret_access_key}};
    // The secret is never readable by other users, not even between write and chmod.
    mode_t old_mask = ::umask(077);
    auto written = write_file_atomic(out.file, doc.dump(2) + "\n");
    ::umask(old_mask);
    if (!written) {
        return written.error();
    }
    ::chmod(out.file.c_str(), 0600);
    return out;
}

}  // namespace pf::app
