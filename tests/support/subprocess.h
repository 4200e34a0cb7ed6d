// Runs a program as a child process (posix_spawn, no shell: arguments are passed as they are)
// and captures its exit status, stdout and stderr, with a wall-clock timeout. For end-to-end tests
// that drive the real binary and the independent tools (vipsheader, exiftool) that check it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace pf::test {

struct SubprocessOptions {
    // Variables to set (or override) in the child's environment; the rest is inherited.
    std::map<std::string, std::string> set_env;
    // Inherited variables whose names start with one of these prefixes are removed first, so
    // settings from the developer's shell (e.g. "PF_") cannot leak into a test.
    std::vector<std::string> unset_env_prefixes;
    // Working directory of the child; empty keeps the caller's.
    std::filesystem::path cwd;
    // After this long the child (and its process group) is killed with SIGKILL.
    std::chrono::milliseconds timeout{std::chrono::seconds(120)};
};

struct SubprocessResult {
    int exit_code = -1;       // the exit status, or -1 when the child did not exit normally
    int term_signal = 0;      // the signal that ended the child, if any
    bool timed_out = false;   // killed because it ran past the timeout
    bool spawn_failed = false;
    std::string out;          // everything the child wrote to stdout
    std::string err;          // everything the child wrote to stderr (or why spawning failed)
    std::chrono::duration<double> elapsed{0};
    // The child's peak resident set size as the kernel measured it (wait4's ru_maxrss).
    std::uint64_t peak_rss_bytes = 0;

    bool exited_with(int code) const { return !timed_out && term_signal == 0 && exit_code == code; }
    // One paragraph for assertion messages: the command, how it ended, and its stderr.
    std::string describe() const;

    std::vector<std::string> argv;  // what was run, for describe()
};

// argv[0] is the program: an absolute path, or a name looked up in PATH.
SubprocessResult run_subprocess(const std::vector<std::string>& argv,
                                const SubprocessOptions& options = {});

}  // namespace pf::test
