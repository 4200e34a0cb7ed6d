// `photoflux function`: the photo function as a Lambda custom runtime. Started by a Lambda-style
// host (AWS Lambda's provided.al2023 as `bootstrap`, or `photoflux serve`'s function host), it
// reads everything from its environment (AWS_LAMBDA_RUNTIME_API, the AWS_* endpoint and
// credential variables, PF_* settings: see function/function_config.h) and serves invocations
// until the host goes away.
#pragma once

#include "config/config.h"

namespace pf::app {

// Returns the process exit code: 0 when the Runtime API went away, 1 when initialisation or the
// runtime failed (reported to the host as an init error where possible).
// `imaging`: the engine limits from PF_IMAGING_* and the config file, as for `process`.
int run_function(const config::Environment& env, const config::ImagingConfig& imaging);

}  // namespace pf::app
