// bootstrap: the launcher AWS Lambda starts for the photoflux package (`photoflux package
// lambda`). Linked statically (target photoflux-bootstrap) because it runs before anything can be
// loaded: Lambda's provided.al2023 has no shell we may rely on and its system libraries are not
// the ones photoflux was built against.
//
// It finds the package root (its own directory: /proc/self/exe, else LAMBDA_TASK_ROOT), points
// libvips, fontconfig and glib at the package, and execs the bundled dynamic loader on the
// bundled binary:
//   <root>/lib/ld-linux-x86-64.so.2 --library-path <root>/lib --argv0 <root>/bin/photoflux
//       <root>/bin/photoflux function
// Arguments given to bootstrap replace `function` (`./bootstrap version`, `./bootstrap process
// photo.heic`), which is how the package is tried out by hand. The environment passes through.
// If the exec fails, the reason goes to stderr (CloudWatch) and, under Lambda, to the Runtime
// API's /runtime/init/error, so the failure shows as an init error rather than a bare exit.
//
// Only libc; nothing of the project but the layout constants.
#include "app/lambda_layout.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

namespace layout = pf::app::lambda_layout;

constexpr char kErrorType[] = "Photoflux.BootstrapFailed";

void say(const std::string& text) {
    std::string line = "bootstrap: " + text + "\n";
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
}

std::string json_escape(const std::string& text) {
    std::string out;
    for (unsigned char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\u%04x", c);
            out += hex;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

// POST /2018-06-01/runtime/init/error on AWS_LAMBDA_RUNTIME_API ("host:port"; Lambda's is
// 127.0.0.1:9001). A static binary cannot use glibc's resolver safely, so only an IPv4 address
// or "localhost" is understood; anything else is left to stderr alone. Best effort, bounded by
// 2 s timeouts: the process exits right after either way.
void report_init_error(const std::string& message) {
    const char* api = std::getenv("AWS_LAMBDA_RUNTIME_API");
    if (api == nullptr || *api == '\0' || std::strlen(api) > 256) {
        return;
    }
    std::string address(api);
    auto colon = address.rfind(':');
    if (colon == std::string::npos) {
        return;
    }
    std::string host = address.substr(0, colon);
    long port = std::strtol(address.c_str() + colon + 1, nullptr, 10);
    if (host == "localhost") {
        host = "127.0.0.1";
    }
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(static_cast<std::uint16_t>(port));
    if (port <= 0 || port > 65535 || ::inet_pton(AF_INET, host.c_str(), &peer.sin_addr) != 1) {
        say("cannot report to the Runtime API at " + address + " (not an IPv4 address)");
        return;
    }
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return;
    }
    timeval timeout{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof peer) != 0) {
        say("cannot reach the Runtime API at " + address + ": " + std::strerror(errno));
        ::close(fd);
        return;
    }
    std::string body = "{\"errorMessage\":\"" + json_escape(message) + "\",\"errorType\":\"" +
                       kErrorType + "\",\"stackTrace\":[]}";
    std::string request = "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: " + address +
                          "\r\nLambda-Runtime-Function-Error-Type: " + kErrorType +
                          "\r\nContent-Type: application/vnd.aws.lambda.error+json\r\n"
                          "Content-Length: " +
                          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    const char* p = request.data();
    std::size_t left = request.size();
    while (left > 0) {
        ssize_t n = ::send(fd, p, left, MSG_NOSIGNAL);
        if (n <= 0) {
            break;
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    char reply[512];
    ssize_t ignored = ::recv(fd, reply, sizeof reply, 0);  // the status line; then we exit
    (void)ignored;
    ::close(fd);
}

int fail(const std::string& message) {
    say(message);
    report_init_error(message);
    return 127;
}

std::string package_root() {
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        std::string path(self, static_cast<std::size_t>(n));
        auto slash = path.rfind('/');
        if (slash != std::string::npos) {
            return slash == 0 ? "/" : path.substr(0, slash);
        }
    }
    const char* task_root = std::getenv("LAMBDA_TASK_ROOT");
    return task_root != nullptr ? task_root : "";
}

}  // namespace

int main(int argc, char** argv) {
    const std::string root = package_root();
    if (root.empty() || root.size() > 1024) {
        return fail("cannot find the package root (no /proc/self/exe, no LAMBDA_TASK_ROOT)");
    }
    const std::string lib = root + "/" + layout::kLibDir;
    const std::string loader = lib + "/" + layout::kLoaderName;
    const std::string binary = root + "/" + layout::kBinary;
    for (const std::string& needed : {loader, binary}) {
        if (::access(needed.c_str(), X_OK) != 0) {
            return fail("cannot start photoflux: " + needed + ": " + std::strerror(errno) +
                        " (is this an intact `photoflux package lambda` package?)");
        }
    }

    // libvips loads its format modules from under $VIPSHOME (lambda_layout.h); the package owns
    // these settings. A fontconfig file set in the function's configuration is respected.
    ::setenv("VIPSHOME", (root + "/" + layout::kVipsHome).c_str(), 1);
    ::setenv("FONTCONFIG_FILE", (root + "/" + layout::kFontsConf).c_str(), 0);
    ::setenv("GIO_MODULE_DIR", (root + "/" + layout::kGioModuleDir).c_str(), 1);

    std::vector<std::string> args = {loader, "--library-path", lib, "--argv0", binary, binary};
    if (argc > 1) {
        for (int i = 1; i < argc; ++i) {
            args.emplace_back(argv[i]);
        }
    } else {
        args.emplace_back("function");
    }
    std::vector<char*> exec_argv;
    for (auto& a : args) {
        exec_argv.push_back(a.data());
    }
    exec_argv.push_back(nullptr);
    ::execv(loader.c_str(), exec_argv.data());
    return fail("cannot exec " + loader + ": " + std::strerror(errno));
}
