// The custom-runtime loop of `photoflux function` (aws-protocols.md §4.1): initialise once
// (settings, recipe, engine, AWS environment; a failure is posted as an init error), then
// next -> handle -> respond / error, one invocation at a time, until the Runtime API goes away.
// The same loop runs under AWS Lambda (provided.al2023) and under `photoflux serve`'s host.
#pragma once

#include "config/imaging_config.h"

#include "aws/aws_environment.h"
#include "aws/http_transport.h"
#include "aws/lambda_runtime_client.h"
#include "base/clock.h"
#include "function/photo_handler.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace pf::function {

// What the loop calls per invocation (PhotoHandler::handle in production).
using InvocationHandler = std::function<HandleOutcome(
    const std::string& payload, const std::string& trace_id, Deadline deadline)>;

// Time kept back from the invocation's deadline for the work after processing (the PUTs, the
// publish, the response): a tenth of what is left, at least 500 ms, at most 5 s.
std::chrono::milliseconds deadline_margin(std::chrono::milliseconds remaining);

// The handler's deadline from Lambda-Runtime-Deadline-Ms (epoch milliseconds; 0: none given),
// minus the margin. Converted to the monotonic clock once, at the start of the invocation.
Deadline invocation_deadline(std::int64_t deadline_epoch_ms, std::int64_t now_epoch_ms);

// next -> handler -> respond / fail until next() fails. Exports the invocation's trace id as
// _X_AMZN_TRACE_ID while it runs. Returns the exit code: 0 when the Runtime API is gone
// (Unavailable: the environment is shutting down or broken), 1 on any other failure.
int serve_invocations(aws::LambdaRuntimeClient& runtime, const InvocationHandler& handler,
                      const Clock& clock);

// The whole runtime: reads AWS_LAMBDA_RUNTIME_API, the function's settings (function_config.h)
// and the AWS environment from `env`, checks the recipe can run here, then serves invocations.
// An initialisation failure is posted to /runtime/init/error and returns 1. libvips must have
// been started (imaging::start_vips) by the caller.
int run_runtime(const aws::EnvironmentMap& env, aws::HttpTransport& transport,
                const config::ImagingConfig& imaging = {});

}  // namespace pf::function
