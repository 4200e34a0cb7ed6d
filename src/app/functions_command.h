// `photoflux functions`: operator commands for the function host of a running `photoflux serve`,
// through its Lambda API (SigV4 with service "lambda"; lambda/lambda_api.h):
//
//   photoflux functions dead-letters [--function NAME] [--max N] [--json]
//       The invocations whose retries ran out, that were rejected, too old or recursive (newest
//       first), each with its event, error and attempts.
//   photoflux functions replay (--id ID ... | --function NAME | --all)
//       Queues them again with fresh attempts (the function runs them at once).
//
// Endpoint and credentials as for `photoflux notify` (app/serve_client.h).
#pragma once

#include "config/config.h"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace pf::app {

struct FunctionsOptions {
    std::string endpoint;
    std::string data_dir;
    std::string function;
    std::vector<std::string> ids;
    bool all = false;
    bool json = false;
    int max_items = 100;
    CLI::App* dead_letters = nullptr;
    CLI::App* replay = nullptr;
};

CLI::App* add_functions_command(CLI::App& app, FunctionsOptions& options);

// Exit code: 0 done; 1 the server could not be reached or refused the request; 2 a usage or
// credentials problem.
int run_functions(const FunctionsOptions& options, const config::Config& config,
                  const config::Environment& env);

}  // namespace pf::app
