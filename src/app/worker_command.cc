#include "app/worker_command.h"

#include "app/command_support.h"
#include "aws/aws_environment.h"
#include "aws/sqs_client.h"
#include "base/logging.h"
#include "base/metrics.h"
#include "function/http_client_transport.h"
#include "http/server.h"
#include "lambda/function_host.h"
#include "lambda/sqs_event_source.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

namespace pf::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::shared_ptr<spdlog::logger> logger() {
    static auto log = component_logger("worker");
    return log;
}

// The worker's scratch directory: the function host's local queue holds only what is running
// now (the SQS queue is the durable one), so whatever a previous run left there is discarded —
// those messages come back from SQS. An exclusive lock keeps two workers out of one directory
// (each would run, and wait for, the other's invocations).
class ScratchDir {
public:
    static Result<ScratchDir> open(const std::string& given) {
        ScratchDir dir;
        std::error_code ec;
        if (given.empty()) {
            std::string pattern = (fs::temp_directory_path(ec) / "photoflux-worker-XXXXXX").string();
            if (::mkdtemp(pattern.data()) == nullptr) {
                return make_error(ErrorCode::Internal, "cannot create a temporary data directory "
                                                       "in " + fs::temp_directory_path(ec).string());
            }
            dir.path_ = pattern;
            dir.remove_ = true;
        } else {
            dir.path_ = fs::absolute(given, ec);
            fs::create_directories(dir.path_, ec);
            if (ec) {
                return make_error(ErrorCode::InvalidArgument,
                                  "cannot create the data directory " + dir.path_.string() + ": " +
                                      ec.message());
            }
        }
        const fs::path lock_file = dir.path_ / "worker.lock";
        dir.lock_fd_ = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (dir.lock_fd_ < 0) {
            return make_error(ErrorCode::InvalidArgument, "cannot open " + lock_file.string());
        }
        if (::flock(dir.lock_fd_, LOCK_EX | LOCK_NB) != 0) {
            return make_error(ErrorCode::InvalidArgument,
                              "the data directory " + dir.path_.string() +
                                  " is in use by another worker (give each its own --data-dir)");
        }
        fs::remove_all(dir.path_ / "lambda", ec);
        return dir;
    }
    ScratchDir() = default;
    ScratchDir(ScratchDir&& o) noexcept
        : path_(std::move(o.path_)), remove_(o.remove_), lock_fd_(std::exchange(o.lock_fd_, -1)) {
        o.remove_ = false;
    }
    ~ScratchDir() {
        if (lock_fd_ >= 0) ::close(lock_fd_);
        std::error_code ec;
        if (remove_) fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
    bool remove_ = false;
    int lock_fd_ = -1;
};

// The function's environment: Lambda's variables (function_environment) with the worker's own
// credentials, region and endpoint, plus every AWS_* (endpoints per service, CA bundle, path
// style, ...) and PF_* variable of the worker: the store and the recipe are configured once,
// the usual AWS way, for the worker and its function alike.
std::map<std::string, std::string> function_env(const config::Environment& environment,
                                                const aws::AwsEnvironment& aws,
                                                const config::ServeConfig& serve,
                                                std::size_t environments) {
    lambda::FunctionEnvironmentInputs env;
    env.function_name = serve.function_name;
    env.region = aws.region;
    env.memory_mb = serve.function_memory_mb;
    env.handler = "photoflux.process-photo";
    std::error_code ec;
    env.task_root = fs::current_path(ec).string();
    env.access_key_id = aws.credentials.access_key_id;
    env.secret_access_key = aws.credentials.secret_access_key;
    env.session_token = aws.credentials.session_token;
    if (auto it = environment.find("AWS_ENDPOINT_URL"); it != environment.end()) {
        env.endpoint_url = it->second;
    }
    if (auto it = environment.find("PATH"); it != environment.end()) env.path = it->second;
    for (const auto& [name, value] : environment) {
        const bool aws_var = name.rfind("AWS_", 0) == 0 && name.rfind("AWS_LAMBDA_", 0) != 0;
        if (aws_var || name.rfind("PF_", 0) == 0) {
            env.extra[name] = value;
        }
    }
    if (!env.extra.count("PF_VIPS_CONCURRENCY")) {
        // The cores are shared by the environments: each photo's libvips gets its share.
        const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
        env.extra["PF_VIPS_CONCURRENCY"] =
            std::to_string(std::max<std::size_t>(1, cores / std::max<std::size_t>(1, environments)));
    }
    return lambda::function_environment(env);
}

bool parse_listen(const std::string& text, std::string& host, std::uint16_t& port) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 >= text.size()) return false;
    host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    const std::string digits = text.substr(colon + 1);
    if (digits.size() > 5 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return false;
    const int value = std::stoi(digits);
    if (value > 65535) return false;
    port = static_cast<std::uint16_t>(value);
    return true;
}

}  // namespace

CLI::App* add_worker_command(CLI::App& app, WorkerOptions& options) {
    CLI::App* command = app.add_subcommand(
        "worker", "Process the S3 events of an SQS queue with the photo function (one of a fleet "
                  "of workers); the store, queue and topic come from the usual AWS_* settings");
    command->add_option("--queue", options.queue_url, "Queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)")
        ->required();
    command->add_option("--concurrency", options.concurrency,
                        "Messages processed at once, each by its own function process "
                        "(default: the machine's cores)")
        ->check(CLI::Range(0, 256));
    command->add_option("--data-dir", options.data_dir,
                        "Scratch directory of the local function host, one per worker "
                        "(default: a temporary one, removed at exit)");
    command->add_option("--metrics-listen", options.metrics_listen,
                        "HOST:PORT for /_/metrics, /_/health and /_/ready (default: none)");
    command->add_option("--visibility-timeout", options.visibility_timeout,
                        "Seconds a received message stays hidden; renewed every half of it while "
                        "its photo is processed (default 60)")
        ->check(CLI::Range(2, 43200));
    command->add_option("--function-timeout", options.function_timeout,
                        "Seconds one photo may take (default: serve.function.timeout_seconds)")
        ->check(CLI::Range(0, 900));
    command->add_option("--wait-time", options.wait_time,
                        "Long-poll seconds of each ReceiveMessage (default 20)")
        ->check(CLI::Range(1, 20));
    return command;
}

int run_worker(const WorkerOptions& options, const config::Config& config,
               const config::Environment& environment) {
    const config::ServeConfig& serve = config.serve;
    if (auto valid = lambda::validate_queue_url(options.queue_url); !valid) {
        std::cerr << "photoflux worker: --queue: " << valid.error().message << "\n";
        return 2;
    }
    auto aws = aws::AwsEnvironment::from(aws::EnvironmentMap(environment.begin(), environment.end()));
    if (!aws) {
        std::cerr << "photoflux worker: " << aws.error().message
                  << " (the worker and its function use AWS_ACCESS_KEY_ID and "
                     "AWS_SECRET_ACCESS_KEY)\n";
        return 2;
    }
    std::string metrics_host;
    std::uint16_t metrics_port = 0;
    if (!options.metrics_listen.empty() &&
        !parse_listen(options.metrics_listen, metrics_host, metrics_port)) {
        std::cerr << "photoflux worker: --metrics-listen must be HOST:PORT, got "
                  << options.metrics_listen << "\n";
        return 2;
    }
    auto scratch = ScratchDir::open(options.data_dir);
    if (!scratch) {
        std::cerr << "photoflux worker: " << scratch.error().message << "\n";
        return 2;
    }

    // Signals are taken by sigwait on this thread; every thread created from here inherits the
    // mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t concurrency =
        options.concurrency > 0 ? static_cast<std::size_t>(options.concurrency) : cores;
    const std::chrono::seconds function_timeout(
        options.function_timeout > 0 ? options.function_timeout : serve.function_timeout_seconds);

    lambda::FunctionSettings f;
    f.name = serve.function_name;
    f.argv = function_worker_argv(own_executable());
    f.environments = concurrency;
    f.timeout = function_timeout;
    f.memory_mb = serve.function_memory_mb;
    f.max_retry_attempts = 0;  // SQS redelivers: the queue's maxReceiveCount is the retry budget
    f.non_retryable_error_types = {};
    f.environment = function_env(environment, *aws, serve, concurrency);

    lambda::FunctionHostInvoker invoker(f.name);
    lambda::HostOptions host_options;
    host_options.data_dir = scratch->path();
    host_options.region = aws->region;
    host_options.functions = {f};
    host_options.keep_dead_letters = false;  // failed messages go to the queue's dead-letter queue
    host_options.stop_grace = 1s;  // the event source has drained already
    host_options.on_completion = [&invoker](const lambda::Completion& c) {
        invoker.on_completion(c);
    };
    auto host = lambda::FunctionHost::open(std::move(host_options));
    if (!host) {
        std::cerr << "photoflux worker: " << host.error().message << "\n";
        return 2;
    }
    invoker.attach(host->get());

    MetricsRegistry metrics;
    metrics.gauge_callback("photoflux_function_environments_ready",
                           "Execution environments whose runtime has polled /next.",
                           [h = host->get()] {
                               return static_cast<double>(h->stats().total().environments_ready);
                           });
    std::atomic<bool> ready{false};
    std::unique_ptr<http::Server> server;
    std::thread server_thread;
    if (!options.metrics_listen.empty()) {
        auto listening = http::Server::listen(
            metrics_host, metrics_port, http::ServerLimits{},
            [&metrics, &ready](const http::Request& request, http::RequestBody&,
                               http::Response& response) {
                const auto path = request.path();
                if (path == "/_/metrics") {
                    std::string page = metrics.render();
                    if (response.start(200,
                                       {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"},
                                        {"Cache-Control", "no-store"}},
                                       page.size())) {
                        (void)response.write(page);
                    }
                } else if (path == "/_/health") {
                    reply_json(response, 200, {{"status", "ok"}});
                } else if (path == "/_/ready") {
                    if (ready.load()) {
                        reply_json(response, 200, {{"status", "ok"}});
                    } else {
                        reply_json(response, 503, {{"status", "not_ready"},
                                                   {"reason", "starting, or stopping"}});
                    }
                } else {
                    reply_json(response, 404, {{"error", "not found"}});
                }
            });
        if (!listening) {
            std::cerr << "photoflux worker: cannot listen on " << options.metrics_listen << ": "
                      << listening.error().message << "\n";
            return 2;
        }
        server = std::move(*listening);
        server_thread = std::thread([srv = server.get()] { srv->run(); });
    }

    function::HttpClientTransportOptions transport_options;
    if (auto it = environment.find("AWS_CA_BUNDLE"); it != environment.end()) {
        transport_options.ca_file = it->second;
    }
    transport_options.user_agent = "photoflux-worker";
    function::HttpClientTransport transport(transport_options);

    lambda::SqsEventSourceOptions source_options;
    source_options.queue_url = options.queue_url;
    source_options.concurrency = concurrency;
    source_options.wait = std::chrono::seconds(options.wait_time);
    source_options.visibility_timeout = std::chrono::seconds(options.visibility_timeout);
    source_options.function_timeout = function_timeout;
    source_options.metrics = &metrics;
    lambda::SqsEventSource source(transport, aws::sqs_client_options(*aws), invoker,
                                  source_options);

    auto shut_down_http = [&] {
        if (server) server->stop();
        if (server_thread.joinable()) server_thread.join();
    };
    if (auto started = (*host)->start(); !started) {
        std::cerr << "photoflux worker: " << started.error().message << "\n";
        shut_down_http();
        return 1;
    }
    if (auto started = source.start(); !started) {
        std::cerr << "photoflux worker: " << started.error().message << "\n";
        (*host)->stop();
        shut_down_http();
        return 2;
    }
    ready = true;
    std::cout << "photoflux worker: queue " << options.queue_url << ", concurrency " << concurrency
              << ", data " << scratch->path().string();
    if (server) {
        std::cout << ", metrics http://" << options.metrics_listen.substr(
                                                0, options.metrics_listen.rfind(':'))
                  << ":" << server->port() << "/_/metrics";
    }
    std::cout << std::endl;

    int received = 0;
    sigwait(&signals, &received);
    ready = false;
    // Running invocations get the function timeout to finish, at most 30 s (a container's usual
    // termination grace); what is still running then goes back to the queue.
    const auto grace = std::min<std::chrono::milliseconds>(function_timeout, 30s);
    logger()->info("event=worker_signal signal={} grace_ms={}", received, grace.count());
    std::thread([signals]() mutable {
        int again = 0;
        sigwait(&signals, &again);
        logger()->warn("event=worker_second_signal signal={} exiting without waiting", again);
        std::_Exit(1);
    }).detach();
    source.stop(grace);
    (*host)->stop();
    shut_down_http();
    const auto stats = source.stats();
    logger()->info("event=worker_stopped received={} deleted={} failed={} released={} "
                   "test_events={} unrecognised={}",
                   stats.received, stats.deleted, stats.failed, stats.released, stats.test_events,
                   stats.unrecognised);
    return 0;
}

}  // namespace pf::app
