// `photoflux process INPUT... [--recipe FILE] [--out DIR] [--jobs N] [--json]`: runs the recipe
// over files and folders on this machine, writes each photo's derivatives and manifest under
// --out, and reports failures without stopping.
#pragma once

#include "config/config.h"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace pf::app {

struct ProcessOptions {
    std::vector<std::string> inputs;
    std::string recipe_file;   // empty: the built-in recipe
    std::string out_dir = "out";
    int jobs = 0;              // 0: one per core
    bool json = false;
};

// Registers the subcommand's options on `app`.
void add_process_options(CLI::App& command, ProcessOptions& options);

// Returns the process exit code: 0 all photos done, 1 some failed, 2 nothing could start.
int run_process(const ProcessOptions& options, const config::Config& config);

}  // namespace pf::app
