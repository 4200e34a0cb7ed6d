// The web console wired for `photoflux serve`: its options from the config, its services (the
// store, serve's API key pair, the SNS service, the function's dead letters, the settings page)
// and the observers that feed its activity feed (every publish; a photo's event reaching the
// function or becoming a dead letter). serve_command routes /_/console/ to what this returns.
#pragma once

#include "app/credentials.h"
#include "app/notify_host.h"
#include "app/pipeline_host.h"
#include "config/serve_config.h"
#include "console/console_api.h"
#include "storage/object_store.h"

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace pf::app {

// Everything referenced must outlive the console (serve declares the console before the hosts,
// so it is destroyed after them: their observers call into it until they stop).
struct ConsoleWiring {
    const config::ServeConfig& serve;
    bool tls = false;
    std::filesystem::path data_dir;
    storage::ObjectStore& store;
    ApiCredentials credentials;  // serve's API key pair: the only access key people sign in with
    NotifyHost& notify;
    PipelineHost& pipeline;
    std::function<std::string()> endpoint;  // the URL serve listens at, once it does
};

// Builds the console and installs its observers on the notification and pipeline hosts.
std::unique_ptr<console::ConsoleApi> open_console(const ConsoleWiring& wiring);

}  // namespace pf::app
