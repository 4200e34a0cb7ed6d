#include "app/command_support.h"

#include "base/logging.h"

#include <filesystem>
#include <system_error>

namespace pf::app {

std::string own_executable() {
    std::error_code ec;
    auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::string("photoflux") : path.string();
}

void reply_json(http::Response& response, int status, const nlohmann::json& body) {
    std::string text = body.dump() + "\n";
    if (response.start(status, {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}},
                       text.size())) {
        (void)response.write(text);
    }
}

std::vector<std::string> function_worker_argv(const std::string& executable) {
    std::string level = configured_log_level();
    return {executable, "--log-level", level == "warning" ? "warn" : level, "--log-format", "text",
            "function"};
}

}  // namespace pf::app
