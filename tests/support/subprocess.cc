#include "support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <sstream>

extern char** environ;

namespace pf::test {
namespace {

using Clock = std::chrono::steady_clock;

// Closes a file descriptor once, on every path out of run_subprocess.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = other.fd_;
            other.fd_ = -1;
        }
        return *this;
    }
    ~Fd() { reset(); }
    int get() const { return fd_; }
    void reset() {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

private:
    int fd_ = -1;
};

struct Pipe {
    Fd read_end;
    Fd write_end;
};

bool make_pipe(Pipe& p) {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
        return false;
    }
    p.read_end = Fd(fds[0]);
    p.write_end = Fd(fds[1]);
    return true;
}

std::vector<std::string> child_environment(const SubprocessOptions& options) {
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string entry(*e);
        std::string name = entry.substr(0, entry.find('='));
        bool drop = options.set_env.count(name) > 0;
        for (const auto& prefix : options.unset_env_prefixes) {
            drop = drop || name.rfind(prefix, 0) == 0;
        }
        if (!drop) {
            env.push_back(std::move(entry));
        }
    }
    for (const auto& [name, value] : options.set_env) {
        env.push_back(name + "=" + value);
    }
    return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    pointers.reserve(strings.size() + 1);
    for (auto& s : strings) {
        pointers.push_back(s.data());
    }
    pointers.push_back(nullptr);
    return pointers;
}

// Owns the posix_spawn attribute objects.
struct SpawnSetup {
    posix_spawn_file_actions_t actions{};
    posix_spawnattr_t attr{};
    SpawnSetup() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;
    ~SpawnSetup() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
};

}  // namespace

std::string SubprocessResult::describe() const {
    std::ostringstream s;
    s << "command:";
    for (const auto& a : argv) {
        s << " '" << a << "'";
    }
    if (spawn_failed) {
        s << "\ncould not start: " << err;
        return s.str();
    }
    if (timed_out) {
        s << "\ntimed out after " << elapsed.count() << " s (killed)";
    } else if (term_signal != 0) {
        s << "\nkilled by signal " << term_signal;
    } else {
        s << "\nexit code " << exit_code;
    }
    s << " after " << elapsed.count() << " s";
    constexpr std::size_t kShown = 4000;
    s << "\nstderr:\n" << (err.size() > kShown ? err.substr(0, kShown) + "\n[...]" : err);
    return s.str();
}

SubprocessResult run_subprocess(const std::vector<std::string>& argv,
                                const SubprocessOptions& options) {
    SubprocessResult result;
    result.argv = argv;
    if (argv.empty()) {
        result.spawn_failed = true;
        result.err = "empty command";
        return result;
    }
    Pipe out_pipe;
    Pipe err_pipe;
    if (!make_pipe(out_pipe) || !make_pipe(err_pipe)) {
        result.spawn_failed = true;
        result.err = std::string("pipe: ") + std::strerror(errno);
        return result;
    }

    SpawnSetup setup;
    posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&setup.actions, out_pipe.write_end.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&setup.actions, err_pipe.write_end.get(), STDERR_FILENO);
    if (!options.cwd.empty()) {
        posix_spawn_file_actions_addchdir_np(&setup.actions, options.cwd.c_str());
    }
    // Its own process group, so a timeout can kill the child and anything it started; default
    // signal handling and an empty mask whatever the test runner set up.
    sigset_t defaults;
    sigset_t empty;
    sigfillset(&defaults);
    sigemptyset(&empty);
    posix_spawnattr_setpgroup(&setup.attr, 0);
    posix_spawnattr_setsigdefault(&setup.attr, &defaults);
    posix_spawnattr_setsigmask(&setup.attr, &empty);
    posix_spawnattr_setflags(&setup.attr, static_cast<short>(POSIX_SPAWN_SETPGROUP |
                                                             POSIX_SPAWN_SETSIGDEF |
                                                             POSIX_SPAWN_SETSIGMASK));

    std::vector<std::string> args = argv;
    std::vector<std::string> env = child_environment(options);
    std::vector<char*> c_args = c_strings(args);
    std::vector<char*> c_env = c_strings(env);

    const auto started = Clock::now();
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, c_args[0], &setup.actions, &setup.attr, c_args.data(),
                          c_env.data());
    out_pipe.write_end.reset();
    err_pipe.write_end.reset();
    if (rc != 0) {
        result.spawn_failed = true;
        result.err = argv[0] + ": " + std::strerror(rc);
        return result;
    }

    const auto deadline = started + options.timeout;
    std::array<pollfd, 2> fds{pollfd{out_pipe.read_end.get(), POLLIN, 0},
                              pollfd{err_pipe.read_end.get(), POLLIN, 0}};
    std::array<std::string*, 2> sinks{&result.out, &result.err};
    std::array<char, 65536> buffer{};
    int open_streams = 2;
    while (open_streams > 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            result.timed_out = true;
            ::kill(-pid, SIGKILL);
            break;
        }
        int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            ::kill(-pid, SIGKILL);
            result.err += std::string("\n[poll failed: ") + std::strerror(errno) + "]";
            break;
        }
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) {
                continue;
            }
            ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
            if (n > 0) {
                sinks[i]->append(buffer.data(), static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                fds[i].fd = -1;  // closed (or broken): stop watching it
                --open_streams;
            }
        }
    }

    int status = 0;
    rusage usage{};
    pid_t waited = -1;
    do {
        waited = ::wait4(pid, &status, 0, &usage);
    } while (waited < 0 && errno == EINTR);
    result.elapsed = Clock::now() - started;
    if (waited != pid) {
        result.err += std::string("\n[wait4 failed: ") + std::strerror(errno) + "]";
        return result;
    }
    result.peak_rss_bytes = static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
    if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.term_signal = WTERMSIG(status);
    }
    return result;
}

}  // namespace pf::test
