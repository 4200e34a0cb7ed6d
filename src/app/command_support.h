// Small pieces the subcommands share: where this binary is, a JSON reply on the /_/ endpoints,
// and the command line of a `photoflux function` worker process.
#pragma once

#include "http/server.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace pf::app {

// The path of the running binary (/proc/self/exe), or "photoflux" when it cannot be read.
std::string own_executable();

// A small JSON reply (Content-Type application/json, Cache-Control no-store).
void reply_json(http::Response& response, int status, const nlohmann::json& body);

// The argv of a function worker: `<executable> --log-level <ours> --log-format text function`.
// Workers log as text at the parent's level: each line is forwarded into the parent's log (and
// wrapped there as JSON when the parent logs JSON).
std::vector<std::string> function_worker_argv(const std::string& executable);

}  // namespace pf::app
