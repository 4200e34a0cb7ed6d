// Time: a monotonic deadline for work budgets (a photo's time budget, later a Lambda invocation's
// Lambda-Runtime-Deadline-Ms). Wall-clock time is not used for budgets: it can jump.
#pragma once

#include <chrono>
#include <cstdint>

namespace pf {

using SteadyClock = std::chrono::steady_clock;

class Deadline {
public:
    // A deadline that never expires.
    static Deadline never() { return Deadline(SteadyClock::time_point::max()); }
    static Deadline after(std::chrono::milliseconds budget) {
        return Deadline(SteadyClock::now() + budget);
    }
    explicit Deadline(SteadyClock::time_point at) : at_(at) {}

    bool expired() const { return SteadyClock::now() >= at_; }
    SteadyClock::time_point at() const { return at_; }
    // Whichever comes first.
    Deadline earliest(const Deadline& other) const {
        return Deadline(at_ < other.at_ ? at_ : other.at_);
    }

private:
    SteadyClock::time_point at_;
};

// Milliseconds elapsed since `start`, as a double (for reports, not for budgets).
inline double millis_since(SteadyClock::time_point start) {
    return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

// Wall-clock time as Unix milliseconds, behind an interface: for times that are persisted and
// compared across restarts (a retry's next attempt), and so that tests can drive time by hand.
// Not for budgets: those use Deadline. Implementations are thread-safe.
class Clock {
public:
    virtual ~Clock() = default;
    virtual std::int64_t now_ms() const = 0;
};

// The system's wall clock.
class SystemClock final : public Clock {
public:
    std::int64_t now_ms() const override {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
};

}  // namespace pf
