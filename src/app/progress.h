// A one-line progress bar for terminals: redrawn in place on stderr, at most ten times a second.
// Thread-safe. Silent when stderr is not a terminal (pipes and CI logs stay clean).
#pragma once

#include "base/clock.h"

#include <cstddef>
#include <mutex>
#include <string>

namespace pf::app {

class ProgressBar {
public:
    ProgressBar(std::size_t total, bool enabled);

    void advance(bool failed);
    // Prints a line (e.g. a failure) above the bar without garbling it.
    void print_line(const std::string& line);
    void finish();

private:
    void draw_locked(bool force);

    std::mutex mutex_;
    std::size_t total_;
    std::size_t done_ = 0;
    std::size_t failed_ = 0;
    bool enabled_;
    SteadyClock::time_point started_;
    SteadyClock::time_point last_draw_{};
};

}  // namespace pf::app
