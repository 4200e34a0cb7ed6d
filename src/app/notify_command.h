// `photoflux notify`: operator commands for the notification service of a running `photoflux
// serve`, through its SNS API (POST, SigV4 with service "sns", like any SNS client):
//
//   photoflux notify dead-letters [--endpoint URL] [--subscription ARN] [--max N] [--json]
//       ListDeadLetters: the deliveries whose retry policy ran out (newest first).
//   photoflux notify replay [--endpoint URL] (--subscription ARN | --id ID ... | --all)
//       ReplayDeadLetters: back into the delivery queue, attempted at once with a fresh policy.
//
// Endpoint: --endpoint, else the address serve.listen names (http://127.0.0.1:9000 by default).
// Credentials: PHOTOFLUX_ACCESS_KEY_ID / PHOTOFLUX_SECRET_ACCESS_KEY, else AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY, else the keys in the config file, else <data dir>/credentials.json (the
// pair serve generated; --data-dir, default serve.data_dir).
#pragma once

#include "config/config.h"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace pf::app {

struct NotifyOptions {
    std::string endpoint;
    std::string data_dir;
    std::string subscription;
    std::vector<std::string> ids;
    bool all = false;
    bool json = false;
    int max_items = 100;
    // The subcommands (set by add_notify_command; run_notify tells which one was given).
    CLI::App* dead_letters = nullptr;
    CLI::App* replay = nullptr;
};

CLI::App* add_notify_command(CLI::App& app, NotifyOptions& options);

// Exit code: 0 done; 1 the server could not be reached, refused the request or (replay --id)
// skipped some of the ids; 2 a usage or credentials problem.
int run_notify(const NotifyOptions& options, const config::Config& config,
               const config::Environment& env);

}  // namespace pf::app
