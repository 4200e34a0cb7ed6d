#include "base/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>

namespace pf {
namespace {

struct LoggingSettings {
    std::mutex mutex;
    spdlog::level::level_enum level = spdlog::level::info;
    LogFormat format = LogFormat::Text;
};

LoggingSettings& settings() {
    static LoggingSettings s;
    return s;
}

void apply(spdlog::logger& logger, spdlog::level::level_enum level, LogFormat format) {
    logger.set_level(level);
    if (format == LogFormat::Json) {
        // Messages are key=value text already; JSON mode wraps them so collectors can parse.
        logger.set_pattern(
            R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","component":"%n","msg":"%v"})",
            spdlog::pattern_time_type::utc);
    } else {
        logger.set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n: %v");
    }
}

}  // namespace

void configure_logging(spdlog::level::level_enum level, LogFormat format) {
    auto& s = settings();
    std::lock_guard lock(s.mutex);
    s.level = level;
    s.format = format;
    spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { apply(*l, level, format); });
}

std::shared_ptr<spdlog::logger> component_logger(const std::string& name) {
    auto& s = settings();
    std::lock_guard lock(s.mutex);
    if (auto existing = spdlog::get(name)) {
        return existing;
    }
    auto logger = spdlog::stderr_logger_mt(name);
    apply(*logger, s.level, s.format);
    return logger;
}

}  // namespace pf
