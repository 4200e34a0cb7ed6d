#include "app/serve_command.h"

#include "app/command_support.h"
#include "app/console_host.h"
#include "app/credentials.h"
#include "app/notify_host.h"
#include "app/pipeline_host.h"
#include "app/request_metrics.h"
#include "base/metrics.h"
#include "crypto/random.h"
#include "base/file_io.h"
#include "base/logging.h"
#include "console/console_api.h"
#include "http/server.h"
#include "s3api/s3_service.h"
#include "storage/disk_store.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <thread>

namespace pf::app {
namespace {

std::shared_ptr<spdlog::logger> logger() {
    static auto log = component_logger("serve");
    return log;
}

// The keys serve accepts: its own API key pair, and the function workers' pair (made at every
// start, never printed or stored, so a worker's key dies with the serve that made it).
class ServeCredentials : public s3api::CredentialStore {
public:
    ServeCredentials(ApiCredentials credentials, aws::SigningCredentials function)
        : credentials_(std::move(credentials)), function_(std::move(function)) {}
    std::optional<std::string> secret_for(std::string_view access_key_id) const override {
        if (access_key_id == credentials_.access_key_id) {
            return credentials_.secret_access_key;
        }
        if (access_key_id == function_.access_key_id) {
            return function_.secret_access_key;
        }
        return std::nullopt;
    }
    const aws::SigningCredentials& function() const { return function_; }

private:
    ApiCredentials credentials_;
    aws::SigningCredentials function_;
};

aws::SigningCredentials new_function_credentials() {
    constexpr std::string_view kUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    constexpr std::string_view kSecret =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    return {"PFFN" + crypto::random_string(16, kUpper), crypto::random_string(40, kSecret), ""};
}

// Everything under the reserved /_/ prefix that is not an AWS API. Health answers 200 while the
// store accepts writes, 503 with the reason when it stopped (failed fsync).
void handle_internal(const http::Request& request, http::Response& response,
                     storage::ObjectStore& store, MetricsRegistry& metrics,
                     const std::atomic<bool>& ready) {
    auto path = request.path();
    if (path == "/_/metrics") {
        std::string page = metrics.render();
        if (response.start(200, {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"},
                                 {"Cache-Control", "no-store"}},
                           page.size())) {
            (void)response.write(page);
        }
        return;
    }
    if (path == "/_/ready" && !ready.load()) {
        reply_json(response, 503, {{"status", "starting"},
                                   {"reason", "the function host and event pump are not running"}});
        return;
    }
    if (path == "/_/health" || path == "/_/ready") {
        auto writable = store.writable();
        if (!writable) {
            reply_json(response, 503,
                       {{"status", "degraded"}, {"reason", writable.error().client_message()}});
            return;
        }
        reply_json(response, 200, {{"status", "ok"}});
        return;
    }
    reply_json(response, 404, {{"error", "not found"}, {"path", std::string(path)}});
}

// The metrics label of a /_/ request: its endpoint, never the raw path (any client may request
// any path, and every distinct label value is a series kept for the life of the process).
std::string_view internal_operation(std::string_view path) {
    for (std::string_view known : {"/_/health", "/_/ready", "/_/metrics", "/_/sns/sse",
                                   "/_/sns/confirm", "/_/sns/unsubscribe", "/_/sns/resubscribe"}) {
        if (path == known) return known;
    }
    if (path.starts_with("/_/sns/") && path.ends_with(".pem")) return "/_/sns/certificate";
    return "other";
}

// The metrics label of a console request: a fixed, small set (never the raw path).
std::string_view console_operation(std::string_view path) {
    constexpr std::string_view kAssets = "/_/console/assets/";
    constexpr std::string_view kEvents = "/_/console/api/events";
    constexpr std::string_view kApi = "/_/console/api/";
    if (path.starts_with(kAssets)) return "asset";
    if (path == kEvents) return "events";
    if (path.starts_with(kApi)) return "api";
    return "page";
}

std::vector<std::string> list_setting(const std::string& text) { return s3api::split_list(text); }

s3api::S3Options s3_options(const config::ServeConfig& serve) {
    s3api::S3Options options;
    options.region = serve.region;
    options.addressing.virtual_host_domains = list_setting(serve.virtual_host_domains);
    options.cors.allowed_origins = list_setting(serve.cors_allowed_origins);
    options.cors.allowed_methods = list_setting(serve.cors_allowed_methods);
    options.cors.allowed_headers = list_setting(serve.cors_allowed_headers);
    options.cors.expose_headers = list_setting(serve.cors_expose_headers);
    options.cors.max_age_seconds = serve.cors_max_age_seconds;
    for (auto& bucket : list_setting(serve.public_read_buckets)) {
        options.public_read_buckets.insert(bucket);
    }
    options.max_object_bytes = serve.max_object_bytes;
    options.auth.max_clock_skew = serve.max_clock_skew;
    return options;
}

std::string display_host(const std::string& host) {
    if (host == "0.0.0.0" || host.empty()) return "127.0.0.1";
    if (host == "::") return "[::1]";
    if (host.find(':') != std::string::npos) return "[" + host + "]";
    return host;
}

// Each connection holds four descriptors (socket, epoll, eventfd, timerfd); Debian's default soft
// limit of 1024 would cap serve near 250 connections, so the soft limit is raised toward the hard.
void raise_descriptor_limit(std::size_t max_connections) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        return;
    }
    rlim_t wanted = static_cast<rlim_t>(4 * max_connections + 256);
    if (limit.rlim_cur < wanted) {
        limit.rlim_cur = std::min(wanted, limit.rlim_max);
        if (::setrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < wanted) {
            logger()->warn("descriptor limit {} is below the {} that {} connections need",
                           limit.rlim_cur, wanted, max_connections);
        }
    }
}

void print_banner(const std::string& url, const config::ServeConfig& serve,
                  const std::filesystem::path& data_dir, const ApiCredentials& credentials,
                  bool print_secret, const std::vector<std::string>& rules, bool show_console) {
    bool show = print_secret || credentials.source == ApiCredentials::Source::Generated;
    std::string secret_note;
    switch (credentials.source) {
    case ApiCredentials::Source::Generated:
        secret_note = "(generated now, kept in " + credentials.file.string() + ")";
        break;
    case ApiCredentials::Source::File:
        secret_note = "(kept in " + credentials.file.string() + ")";
        break;
    case ApiCredentials::Source::Environment: secret_note = "(from PHOTOFLUX_SECRET_ACCESS_KEY)"; break;
    case ApiCredentials::Source::Config: secret_note = "(from the config file)"; break;
    }
    std::string secret = show ? credentials.secret_access_key : "<secret " + secret_note + ">";
    std::string bucket = serve.default_bucket.empty() ? "BUCKET" : serve.default_bucket;
    std::cout << "Photoflux is serving the S3 API at " << url << "\n";
    if (!serve.tls_certificate_file.empty()) {
        std::cout << "  tls:           " << serve.tls_certificate_file
                  << " (clients that do not trust it: aws --ca-bundle FILE)\n";
    }
    std::cout << "  data:          " << data_dir.string() << "\n"
              << "  bucket:        " << bucket << "\n"
              << "  access key id: " << credentials.access_key_id << "\n"
              << "  secret key:    " << (show ? credentials.secret_access_key + "  " + secret_note : secret)
              << "\n";
    if (show_console) {
        std::cout << "  console:       " << url << console::kConsolePath
                  << " (sign in with the access key id and secret)\n";
    }
    std::cout << "  try:           AWS_ACCESS_KEY_ID=" << credentials.access_key_id
              << " AWS_SECRET_ACCESS_KEY=" << (show ? credentials.secret_access_key : "...")
              << " aws --endpoint-url " << url << " s3 cp photo.jpg s3://" << bucket << "/"
              << serve.function_trigger_prefix << "\n";
    for (const auto& rule : rules) {
        std::cout << "  events:        " << rule << "\n";
    }
    if (!serve.function_name.empty()) {
        std::cout << "  function:      " << serve.function_name << " writes to s3://"
                  << (serve.function_output_bucket.empty() ? "<bucket>" : serve.function_output_bucket)
                  << "/" << serve.function_output_prefix << "<key>/";
        if (!serve.function_topic.empty()) {
            std::cout << ", announces on topic " << serve.function_topic << " (watch: curl -N -u "
                      << credentials.access_key_id << ":... '" << url
                      << "/_/sns/sse?TopicArn=arn:aws:sns:" << serve.region << ":000000000000:"
                      << serve.function_topic << "')";
        }
        std::cout << "\n";
    }
    std::cout
              << "Stop with Ctrl-C (in-flight requests finish first)." << std::endl;
}

}  // namespace

void add_serve_options(CLI::App& command, ServeOptions& options) {
    command.add_option("--data-dir", options.data_dir, "Where objects and the index are kept "
                                                       "(default: serve.data_dir, ./photoflux-data)");
    command.add_option("--listen", options.listen, "HOST:PORT to listen on (default 127.0.0.1:9000; "
                                                   "port 0 picks a free one)");
    command.add_option("--ready-file", options.ready_file,
                       "Write the base URL to this file once requests are accepted");
    command.add_flag("--print-credentials", options.print_credentials,
                     "Print the secret key in the start-up banner even when it was not just "
                     "generated");
}

int run_serve(const ServeOptions& options, config::Config config, const config::Environment& env) {
    auto& serve = config.serve;
    if (!options.data_dir.empty()) serve.data_dir = options.data_dir;
    if (!options.listen.empty()) serve.listen = options.listen;

    auto colon = serve.listen.rfind(':');
    std::string host = serve.listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    int port = std::atoi(serve.listen.c_str() + colon + 1);
    if (colon == std::string::npos || port < 0 || port > 65535) {
        std::cerr << "photoflux serve: --listen must be HOST:PORT, got " << serve.listen << "\n";
        return 2;
    }
    std::optional<http::ServerTls> tls;
    if (!serve.tls_certificate_file.empty() || !serve.tls_key_file.empty()) {
        if (serve.tls_certificate_file.empty() || serve.tls_key_file.empty()) {
            std::cerr << "photoflux serve: TLS needs both serve.tls.certificate_file "
                         "(PF_SERVE_TLS_CERTIFICATE_FILE) and serve.tls.key_file "
                         "(PF_SERVE_TLS_KEY_FILE); only "
                      << (serve.tls_certificate_file.empty() ? "the key file" : "the certificate file")
                      << " is set\n";
            return 2;
        }
        tls = http::ServerTls{serve.tls_certificate_file, serve.tls_key_file};
    }

    std::error_code ec;
    std::filesystem::path data_dir = std::filesystem::absolute(serve.data_dir, ec);
    std::filesystem::create_directories(data_dir, ec);
    if (ec) {
        std::cerr << "photoflux serve: cannot create the data directory " << data_dir << ": "
                  << ec.message() << "\n";
        return 2;
    }
    ::chmod(data_dir.c_str(), 0700);

    // Signals are taken by one thread (sigwait); every thread created after this inherits the
    // mask, so no request thread is ever interrupted by them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    storage::DiskStoreOptions store_options;
    store_options.root = data_dir;
    store_options.min_free_bytes = serve.min_free_disk_bytes;
    auto store = storage::DiskStore::open(store_options);
    if (!store) {
        std::cerr << "photoflux serve: cannot open the store in " << data_dir << ": "
                  << store.error().message << "\n";
        return 2;
    }
    bool default_bucket_created = false;
    if (!serve.default_bucket.empty()) {
        auto buckets = (*store)->list_buckets();
        if (buckets && buckets->empty()) {
            if (auto created = (*store)->create_bucket(serve.default_bucket, serve.region); !created) {
                std::cerr << "photoflux serve: cannot create bucket " << serve.default_bucket << ": "
                          << created.error().message << "\n";
                return 2;
            }
            default_bucket_created = true;
        }
    }

    auto credentials = resolve_credentials(serve, env, data_dir);
    if (!credentials) {
        std::cerr << "photoflux serve: " << credentials.error().message << "\n";
        return 2;
    }
    ServeCredentials credential_store(*credentials, new_function_credentials());
    auto secret_for = [&credential_store](std::string_view key) {
        return credential_store.secret_for(key);
    };
    storage::ObjectStore& store_ref = **store;
    // Declared before the hosts it reports on, so it is destroyed after them: their observers
    // call into it until they stop.
    std::unique_ptr<console::ConsoleApi> console;

    // The function's topic exists from the start (zero config: photo-events).
    if (!serve.function_topic.empty() &&
        std::none_of(serve.notify_topics.begin(), serve.notify_topics.end(),
                     [&](const config::NotifyTopicConfig& t) { return t.name == serve.function_topic; })) {
        serve.notify_topics.push_back({serve.function_topic, {}, {}});
    }
    auto notify = NotifyHost::open(serve, data_dir, secret_for);
    if (!notify) {
        std::cerr << "photoflux serve: cannot start notifications: " << notify.error().message
                  << "\n";
        return 2;
    }
    NotifyHost& notify_ref = **notify;

    MetricsRegistry metrics;
    notify_ref.register_metrics(metrics);
    PipelineHost::Inputs pipeline_inputs;
    pipeline_inputs.serve = &serve;
    pipeline_inputs.imaging = &config.imaging;
    pipeline_inputs.data_dir = data_dir;
    pipeline_inputs.store = store->get();
    pipeline_inputs.notify = &notify_ref;
    pipeline_inputs.metrics = &metrics;
    pipeline_inputs.executable = own_executable();
    pipeline_inputs.function_credentials = credential_store.function();
    pipeline_inputs.secret_for = secret_for;
    auto pipeline = PipelineHost::open(std::move(pipeline_inputs), default_bucket_created);
    if (!pipeline) {
        std::cerr << "photoflux serve: " << pipeline.error().message << "\n";
        return 2;
    }
    PipelineHost& pipeline_ref = **pipeline;

    auto s3_opts = s3_options(serve);
    s3_opts.check_destination = [&pipeline_ref](events::DestinationKind kind, const std::string& arn) {
        return pipeline_ref.destination_exists(kind, arn);
    };
    s3_opts.notification_configured = [&pipeline_ref](const std::string& bucket,
                                                      const events::NotificationConfiguration& c,
                                                      const std::string& request_id) {
        pipeline_ref.notification_configured(bucket, c, request_id);
    };
    s3api::S3Service s3(**store, credential_store, s3_opts);

    // The web console (docs/console.md): a client of the same services (app/console_host).
    std::string endpoint_url;  // set once the server listens, before it serves a request
    if (serve.console_enabled) {
        ConsoleWiring wiring{serve, tls.has_value(), data_dir, store_ref, *credentials, notify_ref,
                             pipeline_ref, [&endpoint_url] { return endpoint_url; }};
        console = open_console(wiring);
    }
    RequestMetrics request_metrics(metrics);
    std::atomic<bool> ready{false};

    raise_descriptor_limit(static_cast<std::size_t>(serve.max_connections));
    http::ServerLimits limits;
    limits.max_connections = static_cast<std::size_t>(serve.max_connections);
    limits.header_timeout = serve.header_timeout;
    limits.idle_timeout = serve.idle_timeout;
    limits.body_progress_timeout = serve.body_timeout;
    limits.write_timeout = serve.body_timeout;
    limits.shutdown_grace = serve.shutdown_grace;
    auto server = http::Server::listen(
        host, static_cast<std::uint16_t>(port), limits,
        [&](const http::Request& request, http::RequestBody& body, http::Response& response) {
            if (console && console::ConsoleApi::is_console_path(request.path())) {
                request_metrics.observe("console", console_operation(request.path()), body,
                                        response, [&](http::RequestBody& b, http::Response& r) {
                                            console->handle(request, b, r);
                                        });
                return;
            }
            if (request.path().starts_with("/_/lambda/")) {
                request_metrics.observe("lambda", "DeadLetters", body, response,
                                        [&](http::RequestBody& b, http::Response& r) {
                                            pipeline_ref.handle_lambda_api(request, b, r);
                                        });
                return;
            }
            if (request.path().starts_with("/_/") || request.path() == "/_") {
                request_metrics.observe("internal", internal_operation(request.path()), body, response,
                                        [&](http::RequestBody&, http::Response& r) {
                                            if (!notify_ref.handle_link(request, r)) {
                                                handle_internal(request, r, store_ref, metrics, ready);
                                            }
                                        });
                return;
            }
            // One port for S3, SNS and Lambda, told apart as AWS clients expect with one endpoint
            // URL: by the service their SigV4 credential scope names.
            if (NotifyHost::is_sns_request(request)) {
                request_metrics.observe("sns", "Query", body, response,
                                        [&](http::RequestBody& b, http::Response& r) {
                                            notify_ref.handle_api(request, b, r);
                                        });
                return;
            }
            if (PipelineHost::is_lambda_request(request)) {
                request_metrics.observe("lambda", "Invoke", body, response,
                                        [&](http::RequestBody& b, http::Response& r) {
                                            pipeline_ref.handle_lambda_api(request, b, r);
                                        });
                return;
            }
            // A browser opening the root URL gets the console; S3 clients sign their requests
            // and still get ListBuckets.
            if (console && console::ConsoleApi::is_browser_root_request(request)) {
                request_metrics.observe("console", "page", body, response,
                                        [&](http::RequestBody&, http::Response& r) {
                                            console::ConsoleApi::redirect_to_console(r);
                                        });
                return;
            }
            // The operation is known once S3Service parsed the address: the label is read after.
            std::string_view operation = "Invalid";
            request_metrics.observe("s3", [&] { return operation; }, body, response,
                                    [&](http::RequestBody& b, http::Response& r) {
                                        s3.handle(request, b, r, &operation);
                                    });
        },
        tls);
    if (!server) {
        if (tls && server.error().code == ErrorCode::InvalidArgument) {
            std::cerr << "photoflux serve: " << server.error().message << "\n";  // names the file
        } else {
            std::cerr << "photoflux serve: cannot listen on " << serve.listen << ": "
                      << server.error().message << "\n";
        }
        return 2;
    }
    std::string url = std::string(tls ? "https://" : "http://") + display_host(host) + ":" +
                      std::to_string((*server)->port());

    endpoint_url = url;
    std::thread signal_thread([&signals, &ready, srv = server->get(), notify_streams = &notify_ref,
                               pipeline = &pipeline_ref, console_streams = console.get()] {
        int received = 0;
        sigwait(&signals, &received);
        ready = false;  // /_/ready answers 503 from now on: load balancers stop sending work
        logger()->info("signal={} stopping: running invocations finish, then in-flight requests",
                       received);
        // The function host first, while the API still answers its workers: a running
        // invocation finishes its writes instead of failing (and spending a retry).
        pipeline->stop();
        // Event streams never finish by themselves: end them first (and refuse new ones), so
        // run() can return once the other in-flight requests are done.
        notify_streams->close_streams();
        if (console_streams) console_streams->close_streams();
        srv->stop();
        sigwait(&signals, &received);
        logger()->warn("second signal={}: exiting without waiting", received);
        std::_Exit(1);
    });
    signal_thread.detach();

    notify_ref.start(url);  // before the ready file: links minted from now on need the URL
    if (auto started = pipeline_ref.start(url); !started) {
        std::cerr << "photoflux serve: cannot start the function host: "
                  << started.error().message << "\n";
        (*server)->stop();
        notify_ref.stop();
        if (console) console->close_streams();
        return 2;
    }
    ready = true;
    print_banner(url, serve, data_dir, *credentials, options.print_credentials,
                 pipeline_ref.describe_rules(serve.default_bucket), console != nullptr);
    if (!options.ready_file.empty()) {
        if (auto written = write_file_atomic(options.ready_file, url + "\n"); !written) {
            std::cerr << "photoflux serve: cannot write the ready file: " << written.error().message
                      << "\n";
            return 2;
        }
    }
    logger()->info("listening url={} data_dir={}", url, data_dir.string());
    (*server)->run();
    ready = false;
    pipeline_ref.stop();
    notify_ref.stop();
    if (console) console->close_streams();
    logger()->info("stopped");
    return 0;
}

}  // namespace pf::app
