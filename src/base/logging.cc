#include "base/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cstdio>
#include <memory>
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

// %* in the JSON pattern: the message as the body of a JSON string (quotes, backslashes and
// control characters escaped), so a message like subject="x" still makes one valid JSON line.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        for (char c : msg.payload) {
            switch (c) {
            case '"': dest.append(std::string_view("\\\"")); break;
            case '\\': dest.append(std::string_view("\\\\")); break;
            case '\n': dest.append(std::string_view("\\n")); break;
            case '\r': dest.append(std::string_view("\\r")); break;
            case '\t': dest.append(std::string_view("\\t")); break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char escaped[8];
                    std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
                    dest.append(std::string_view(escaped));
                } else {
                    dest.push_back(c);
                }
            }
        }
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<JsonEscapedMessage>();
    }
};

void apply(spdlog::logger& logger, spdlog::level::level_enum level, LogFormat format) {
    logger.set_level(level);
    if (format == LogFormat::Json) {
        // Messages are key=value text already; JSON mode wraps them so collectors can parse.
        auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
        formatter->add_flag<JsonEscapedMessage>('*').set_pattern(
            R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","component":"%n","msg":"%*"})");
        logger.set_formatter(std::move(formatter));
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

std::string configured_log_level() {
    auto& s = settings();
    std::lock_guard lock(s.mutex);
    auto name = spdlog::level::to_string_view(s.level);
    return std::string(name.data(), name.size());
}

std::string configured_log_format() {
    auto& s = settings();
    std::lock_guard lock(s.mutex);
    return s.format == LogFormat::Json ? "json" : "text";
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
