// A `photoflux serve` child process for tests that talk to it as a client would: started on a
// free port (--listen 127.0.0.1:0) with known credentials, ready once its --ready-file appears,
// stopped (SIGTERM, then SIGKILL) when the object goes away. Its output goes to a log file that
// failures can show.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace pf::test {

class ServeProcess {
public:
    // nullptr (and `error` set, with the log's tail) when serve did not become ready in time.
    static std::unique_ptr<ServeProcess> start(const std::filesystem::path& binary,
                                               const std::filesystem::path& data_dir,
                                               const std::map<std::string, std::string>& env,
                                               std::string& error);
    ~ServeProcess();
    ServeProcess(const ServeProcess&) = delete;
    ServeProcess& operator=(const ServeProcess&) = delete;

    const std::string& url() const { return url_; }  // "http://127.0.0.1:PORT"
    int port() const;
    std::string log_tail() const;

private:
    ServeProcess(pid_t pid, std::filesystem::path log) : pid_(pid), log_(std::move(log)) {}
    pid_t pid_;
    std::filesystem::path log_;
    std::string url_;
};

}  // namespace pf::test
