#include "app/loader_list.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace pf::app {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

// "path (0x...)" -> "path"
std::string_view strip_address(std::string_view s) {
    auto paren = s.rfind(" (0x");
    return trim(paren == std::string_view::npos ? s : s.substr(0, paren));
}

}  // namespace

Result<std::vector<SharedLibrary>> parse_loader_list(std::string_view output) {
    if (output.size() > kMaxLoaderListBytes) {
        return make_error(ErrorCode::TooLarge, "the dynamic loader's list is over 1 MiB");
    }
    std::vector<SharedLibrary> libraries;
    std::string missing;
    while (!output.empty()) {
        auto eol = output.find('\n');
        std::string_view line = trim(output.substr(0, eol));
        output.remove_prefix(eol == std::string_view::npos ? output.size() : eol + 1);
        if (line.empty()) {
            continue;
        }
        if (line.find("statically linked") != std::string_view::npos ||
            line.find("not a dynamic executable") != std::string_view::npos) {
            return make_error(ErrorCode::InvalidArgument,
                              "not a dynamically linked file: " + std::string(line));
        }
        SharedLibrary lib;
        if (auto arrow = line.find(" => "); arrow != std::string_view::npos) {
            lib.name = std::string(trim(line.substr(0, arrow)));
            std::string_view target = strip_address(line.substr(arrow + 4));
            if (target == "not found" || target.empty()) {
                missing += (missing.empty() ? "" : ", ") + lib.name;
                continue;
            }
            lib.path = std::string(target);
        } else {
            std::string_view target = strip_address(line);
            if (target.empty() || target.front() != '/') {
                continue;  // linux-vdso.so.1 and friends: provided by the kernel
            }
            lib.path = std::string(target);
            lib.name = lib.path.filename().string();
        }
        if (lib.name.empty() || lib.name.find('/') != std::string::npos || !lib.path.is_absolute()) {
            return make_error(ErrorCode::InvalidArgument,
                              "unexpected line in the dynamic loader's list: " + std::string(line));
        }
        libraries.push_back(std::move(lib));
    }
    if (!missing.empty()) {
        return make_error(ErrorCode::NotFound, "shared libraries not found on this machine: " +
                                                   missing);
    }
    return libraries;
}

Result<std::vector<SharedLibrary>> list_shared_libraries(const std::filesystem::path& loader,
                                                         const std::filesystem::path& file) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return make_error(ErrorCode::Internal, std::string("pipe: ") + std::strerror(errno));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::string loader_s = loader.string();
    std::string file_s = file.string();
    char list_flag[] = "--list";
    char* argv[] = {loader_s.data(), list_flag, file_s.data(), nullptr};
    pid_t pid = 0;
    int rc = posix_spawn(&pid, loader_s.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (rc != 0) {
        ::close(fds[0]);
        return make_error(ErrorCode::NotFound,
                          "cannot run the dynamic loader " + loader_s + ": " + std::strerror(rc));
    }
    std::string output;
    char chunk[8192];
    bool too_large = false;
    while (true) {
        ssize_t n = ::read(fds[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        if (output.size() + static_cast<std::size_t>(n) > kMaxLoaderListBytes) {
            too_large = true;  // keep draining so the child can exit
            continue;
        }
        output.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (too_large) {
        return make_error(ErrorCode::TooLarge, "the dynamic loader's list for " + file_s +
                                                   " is over 1 MiB");
    }
    auto libraries = parse_loader_list(output);
    if (!libraries) {
        return make_error(libraries.error().code, file_s + ": " + libraries.error().message);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return make_error(ErrorCode::Internal,
                          loader_s + " --list " + file_s + " failed (status " +
                              std::to_string(status) + ")");
    }
    return libraries;
}

}  // namespace pf::app
