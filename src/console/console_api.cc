// SKELETON (being implemented): compiles so app/ can be wired against console_api.h meanwhile.
#include "console/console_api.h"

namespace pf::console {

struct ConsoleApi::State {
    ConsoleOptions options;
    ConsoleServices services;
};

ConsoleApi::ConsoleApi(ConsoleOptions options, ConsoleServices services)
    : state_(std::make_unique<State>(State{std::move(options), std::move(services)})) {}
ConsoleApi::~ConsoleApi() = default;

bool ConsoleApi::is_console_path(std::string_view path) {
    return path == "/_/console" || path.starts_with(kConsolePath);
}
bool ConsoleApi::is_browser_root_request(const http::Request&) { return false; }
void ConsoleApi::redirect_to_console(http::Response& response) {
    if (response.start(302, {{"Location", std::string(kConsolePath)}}, 0)) {
    }
}
void ConsoleApi::handle(const http::Request&, http::RequestBody&, http::Response& response) {
    std::string text = "{\"error\":\"not_implemented\"}\n";
    if (response.start(404, {{"Content-Type", "application/json"}}, text.size())) {
        (void)response.write(text);
    }
}
void ConsoleApi::photo_processing(const std::string&, const std::string&, const std::string&) {}
void ConsoleApi::photo_dead_lettered(const std::string&, const std::string&, const std::string&,
                                     const std::string&) {}
void ConsoleApi::message_published(const std::string&, const std::string&, const std::string&,
                                   const std::string&, const std::string&) {}
void ConsoleApi::close_streams() {}

}  // namespace pf::console
