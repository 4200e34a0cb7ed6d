// photoflux: one binary, one subcommand per mode. This file only parses the command line, loads
// the configuration (the one place that reads the environment) and hands over.
#include "app/function_command.h"
#include "app/functions_command.h"
#include "app/notify_command.h"
#include "app/package_command.h"
#include "app/process_command.h"
#include "app/serve_command.h"
#include "app/worker_command.h"
#include "base/logging.h"
#include "config/config.h"
#include "imaging/recipe_parser.h"
#include "imaging/vips_runtime.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>

extern char** environ;

namespace {

pf::config::Environment read_environment() {
    pf::config::Environment env;
    for (char** e = environ; e && *e; ++e) {
        std::string entry(*e);
        auto eq = entry.find('=');
        if (eq != std::string::npos) {
            env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
        }
    }
    return env;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Photoflux: an automated photo-processing pipeline"};
    app.require_subcommand(1);
    // The global options may also follow the subcommand (`photoflux serve --config x.yaml`).
    app.fallthrough();
    std::string config_file;
    std::string log_level = "error";
    std::string log_format = "text";
    app.add_option("--config", config_file, "Settings file (YAML); see `photoflux config`");
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error (default), off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
    app.add_option("--log-format", log_format, "text or json")->check(CLI::IsMember({"text", "json"}));

    pf::app::ProcessOptions process_options;
    CLI::App* process = app.add_subcommand("process", "Process photos on this machine");
    pf::app::add_process_options(*process, process_options);

    pf::app::ServeOptions serve_options;
    CLI::App* serve = app.add_subcommand(
        "serve", "Run Photoflux on this machine: the S3-compatible API over a local data directory");
    pf::app::add_serve_options(*serve, serve_options);

    pf::app::NotifyOptions notify_options;
    CLI::App* notify = pf::app::add_notify_command(app, notify_options);

    pf::app::FunctionsOptions functions_options;
    CLI::App* functions = pf::app::add_functions_command(app, functions_options);

    CLI::App* function = app.add_subcommand(
        "function", "Run the photo function as a Lambda custom runtime (AWS_LAMBDA_RUNTIME_API; "
                    "started by serve's function host or by AWS Lambda as bootstrap)");

    pf::app::PackageOptions package_options;
    CLI::App* package = pf::app::add_package_command(app, package_options);

    pf::app::WorkerOptions worker_options;
    CLI::App* worker = pf::app::add_worker_command(app, worker_options);

    CLI::App* config_cmd =
        app.add_subcommand("config", "Print every setting with its default and variable");
    CLI::App* recipe_cmd = app.add_subcommand("recipe", "Print the built-in recipe");
    CLI::App* version = app.add_subcommand("version", "Print the version and the libvips in use");

    CLI11_PARSE(app, argc, argv);

    pf::configure_logging(spdlog::level::from_str(log_level),
                          log_format == "json" ? pf::LogFormat::Json : pf::LogFormat::Text);
    auto config = pf::config::load_config(
        config_file.empty() ? std::nullopt : std::optional<std::filesystem::path>(config_file),
        read_environment());
    if (!config) {
        std::cerr << "photoflux: " << config.error().message << "\n";
        return 2;
    }

    if (*process) {
        return pf::app::run_process(process_options, *config);
    }
    if (*serve) {
        return pf::app::run_serve(serve_options, *config, read_environment());
    }
    if (*function) {
        return pf::app::run_function(read_environment(), config->imaging);
    }
    if (*functions) {
        return pf::app::run_functions(functions_options, *config, read_environment());
    }
    if (*notify) {
        return pf::app::run_notify(notify_options, *config, read_environment());
    }
    if (*package) {
        return pf::app::run_package(package_options);
    }
    if (*worker) {
        return pf::app::run_worker(worker_options, *config, read_environment());
    }
    if (*config_cmd) {
        std::cout << pf::config::describe_settings(*config);
        return 0;
    }
    if (*recipe_cmd) {
        std::cout << pf::imaging::default_recipe_yaml();
        return 0;
    }
    if (*version) {
        (void)pf::imaging::start_vips({});
        std::cout << "photoflux " << PHOTOFLUX_VERSION << " (libvips "
                  << pf::imaging::libvips_version() << ")\n";
        return 0;
    }
    return 0;
}
