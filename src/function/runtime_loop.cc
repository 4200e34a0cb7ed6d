#include "function/runtime_loop.h"

#include "base/logging.h"
#include "function/function_config.h"
#include "imaging/processor.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace pf::function {
namespace {

spdlog::logger& log() {
    static auto logger = component_logger("function");
    return *logger;
}

constexpr std::string_view kInitErrorType = "Runtime.InitError";

// setenv is called only between invocations: one runs at a time, and no other thread of the
// process is working then (libvips' pool is idle), so nothing reads the environment meanwhile.
void export_trace_id(const std::string& trace_id) {
    if (trace_id.empty()) {
        ::unsetenv("_X_AMZN_TRACE_ID");
    } else {
        ::setenv("_X_AMZN_TRACE_ID", trace_id.c_str(), 1);
    }
}

}  // namespace

std::chrono::milliseconds deadline_margin(std::chrono::milliseconds remaining) {
    using std::chrono::milliseconds;
    return std::clamp(remaining / 10, milliseconds(500), milliseconds(5'000));
}

Deadline invocation_deadline(std::int64_t deadline_epoch_ms, std::int64_t now_epoch_ms) {
    if (deadline_epoch_ms <= 0) {
        return Deadline::never();
    }
    const std::chrono::milliseconds remaining(deadline_epoch_ms - now_epoch_ms);
    return Deadline(SteadyClock::now() + remaining - deadline_margin(remaining));
}

int serve_invocations(aws::LambdaRuntimeClient& runtime, const InvocationHandler& handler,
                      const Clock& clock) {
    for (;;) {
        auto next = runtime.next();
        if (!next) {
            if (next.error().code == ErrorCode::Unavailable) {
                log().info("event=runtime_gone error=\"{}\"", next.error().message);
                return 0;
            }
            log().error("event=next_failed error=\"{}\"", next.error().message);
            return 1;
        }
        const aws::Invocation& invocation = *next;
        const auto started = SteadyClock::now();
        export_trace_id(invocation.trace_id);
        const Deadline deadline = invocation_deadline(invocation.deadline_ms, clock.now_ms());
        HandleOutcome outcome = handler(invocation.payload, invocation.trace_id, deadline);
        export_trace_id({});

        Result<void> posted = outcome.ok()
                                  ? runtime.respond(invocation.request_id, outcome.response)
                                  : runtime.fail(invocation.request_id, *outcome.error);
        log().info("event=invocation request_id={} outcome={} millis={:.0f}", invocation.request_id,
                   outcome.ok() ? "success" : outcome.error->error_type, millis_since(started));
        if (!posted) {
            log().error("event=post_failed request_id={} error=\"{}\"", invocation.request_id,
                        posted.error().message);
            if (posted.error().code == ErrorCode::Unavailable) {
                return 0;  // the Runtime API is gone (or said 500: the runtime must exit)
            }
            // Anything else (e.g. the API refused this one answer): the host times the
            // invocation out and retries it; the next one may well go through.
        }
    }
}

int run_runtime(const aws::EnvironmentMap& env, aws::HttpTransport& transport,
                const config::ImagingConfig& imaging) {
    auto api = env.find("AWS_LAMBDA_RUNTIME_API");
    if (api == env.end() || api->second.empty()) {
        // Nowhere to report to: the caller's stderr is the only witness.
        std::cerr << "photoflux function: AWS_LAMBDA_RUNTIME_API is not set (this command runs "
                     "inside a Lambda-style host: AWS Lambda or photoflux serve)\n";
        return 1;
    }
    aws::LambdaRuntimeClient runtime(transport, api->second);
    auto init_failed = [&](const std::string& message) {
        log().error("event=init_failed error=\"{}\"", message);
        if (auto posted = runtime.init_error({std::string(kInitErrorType), message}); !posted) {
            log().error("event=post_failed what=init_error error=\"{}\"", posted.error().message);
        }
        return 1;
    };

    auto config = load_function_config(env, imaging);
    if (!config) {
        return init_failed(config.error().message);
    }
    auto aws = aws::AwsEnvironment::from(env);
    if (!aws) {
        return init_failed(aws.error().message);
    }
    const imaging::Processor processor(config->imaging);
    if (auto supported = processor.check_supported(config->recipe); !supported) {
        return init_failed(supported.error().message);
    }
    log().info("event=function_ready recipe={} recipe_hash={} output_prefix=\"{}\" topic={}",
               config->recipe_source, config->recipe_hash, config->output_prefix,
               config->topic_arn.empty() ? "-" : config->topic_arn);

    PhotoHandler handler(*config, processor, transport, std::move(*aws));
    SystemClock clock;
    return serve_invocations(
        runtime,
        [&](const std::string& payload, const std::string& trace_id, Deadline deadline) {
            return handler.handle(payload, trace_id, deadline);
        },
        clock);
}

}  // namespace pf::function
