#include "function/serve_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

namespace pf::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string read_all(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Reaps the child within `budget`; false when it is still running.
bool reap(pid_t pid, std::chrono::milliseconds budget) {
    const auto until = Clock::now() + budget;
    while (Clock::now() < until) {
        int status = 0;
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

}  // namespace

std::unique_ptr<ServeProcess> ServeProcess::start(const std::filesystem::path& binary,
                                                  const std::filesystem::path& data_dir,
                                                  const std::map<std::string, std::string>& env,
                                                  std::string& error) {
    std::filesystem::create_directories(data_dir);
    const auto ready_file = data_dir / "ready";
    const auto log = data_dir.parent_path() / (data_dir.filename().string() + ".log");
    std::vector<std::string> args = {binary.string(), "--log-level",      "info",     "serve",
                                     "--data-dir",    data_dir.string(),  "--listen", "127.0.0.1:0",
                                     "--ready-file",  ready_file.string()};
    // The developer's PF_ / AWS_ settings must not reach the server under test.
    std::vector<std::string> vars;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string entry(*e);
        std::string name = entry.substr(0, entry.find('='));
        if (name.rfind("PF_", 0) != 0 && name.rfind("AWS_", 0) != 0 && env.count(name) == 0) {
            vars.push_back(std::move(entry));
        }
    }
    for (const auto& [name, value] : env) {
        vars.push_back(name + "=" + value);
    }
    std::vector<char*> c_args;
    for (auto& a : args) {
        c_args.push_back(a.data());
    }
    c_args.push_back(nullptr);
    std::vector<char*> c_env;
    for (auto& v : vars) {
        c_env.push_back(v.data());
    }
    c_env.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, c_args[0], &actions, nullptr, c_args.data(), c_env.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        error = binary.string() + ": " + std::strerror(rc);
        return nullptr;
    }
    std::unique_ptr<ServeProcess> process(new ServeProcess(pid, log));

    const auto until = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < until) {
        std::string text = read_all(ready_file);
        if (!text.empty() && text.back() == '\n') {
            process->url_ = text.substr(0, text.size() - 1);
            return process;
        }
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            process->pid_ = -1;
            error = "serve exited before it was ready:\n" + process->log_tail();
            return nullptr;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    error = "serve was not ready within 60 s:\n" + process->log_tail();
    return nullptr;
}

ServeProcess::~ServeProcess() {
    if (pid_ <= 0) {
        return;
    }
    ::kill(pid_, SIGTERM);
    if (!reap(pid_, std::chrono::seconds(15))) {
        ::kill(pid_, SIGKILL);
        reap(pid_, std::chrono::seconds(5));
    }
}

int ServeProcess::port() const {
    auto colon = url_.rfind(':');
    return colon == std::string::npos ? 0 : std::stoi(url_.substr(colon + 1));
}

std::string ServeProcess::log_tail() const {
    std::string text = read_all(log_);
    constexpr std::size_t kShown = 4000;
    return text.size() > kShown ? "[...]\n" + text.substr(text.size() - kShown) : text;
}

}  // namespace pf::test
