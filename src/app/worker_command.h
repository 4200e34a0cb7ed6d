// `photoflux worker --queue QUEUE_URL [--concurrency N] [--data-dir DIR]
// [--metrics-listen HOST:PORT] [--visibility-timeout S] [--function-timeout S] [--wait-time S]`:
// one member of a fleet consuming S3 events from an SQS queue (aws-protocols.md §3.6, §6) with
// the same function pool as `serve` (lambda::FunctionHost running `photoflux function`). The
// queue, the store and the topic are given the usual AWS way: the worker's own AWS_* environment
// (AWS_ENDPOINT_URL(_SQS/_S3/_SNS), AWS_REGION, AWS_ACCESS_KEY_ID, ...), which is passed to the
// function's processes together with every PF_* variable (PF_RECIPE, PF_OUTPUT_BUCKET,
// PF_TOPIC_ARN, ...). The queue semantics are lambda::SqsEventSource's.
#pragma once

#include "config/config.h"

#include <CLI/CLI.hpp>

#include <string>

namespace pf::app {

struct WorkerOptions {
    std::string queue_url;
    int concurrency = 0;              // 0: the machine's cores
    std::string data_dir;             // empty: a temporary directory, removed at exit
    std::string metrics_listen;       // empty: no HTTP endpoint
    int visibility_timeout = 60;      // seconds
    int function_timeout = 0;         // seconds; 0: serve.function.timeout_seconds
    int wait_time = 20;               // long-poll seconds
};

CLI::App* add_worker_command(CLI::App& app, WorkerOptions& options);

// Exit codes: 0 stopped by SIGTERM/SIGINT after draining; 1 failed at run time; 2 usage or
// configuration (no credentials, a bad queue URL, a data directory in use).
int run_worker(const WorkerOptions& options, const config::Config& config,
               const config::Environment& environment);

}  // namespace pf::app
