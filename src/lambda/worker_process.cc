#include "lambda/worker_process.h"

#include "base/logging.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>

namespace pf::lambda {
namespace {

spdlog::logger& function_logger() {
    static auto instance = component_logger("function");
    return *instance;
}

spdlog::logger& host_logger() {
    static auto instance = component_logger("lambda");
    return *instance;
}

// Bytes read from the pipes after the process died (a grandchild that escaped the group could
// keep writing forever).
constexpr std::size_t kMaxDrainAfterExit = 1024 * 1024;

std::string errno_text(int error) {
    char buffer[256];
    // GNU strerror_r returns the message (maybe not in buffer).
    return std::string(::strerror_r(error, buffer, sizeof buffer));
}

// Moves a descriptor above 0..2, so that dup2 onto the standard descriptors in the child cannot
// clobber it (serve may run with a standard descriptor closed).
int above_stdio(int fd) {
    if (fd > 2) {
        return fd;
    }
    const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    ::close(fd);
    return moved;
}

bool make_pipe(int fds[2]) {
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return false;
    }
    fds[0] = above_stdio(fds[0]);
    fds[1] = above_stdio(fds[1]);
    return fds[0] >= 0 && fds[1] >= 0;
}

void close_fd(int& fd) {
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

bool valid_environment_name(const std::string& name) {
    return !name.empty() && name.find('=') == std::string::npos &&
           name.find('\0') == std::string::npos;
}

// Runs in the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_child(pid_t parent, int devnull, int out, int err, int status_fd,
                             char* const* argv, char* const* envp) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
        ::_exit(127);  // the parent died before prctl: do not become an orphan
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            ::sigaction(sig, &dfl, nullptr);  // ignored dispositions would survive exec
        }
    }
    if (::dup2(devnull, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
        int e = errno;
        (void)!::write(status_fd, &e, sizeof e);
        ::_exit(127);
    }
    // Nothing else of serve's (sockets, the SQLite files) may reach the worker.
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        struct rlimit limit;
        int max_fd = 65536;
        if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
            limit.rlim_cur < 65536) {
            max_fd = static_cast<int>(limit.rlim_cur);
        }
        for (int fd = 3; fd < max_fd; ++fd) {
            if (fd != status_fd) {
                ::close(fd);
            }
        }
    }
    ::execve(argv[0], argv, envp);
    int e = errno;
    (void)!::write(status_fd, &e, sizeof e);
    ::_exit(127);
}

}  // namespace

// --- ExitStatus ---

std::string ExitStatus::describe() const {
    if (!signaled) {
        return "exit status " + std::to_string(code);
    }
    switch (code) {
    case SIGKILL:
        return "signal: killed";
    case SIGSEGV:
        return "signal: segmentation fault";
    case SIGABRT:
        return "signal: aborted";
    case SIGTERM:
        return "signal: terminated";
    case SIGBUS:
        return "signal: bus error";
    case SIGILL:
        return "signal: illegal instruction";
    case SIGFPE:
        return "signal: floating point exception";
    default:
        return "signal: " + std::to_string(code);
    }
}

// --- LogLineSplitter ---

LogLineSplitter::LogLineSplitter(std::size_t max_bytes, Emit emit)
    : max_bytes_(std::max<std::size_t>(max_bytes, 1)), emit_(std::move(emit)) {}

void LogLineSplitter::feed(std::string_view bytes) {
    while (!bytes.empty()) {
        const auto newline = bytes.find('\n');
        std::string_view part = bytes.substr(0, newline);
        const std::size_t room = max_bytes_ - std::min(max_bytes_, line_.size());
        if (part.size() <= room) {
            line_.append(part);
        } else {
            line_.append(part.substr(0, room));
            dropped_ += part.size() - room;
        }
        if (newline == std::string_view::npos) {
            return;
        }
        emit_current();
        bytes.remove_prefix(newline + 1);
    }
}

void LogLineSplitter::finish() {
    if (!line_.empty() || dropped_ > 0) {
        emit_current();
    }
}

void LogLineSplitter::emit_current() {
    if (!line_.empty() && line_.back() == '\r') {
        line_.pop_back();
    }
    if (dropped_ > 0) {
        line_ += " ...[" + std::to_string(dropped_) + " bytes cut]";
    }
    emit_(line_);
    line_.clear();
    dropped_ = 0;
}

namespace {

// Length of the well-formed UTF-8 sequence starting at text[i] (2..4 bytes), or 0.
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
        length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        length = 3;
        low = lead == 0xe0 ? 0xa0 : 0x80;   // no overlong forms
        high = lead == 0xed ? 0x9f : 0xbf;  // no surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        length = 4;
        low = lead == 0xf0 ? 0x90 : 0x80;
        high = lead == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (i + length > text.size() || byte(i + 1) < low || byte(i + 1) > high) {
        return 0;
    }
    for (std::size_t k = 2; k < length; ++k) {
        if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) {
            return 0;
        }
    }
    return length;
}

}  // namespace

std::string escape_log_text(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const char c = text[i];
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (u >= 0x80) {
            if (const std::size_t n = utf8_sequence(text, i); n > 0) {
                out.append(text.substr(i, n));  // well-formed UTF-8 stays readable
                i += n;
                continue;
            }
            out += "\\u00";
            out.push_back(kHex[u >> 4]);
            out.push_back(kHex[u & 0xf]);
        } else if (u < 0x20 || u == 0x7f) {
            out += "\\u00";
            out.push_back(kHex[u >> 4]);
            out.push_back(kHex[u & 0xf]);
        } else {
            out.push_back(c);
        }
        ++i;
    }
    return out;
}

// --- RestartBackoff ---

RestartBackoff::RestartBackoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
    : initial_(std::max(initial, std::chrono::milliseconds(1))), max_(std::max(max, initial_)) {}

std::chrono::milliseconds RestartBackoff::failure() {
    std::chrono::milliseconds delay = initial_;
    for (int i = 0; i < failures_ && delay < max_; ++i) {
        delay *= 2;
    }
    ++failures_;
    return std::min(delay, max_);
}

void RestartBackoff::reset() {
    failures_ = 0;
}

// --- WorkerProcess ---

Result<std::unique_ptr<WorkerProcess>> WorkerProcess::spawn(const WorkerSpec& spec, Exited exited) {
    if (spec.argv.empty() || spec.argv[0].empty()) {
        return make_error(ErrorCode::InvalidArgument, "worker argv is empty");
    }
    // Everything the child needs is built before fork: it may not allocate.
    std::vector<std::string> env_strings;
    for (const auto& [name, value] : spec.environment) {
        if (!valid_environment_name(name) || value.find('\0') != std::string::npos) {
            return make_error(ErrorCode::InvalidArgument,
                              "invalid environment variable name or value: " + name);
        }
        env_strings.push_back(name + "=" + value);
    }
    std::vector<char*> argv;
    for (const auto& arg : spec.argv) {
        argv.push_back(const_cast<char*>(arg.c_str()));
    }
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& entry : env_strings) {
        envp.push_back(entry.data());
    }
    envp.push_back(nullptr);

    int out[2] = {-1, -1};
    int err[2] = {-1, -1};
    int status[2] = {-1, -1};
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    auto cleanup = [&] {
        for (int* fd : {&out[0], &out[1], &err[0], &err[1], &status[0], &status[1], &devnull}) {
            close_fd(*fd);
        }
    };
    devnull = devnull >= 0 ? above_stdio(devnull) : devnull;
    if (devnull < 0 || !make_pipe(out) || !make_pipe(err) || !make_pipe(status)) {
        const int e = errno;
        cleanup();
        return make_error(ErrorCode::Unavailable, "cannot create pipes: " + errno_text(e));
    }
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        const int e = errno;
        cleanup();
        return make_error(ErrorCode::Unavailable, "fork failed: " + errno_text(e));
    }
    if (pid == 0) {
        exec_child(parent, devnull, out[1], err[1], status[1], argv.data(), envp.data());
    }
    ::setpgid(pid, pid);  // also here, so kill(-pid) works even before the child got to it
    close_fd(out[1]);
    close_fd(err[1]);
    close_fd(status[1]);
    close_fd(devnull);

    int exec_errno = 0;
    ssize_t n;
    do {
        n = ::read(status[0], &exec_errno, sizeof exec_errno);
    } while (n < 0 && errno == EINTR);
    close_fd(status[0]);
    if (n == static_cast<ssize_t>(sizeof exec_errno)) {
        int ignored = 0;
        while (::waitpid(pid, &ignored, 0) < 0 && errno == EINTR) {
        }
        close_fd(out[0]);
        close_fd(err[0]);
        return make_error(ErrorCode::Unavailable,
                          "cannot execute " + spec.argv[0] + ": " + errno_text(exec_errno));
    }
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    std::unique_ptr<WorkerProcess> self(
        new WorkerProcess(pid, out[0], err[0], pidfd, spec, std::move(exited)));
    WorkerProcess* raw = self.get();
    self->monitor_ = std::thread([raw] { raw->monitor(); });
    return self;
}

WorkerProcess::WorkerProcess(int pid, int stdout_fd, int stderr_fd, int pidfd,
                             const WorkerSpec& spec, Exited exited)
    : pid_(pid), stdout_fd_(stdout_fd), stderr_fd_(stderr_fd), pidfd_(pidfd),
      function_name_(spec.function_name), environment_index_(spec.environment_index),
      max_log_line_bytes_(spec.max_log_line_bytes), exited_(std::move(exited)) {}

WorkerProcess::~WorkerProcess() {
    kill();
    if (monitor_.joinable()) {
        monitor_.join();
    }
    close_fd(stdout_fd_);
    close_fd(stderr_fd_);
    close_fd(pidfd_);
}

bool WorkerProcess::exited() const {
    std::lock_guard lock(mutex_);
    return status_.has_value();
}

std::optional<ExitStatus> WorkerProcess::exit_status() const {
    std::lock_guard lock(mutex_);
    return status_;
}

void WorkerProcess::kill() {
    std::lock_guard lock(mutex_);
    if (!status_) {
        ::kill(-pid_, SIGKILL);
    }
}

bool WorkerProcess::wait_exit(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return status_.has_value(); });
}

bool WorkerProcess::try_reap() {
    std::unique_lock lock(mutex_);
    if (status_) {
        return true;
    }
    int wstatus = 0;
    pid_t r = ::waitpid(pid_, &wstatus, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) {
        return false;
    }
    ExitStatus st;
    if (r < 0) {
        st.code = -1;  // ECHILD: someone else reaped it (SIGCHLD ignored); it is gone either way
    } else if (WIFSIGNALED(wstatus)) {
        st.signaled = true;
        st.code = WTERMSIG(wstatus);
    } else if (WIFEXITED(wstatus)) {
        st.code = WEXITSTATUS(wstatus);
    } else {
        return false;  // stopped/continued: not an exit
    }
    // Whatever the worker started in its group goes with it. The group id cannot be reused
    // while members remain, and this runs right after the reap.
    if (r > 0) {
        ::kill(-pid_, SIGKILL);
    }
    status_ = st;
    lock.unlock();
    cv_.notify_all();
    return true;
}

void WorkerProcess::monitor() {
    auto emitter = [this](const char* stream) {
        return [this, stream](std::string_view line) {
            function_logger().info("function={} env={} stream={} msg=\"{}\"", function_name_,
                                   environment_index_, stream, escape_log_text(line));
        };
    };
    LogLineSplitter out(max_log_line_bytes_, emitter("stdout"));
    LogLineSplitter err(max_log_line_bytes_, emitter("stderr"));
    std::vector<char> buffer(64 * 1024);

    auto read_once = [&](int& fd, LogLineSplitter& splitter) {
        ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n > 0) {
            splitter.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
            return n;
        }
        if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            close_fd(fd);
        }
        return n;
    };

    bool reaped = false;
    while (!reaped) {
        pollfd fds[3];
        nfds_t count = 0;
        int out_index = -1;
        int err_index = -1;
        int pid_index = -1;
        if (stdout_fd_ >= 0) {
            out_index = static_cast<int>(count);
            fds[count++] = pollfd{stdout_fd_, POLLIN, 0};
        }
        if (stderr_fd_ >= 0) {
            err_index = static_cast<int>(count);
            fds[count++] = pollfd{stderr_fd_, POLLIN, 0};
        }
        if (pidfd_ >= 0) {
            pid_index = static_cast<int>(count);
            fds[count++] = pollfd{pidfd_, POLLIN, 0};
        }
        const int timeout_ms = pidfd_ >= 0 ? -1 : 100;
        const int ready = ::poll(fds, count, timeout_ms);
        if (ready < 0 && errno != EINTR) {
            host_logger().error("worker monitor: poll failed function={} env={} error={}",
                                function_name_, environment_index_, errno_text(errno));
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        if (ready > 0) {
            if (out_index >= 0 && (fds[out_index].revents & (POLLIN | POLLHUP | POLLERR))) {
                read_once(stdout_fd_, out);
            }
            if (err_index >= 0 && (fds[err_index].revents & (POLLIN | POLLHUP | POLLERR))) {
                read_once(stderr_fd_, err);
            }
        }
        if (pid_index < 0 || (ready > 0 && fds[pid_index].revents != 0)) {
            reaped = try_reap();
        }
    }
    // The process is gone: take what it wrote last, without waiting on anyone who kept the pipes.
    for (auto [fd, splitter] : {std::pair<int*, LogLineSplitter*>{&stdout_fd_, &out},
                                std::pair<int*, LogLineSplitter*>{&stderr_fd_, &err}}) {
        if (*fd >= 0) {
            ::fcntl(*fd, F_SETFL, ::fcntl(*fd, F_GETFL) | O_NONBLOCK);
            std::size_t drained = 0;
            while (*fd >= 0 && drained < kMaxDrainAfterExit) {
                const ssize_t n = read_once(*fd, *splitter);
                if (n <= 0) {
                    break;
                }
                drained += static_cast<std::size_t>(n);
            }
            close_fd(*fd);
        }
        splitter->finish();
    }
    if (exited_) {
        exited_();
    }
}

}  // namespace pf::lambda
