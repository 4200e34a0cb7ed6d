// Logging: one named spdlog logger per component (each component's logger.h asks for its own),
// key=value text by default or JSON lines with --log-format json. Never log secrets or
// presigned URLs.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace pf {

enum class LogFormat { Text, Json };

// Sets level and format for every logger, present and future. Called once by app/.
void configure_logging(spdlog::level::level_enum level, LogFormat format);

// What configure_logging set ("info", "json"), to hand to child processes (function workers).
std::string configured_log_level();
std::string configured_log_format();

// The logger for a component; created on first use with the configured sinks (stderr).
std::shared_ptr<spdlog::logger> component_logger(const std::string& name);

}  // namespace pf
