#include "app/progress.h"

#include <cstdio>

namespace pf::app {

ProgressBar::ProgressBar(std::size_t total, bool enabled)
    : total_(total), enabled_(enabled), started_(SteadyClock::now()) {}

void ProgressBar::advance(bool failed) {
    std::lock_guard lock(mutex_);
    ++done_;
    failed_ += failed ? 1 : 0;
    draw_locked(done_ == total_);
}

void ProgressBar::print_line(const std::string& line) {
    std::lock_guard lock(mutex_);
    if (enabled_) {
        std::fputs("\r\033[2K", stderr);
    }
    std::fprintf(stderr, "%s\n", line.c_str());
    if (enabled_) {
        draw_locked(true);
    }
}

void ProgressBar::finish() {
    std::lock_guard lock(mutex_);
    if (enabled_) {
        if (done_ != total_) {
            draw_locked(true);  // stopped early: show where; a complete bar is already drawn
        }
        std::fputs("\n", stderr);
    }
}

void ProgressBar::draw_locked(bool force) {
    if (!enabled_) {
        return;
    }
    auto now = SteadyClock::now();
    if (!force && now - last_draw_ < std::chrono::milliseconds(100)) {
        return;
    }
    last_draw_ = now;
    constexpr int kWidth = 30;
    int filled = total_ == 0 ? kWidth : static_cast<int>(kWidth * done_ / total_);
    double seconds = std::chrono::duration<double>(now - started_).count();
    double rate = seconds > 0 ? done_ / seconds : 0;
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '-');
    std::fprintf(stderr, "\r\033[2K[%s] %zu/%zu photos", bar.c_str(), done_, total_);
    if (failed_ > 0) {
        std::fprintf(stderr, ", %zu failed", failed_);
    }
    std::fprintf(stderr, "  %.1f/s", rate);
    if (rate > 0 && done_ < total_) {
        std::fprintf(stderr, "  ETA %.0fs", (total_ - done_) / rate);
    }
    std::fflush(stderr);
}

}  // namespace pf::app
