// Captures what a component logger writes, for tests that check log lines.
#pragma once

#include "base/logging.h"

#include <spdlog/sinks/base_sink.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pf::test {

class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
public:
    std::vector<std::string> lines() {
        std::lock_guard lock(this->mutex_);
        return lines_;
    }
    std::size_t count_containing(const std::string& text) {
        auto all = lines();
        return static_cast<std::size_t>(std::count_if(all.begin(), all.end(), [&](const auto& l) {
            return l.find(text) != std::string::npos;
        }));
    }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        lines_.emplace_back(msg.payload.data(), msg.payload.size());
    }
    void flush_() override {}

private:
    std::vector<std::string> lines_;
};

// Adds a capture sink to a component's logger for the lifetime of the object. Install it before
// any thread logs to that logger, remove it after they are done (spdlog's sink list is not
// guarded).
class LogCapture {
public:
    explicit LogCapture(const std::string& component)
        : logger_(component_logger(component)), sink_(std::make_shared<CaptureSink>()) {
        logger_->sinks().push_back(sink_);
    }
    ~LogCapture() {
        auto& sinks = logger_->sinks();
        sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    }
    CaptureSink& sink() { return *sink_; }

private:
    std::shared_ptr<spdlog::logger> logger_;
    std::shared_ptr<CaptureSink> sink_;
};

}  // namespace pf::test
