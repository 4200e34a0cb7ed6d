#include "app/function_command.h"

#include "function/http_client_transport.h"
#include "function/runtime_loop.h"
#include "imaging/vips_runtime.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <iostream>
#include <thread>

namespace pf::app {
namespace {

// libvips threads for the one photo in flight: PF_VIPS_CONCURRENCY, else every core (a function
// environment handles one invocation at a time, so the photo may use the whole machine). An
// unusable value falls back to the cores here and is reported by the runtime's configuration
// check, which lists every bad setting at once.
int vips_threads(const config::Environment& env) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    auto it = env.find("PF_VIPS_CONCURRENCY");
    if (it == env.end() || it->second.empty()) {
        return cores;
    }
    int value = 0;
    const std::string& text = it->second;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value <= 0 || value > 1024) {
        return cores;
    }
    return value;
}

// The CA bundle for https endpoints: AWS_CA_BUNDLE as the AWS SDKs read it; else, when the
// Debian path libcurl was built with is missing (Amazon Linux 2023, Lambda's provided.al2023),
// the distribution's own bundle.
std::string ca_bundle(const config::Environment& env) {
    if (auto it = env.find("AWS_CA_BUNDLE"); it != env.end() && !it->second.empty()) {
        return it->second;
    }
    std::error_code ec;
    if (!std::filesystem::exists("/etc/ssl/certs/ca-certificates.crt", ec) &&
        std::filesystem::exists("/etc/pki/tls/certs/ca-bundle.crt", ec)) {
        return "/etc/pki/tls/certs/ca-bundle.crt";
    }
    return {};
}

}  // namespace

int run_function(const config::Environment& env, const config::ImagingConfig& imaging) {
    imaging::VipsSettings vips;
    vips.threads_per_photo = vips_threads(env);
    if (auto started = imaging::start_vips(vips); !started) {
        std::cerr << "photoflux function: " << started.error().message << "\n";
        return 1;
    }
    function::HttpClientTransportOptions options;
    options.ca_file = ca_bundle(env);
    function::HttpClientTransport transport(options);
    return function::run_runtime(env, transport, imaging);
}

}  // namespace pf::app
