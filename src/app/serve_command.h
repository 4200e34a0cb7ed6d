// `photoflux serve`: the whole system in one process on this machine. Today: the S3-compatible
// API over the local disk store, with health endpoints under the reserved /_/ prefix. Zero
// configuration: 127.0.0.1:9000, ./photoflux-data, a `photos` bucket, generated credentials.
#pragma once

#include "config/config.h"

#include <CLI/CLI.hpp>

#include <string>

namespace pf::app {

struct ServeOptions {
    std::string data_dir;    // overrides serve.data_dir
    std::string listen;      // overrides serve.listen
    std::string ready_file;  // written with the base URL once serving (tests, scripts)
    bool print_credentials = false;
};

void add_serve_options(CLI::App& command, ServeOptions& options);

// Runs until SIGTERM/SIGINT. Exit code 0 after a graceful stop, 2 when it cannot start.
int run_serve(const ServeOptions& options, config::Config config, const config::Environment& env);

}  // namespace pf::app
