// One worker process of an execution environment: a custom runtime (normally `photoflux
// function`) started with exactly the environment it is given, in a process group of its own,
// with stdin on /dev/null and stdout/stderr read line by line into the "function" logger
// (function=<name> env=<index> stream=stdout|stderr msg="..."), long lines cut.
//
// Processes are started with fork + execve: the child resets signal dispositions and its mask,
// marks every inherited descriptor above stderr close-on-exec, and asks for SIGKILL when serve
// dies (PR_SET_PDEATHSIG: a worker never outlives the host, even after kill -9; the signal follows
// the thread that forked, so the host forks from the environment's own long-lived thread). An exec
// failure is reported by spawn(), not discovered later.
//
// A monitor thread per process reads both pipes and notices the exit (pidfd, else a 100 ms
// waitpid poll), reaps the process, kills what is left of its group, and then calls `exited`
// (never under the object's lock). kill() sends SIGKILL to the whole group, and never after the
// process was reaped (its pid may be reused).
#pragma once

#include "base/result.h"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace pf::lambda {

struct WorkerSpec {
    std::vector<std::string> argv;  // argv[0] is the path executed (no PATH search)
    std::map<std::string, std::string> environment;  // the whole environment of the process
    std::string function_name;                       // for its log lines
    int environment_index = 0;
    std::size_t max_log_line_bytes = 8 * 1024;  // longer lines are cut
};

struct ExitStatus {
    bool signaled = false;
    int code = 0;  // exit code, or the signal number when signaled
    // "exit status 3", "signal: killed" (the wording Lambda's Runtime.ExitError messages use).
    std::string describe() const;
};

// Splits a byte stream into lines for the log: lines longer than max_bytes are emitted cut (with
// the number of bytes dropped) and the rest of the line is skipped. Exposed for tests.
class LogLineSplitter {
public:
    using Emit = std::function<void(std::string_view line)>;
    LogLineSplitter(std::size_t max_bytes, Emit emit);
    void feed(std::string_view bytes);
    // Emits a final unterminated line, if any.
    void finish();

private:
    void emit_current();

    std::size_t max_bytes_;
    Emit emit_;
    std::string line_;
    std::size_t dropped_ = 0;
};

// Log-safe text: quotes, backslashes, control bytes and bytes that are not well-formed UTF-8 are
// escaped (\", \\, \u00XX); well-formed UTF-8 passes. A line can neither forge log records nor
// break the JSON log format.
std::string escape_log_text(std::string_view text);

// Delays between restarts of a worker that keeps failing before it does any work: initial,
// doubling, capped at max. reset() after the worker served an invocation.
class RestartBackoff {
public:
    RestartBackoff(std::chrono::milliseconds initial, std::chrono::milliseconds max);
    // The delay before the next start, after one more failure.
    std::chrono::milliseconds failure();
    void reset();
    int consecutive_failures() const { return failures_; }

private:
    std::chrono::milliseconds initial_;
    std::chrono::milliseconds max_;
    int failures_ = 0;
};

class WorkerProcess {
public:
    using Exited = std::function<void()>;

    // InvalidArgument for an empty argv or bad environment names; Unavailable when the process
    // cannot be created or exec fails (the message says why: "cannot execute /x: No such file").
    static Result<std::unique_ptr<WorkerProcess>> spawn(const WorkerSpec& spec, Exited exited);
    // Kills the process group (if still running), reaps it and joins the monitor thread.
    ~WorkerProcess();
    WorkerProcess(const WorkerProcess&) = delete;
    WorkerProcess& operator=(const WorkerProcess&) = delete;

    int pid() const { return pid_; }
    bool exited() const;
    std::optional<ExitStatus> exit_status() const;
    // SIGKILL to the process group; no-op once reaped. Thread-safe.
    void kill();
    // Waits until the process has been reaped; false on timeout.
    bool wait_exit(std::chrono::milliseconds timeout);

private:
    WorkerProcess(int pid, int stdout_fd, int stderr_fd, int pidfd, const WorkerSpec& spec,
                  Exited exited);
    void monitor();
    // waitpid(WNOHANG) under the lock; true once reaped.
    bool try_reap();

    const int pid_;
    int stdout_fd_;
    int stderr_fd_;
    int pidfd_;
    std::string function_name_;
    int environment_index_;
    std::size_t max_log_line_bytes_;
    Exited exited_;

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::optional<ExitStatus> status_;  // set once reaped
    std::thread monitor_;
};

}  // namespace pf::lambda
