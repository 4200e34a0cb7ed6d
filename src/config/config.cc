#include "config/config.h"

#include "base/file_io.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string_view>
#include <vector>

namespace pf::config {
namespace {

// One row per setting: where it lives in the YAML file, its environment variable, what it means,
// and how to read it. The loader and describe_settings() both walk this table.
struct Setting {
    std::string_view path;  // dotted YAML path
    std::string_view env;
    std::string_view description;
    std::function<std::string(const Config&)> current;
    // Returns an error message, or empty on success. Empty for a structured setting (a list read
    // by its own parser, file only: env is empty too).
    std::function<std::string(Config&, const std::string&)> assign;
};

template <typename Int>
std::string parse_int(const std::string& text, Int min, Int max, Int& out) {
    Int value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
        return "must be a whole number";
    }
    if (value < min || value > max) {
        return "must be between " + std::to_string(min) + " and " + std::to_string(max);
    }
    out = value;
    return {};
}

// Builders for the common kinds of setting, so each row of the table says only what differs.
bool is_region_name(const std::string& v) {
    if (v.empty() || v.size() > 64) return false;
    for (char c : v) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    return true;
}

// "" when `url` is empty or http(s)://host[:port][/path] without user info, query or fragment;
// else what is wrong.
std::string check_endpoint_url(const std::string& url) {
    if (url.empty()) return {};
    if (url.size() > 2048) return "must be at most 2048 characters";
    std::string_view rest = url;
    if (rest.starts_with("https://")) {
        rest.remove_prefix(8);
    } else if (rest.starts_with("http://")) {
        rest.remove_prefix(7);
    } else {
        return "must start with http:// or https://";
    }
    for (char c : url) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
            return "must not contain spaces or control characters";
        }
    }
    if (rest.find_first_of("?#") != std::string_view::npos) {
        return "must not have a query or fragment";
    }
    std::string_view authority = rest.substr(0, rest.find('/'));
    if (authority.find('@') != std::string_view::npos) {
        return "must not carry user information (credentials go in their own settings)";
    }
    std::string_view host = authority;
    if (auto close = authority.rfind(']'); authority.starts_with('[')) {
        if (close == std::string_view::npos) return "has an unterminated IPv6 address";
        host = authority.substr(0, close + 1);
        authority.remove_prefix(close + 1);
    } else {
        auto colon = authority.find(':');
        host = authority.substr(0, colon);
        authority = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
    }
    if (host.empty()) return "must name a host";
    if (!authority.empty()) {
        if (authority[0] != ':' || authority.size() < 2) return "has a malformed port";
        int port = 0;
        if (auto err = parse_int<int>(std::string(authority.substr(1)), 1, 65535, port);
            !err.empty()) {
            return "port " + err;
        }
    }
    return {};
}

Setting text_setting(std::string_view path, std::string_view env, std::string_view description,
                     std::string ServeConfig::*member) {
    return {path, env, description,
            [member](const Config& c) { return c.serve.*member; },
            [member](Config& c, const std::string& v) {
                c.serve.*member = v;
                return std::string();
            }};
}

Setting millis_setting(std::string_view path, std::string_view env, std::string_view description,
                       std::chrono::milliseconds ServeConfig::*member, long long min,
                       long long max) {
    return {path, env, description,
            [member](const Config& c) { return std::to_string((c.serve.*member).count()); },
            [member, min, max](Config& c, const std::string& v) {
                long long ms = 0;
                auto err = parse_int<long long>(v, min, max, ms);
                if (err.empty()) {
                    c.serve.*member = std::chrono::milliseconds(ms);
                }
                return err;
            }};
}

Setting int_setting(std::string_view path, std::string_view env, std::string_view description,
                    int ServeConfig::*member, int min, int max) {
    return {path, env, description,
            [member](const Config& c) { return std::to_string(c.serve.*member); },
            [member, min, max](Config& c, const std::string& v) {
                return parse_int<int>(v, min, max, c.serve.*member);
            }};
}

Setting bool_setting(std::string_view path, std::string_view env, std::string_view description,
                     bool ServeConfig::*member) {
    return {path, env, description,
            [member](const Config& c) { return std::string(c.serve.*member ? "true" : "false"); },
            [member](Config& c, const std::string& v) -> std::string {
                if (v == "true" || v == "yes" || v == "on" || v == "1") {
                    c.serve.*member = true;
                } else if (v == "false" || v == "no" || v == "off" || v == "0") {
                    c.serve.*member = false;
                } else {
                    return "must be true or false";
                }
                return {};
            }};
}

const std::vector<Setting>& settings() {
    static const std::vector<Setting> table = {
        {"imaging.limits.max_input_bytes", "PF_IMAGING_MAX_INPUT_BYTES",
         "largest source photo accepted, in bytes",
         [](const Config& c) { return std::to_string(c.imaging.limits.max_input_bytes); },
         [](Config& c, const std::string& v) {
             return parse_int<std::uint64_t>(v, 1, 1ull << 40, c.imaging.limits.max_input_bytes);
         }},
        {"imaging.limits.max_pixels", "PF_IMAGING_MAX_PIXELS",
         "largest width x height accepted, checked from the header before decoding",
         [](const Config& c) { return std::to_string(c.imaging.limits.max_pixels); },
         [](Config& c, const std::string& v) {
             return parse_int<std::uint64_t>(v, 1, 1ull << 36, c.imaging.limits.max_pixels);
         }},
        {"imaging.limits.max_frames", "PF_IMAGING_MAX_FRAMES",
         "most frames/pages an input may declare (animated GIF, multi-page TIFF)",
         [](const Config& c) { return std::to_string(c.imaging.limits.max_frames); },
         [](Config& c, const std::string& v) {
             return parse_int<int>(v, 1, 100000, c.imaging.limits.max_frames);
         }},
        {"imaging.limits.max_output_dimension", "PF_IMAGING_MAX_OUTPUT_DIMENSION",
         "widest or tallest derivative, in pixels",
         [](const Config& c) { return std::to_string(c.imaging.limits.max_output_dimension); },
         [](Config& c, const std::string& v) {
             return parse_int<int>(v, 16, 65500, c.imaging.limits.max_output_dimension);
         }},
        {"imaging.limits.time_budget_ms", "PF_IMAGING_TIME_BUDGET_MS",
         "time one photo may take, all outputs included, in milliseconds",
         [](const Config& c) { return std::to_string(c.imaging.limits.time_budget.count()); },
         [](Config& c, const std::string& v) {
             long long ms = 0;
             auto err = parse_int<long long>(v, 100, 3'600'000, ms);
             if (err.empty()) {
                 c.imaging.limits.time_budget = std::chrono::milliseconds(ms);
             }
             return err;
         }},
        {"imaging.limits.fail_on", "PF_IMAGING_FAIL_ON",
         "how damaged an input may be before it is refused: none, truncated, error, warning",
         [](const Config& c) { return std::string(to_string(c.imaging.limits.fail_on)); },
         [](Config& c, const std::string& v) -> std::string {
             for (FailOn f : {FailOn::None, FailOn::Truncated, FailOn::Error, FailOn::Warning}) {
                 if (v == to_string(f)) {
                     c.imaging.limits.fail_on = f;
                     return {};
                 }
             }
             return "must be one of none, truncated, error, warning";
         }},
        {"imaging.concurrency", "PF_IMAGING_CONCURRENCY",
         "libvips threads per photo; 0 lets the command divide the cores between its jobs",
         [](const Config& c) { return std::to_string(c.imaging.concurrency); },
         [](Config& c, const std::string& v) {
             return parse_int<int>(v, 0, 1024, c.imaging.concurrency);
         }},
        {"serve.listen", "PF_SERVE_LISTEN", "address and port of the API (host:port; port 0 = any)",
         [](const Config& c) { return c.serve.listen; },
         [](Config& c, const std::string& v) -> std::string {
             auto colon = v.rfind(':');
             if (colon == std::string::npos || colon == 0 || colon + 1 == v.size()) {
                 return "must be host:port, e.g. 127.0.0.1:9000";
             }
             int port = 0;
             if (auto err = parse_int<int>(v.substr(colon + 1), 0, 65535, port); !err.empty()) {
                 return "port " + err;
             }
             c.serve.listen = v;
             return {};
         }},
        text_setting("serve.data_dir", "PF_SERVE_DATA_DIR",
                     "where objects, the index and generated credentials are kept",
                     &ServeConfig::data_dir),
        text_setting("serve.access_key_id", "PF_SERVE_ACCESS_KEY_ID",
                     "access key of the API (empty: PHOTOFLUX_ACCESS_KEY_ID, else generated)",
                     &ServeConfig::access_key_id),
        text_setting("serve.secret_access_key", "PF_SERVE_SECRET_ACCESS_KEY",
                     "secret of the API (empty: PHOTOFLUX_SECRET_ACCESS_KEY, else generated)",
                     &ServeConfig::secret_access_key),
        text_setting("serve.region", "PF_SERVE_REGION", "the region the S3 API reports",
                     &ServeConfig::region),
        text_setting("serve.virtual_host_domains", "PF_SERVE_VIRTUAL_HOST_DOMAINS",
                     "base domains for virtual-hosted addressing (<bucket>.<domain>), comma-separated",
                     &ServeConfig::virtual_host_domains),
        text_setting("serve.default_bucket", "PF_SERVE_DEFAULT_BUCKET",
                     "bucket created on first start (empty: none)", &ServeConfig::default_bucket),
        text_setting("serve.public_read_buckets", "PF_SERVE_PUBLIC_READ_BUCKETS",
                     "buckets anyone may read without credentials, comma-separated",
                     &ServeConfig::public_read_buckets),
        text_setting("serve.cors.allowed_origins", "PF_SERVE_CORS_ALLOWED_ORIGINS",
                     "origins browsers may call the API from (* = any), comma-separated",
                     &ServeConfig::cors_allowed_origins),
        text_setting("serve.cors.allowed_methods", "PF_SERVE_CORS_ALLOWED_METHODS",
                     "methods allowed cross-origin, comma-separated",
                     &ServeConfig::cors_allowed_methods),
        text_setting("serve.cors.allowed_headers", "PF_SERVE_CORS_ALLOWED_HEADERS",
                     "request headers allowed cross-origin (* = any), comma-separated",
                     &ServeConfig::cors_allowed_headers),
        text_setting("serve.cors.expose_headers", "PF_SERVE_CORS_EXPOSE_HEADERS",
                     "response headers scripts may read (ETag is needed for multipart uploads)",
                     &ServeConfig::cors_expose_headers),
        {"serve.cors.max_age_seconds", "PF_SERVE_CORS_MAX_AGE_SECONDS",
         "how long browsers may cache a preflight answer",
         [](const Config& c) { return std::to_string(c.serve.cors_max_age_seconds); },
         [](Config& c, const std::string& v) {
             return parse_int<int>(v, 0, 86400, c.serve.cors_max_age_seconds);
         }},
        {"serve.limits.max_object_bytes", "PF_SERVE_MAX_OBJECT_BYTES",
         "largest single PUT, POST or part, in bytes",
         [](const Config& c) { return std::to_string(c.serve.max_object_bytes); },
         [](Config& c, const std::string& v) {
             return parse_int<std::uint64_t>(v, 1, 5ull << 30, c.serve.max_object_bytes);
         }},
        {"serve.limits.min_free_disk_bytes", "PF_SERVE_MIN_FREE_DISK_BYTES",
         "writes are refused with 503 while the data disk has less free space than this",
         [](const Config& c) { return std::to_string(c.serve.min_free_disk_bytes); },
         [](Config& c, const std::string& v) {
             return parse_int<std::uint64_t>(v, 0, 1ull << 50, c.serve.min_free_disk_bytes);
         }},
        millis_setting("serve.limits.max_clock_skew_ms", "PF_SERVE_MAX_CLOCK_SKEW_MS",
                       "largest difference between a signed request's time and the server's",
                       &ServeConfig::max_clock_skew, 1000, 7LL * 24 * 3600 * 1000),
        {"serve.limits.max_connections", "PF_SERVE_MAX_CONNECTIONS",
         "connections served at once; more are answered 503",
         [](const Config& c) { return std::to_string(c.serve.max_connections); },
         [](Config& c, const std::string& v) {
             return parse_int<int>(v, 1, 100000, c.serve.max_connections);
         }},
        millis_setting("serve.limits.header_timeout_ms", "PF_SERVE_HEADER_TIMEOUT_MS",
                       "time a client has to send a request's headers",
                       &ServeConfig::header_timeout, 100, 3'600'000),
        millis_setting("serve.limits.idle_timeout_ms", "PF_SERVE_IDLE_TIMEOUT_MS",
                       "how long an idle keep-alive connection is kept",
                       &ServeConfig::idle_timeout, 100, 3'600'000),
        millis_setting("serve.limits.body_timeout_ms", "PF_SERVE_BODY_TIMEOUT_MS",
                       "longest pause in a request body or response before the connection is dropped",
                       &ServeConfig::body_timeout, 100, 3'600'000),
        millis_setting("serve.limits.shutdown_grace_ms", "PF_SERVE_SHUTDOWN_GRACE_MS",
                       "time in-flight requests get to finish on SIGTERM",
                       &ServeConfig::shutdown_grace, 0, 3'600'000),
        text_setting("serve.tls.certificate_file", "PF_SERVE_TLS_CERTIFICATE_FILE",
                     "PEM certificate (then any intermediates) to serve https with; set together "
                     "with serve.tls.key_file (both empty: plain http)",
                     &ServeConfig::tls_certificate_file),
        text_setting("serve.tls.key_file", "PF_SERVE_TLS_KEY_FILE",
                     "unencrypted PEM private key of serve.tls.certificate_file",
                     &ServeConfig::tls_key_file),
        text_setting("serve.notify.public_url", "PF_SERVE_NOTIFY_PUBLIC_URL",
                     "base URL subscribers reach serve at, for SubscribeURL, UnsubscribeURL and "
                     "SigningCertURL (empty: the listening address)",
                     &ServeConfig::notify_public_url),
        text_setting("serve.notify.allowed_destinations", "PF_SERVE_NOTIFY_ALLOWED_DESTINATIONS",
                     "CIDRs webhooks may be delivered to although they are loopback, private or "
                     "link-local (refused by default), comma-separated",
                     &ServeConfig::notify_allowed_destinations),
        text_setting("serve.notify.smtp_url", "PF_SERVE_NOTIFY_SMTP_URL",
                     "SMTP server for email/email-json subscriptions, smtp://host:port or "
                     "smtps://host:port (empty: e-mail subscriptions are refused)",
                     &ServeConfig::notify_smtp_url),
        text_setting("serve.notify.smtp_username", "PF_SERVE_NOTIFY_SMTP_USERNAME",
                     "SMTP user name (empty: no authentication)", &ServeConfig::notify_smtp_username),
        text_setting("serve.notify.smtp_password", "PF_SERVE_NOTIFY_SMTP_PASSWORD",
                     "SMTP password", &ServeConfig::notify_smtp_password),
        text_setting("serve.notify.smtp_starttls", "PF_SERVE_NOTIFY_SMTP_STARTTLS",
                     "STARTTLS on smtp:// connections: off, try (when offered) or require",
                     &ServeConfig::notify_smtp_starttls),
        text_setting("serve.notify.smtp_from", "PF_SERVE_NOTIFY_SMTP_FROM",
                     "sender address of notification e-mails", &ServeConfig::notify_smtp_from),
        {"serve.notify.topics", "",
         "topics created at start, with subscriptions already confirmed (file only). Example:\n"
         "  - name: photos-done\n"
         "    attributes: {DisplayName: Photos, SignatureVersion: \"2\"}\n"
         "    subscriptions:\n"
         "      - {protocol: https, endpoint: \"https://hooks.example.com/photoflux\", raw: false,\n"
         "         filter_policy: '{\"kind\":[\"thumb\"]}'}\n"
         "      - {protocol: email, endpoint: ops@example.com}\n"
         "attributes: DisplayName, DeliveryPolicy, Policy, SignatureVersion; subscriptions:\n"
         "protocol (http, https, email, email-json), endpoint, raw, filter_policy,\n"
         "filter_policy_scope, delivery_policy (policies as JSON strings or mappings)",
         [](const Config&) { return std::string("[]"); }, nullptr},
        bool_setting("serve.console.enabled", "PF_SERVE_CONSOLE_ENABLED",
                     "serve the web console at /_/console/ (a browser opening / is sent there)",
                     &ServeConfig::console_enabled),
        {"serve.console.users", "",
         "people who may sign in to the web console besides the holder of the API key pair\n"
         "(file only; passwords of at least 8 characters, names unique). Example:\n"
         "  - {name: alice, password: \"correct horse battery\"}",
         [](const Config&) { return std::string("[]"); }, nullptr},
        text_setting("serve.function.name", "PF_SERVE_FUNCTION_NAME",
                     "name of the photo function (its ARN is arn:aws:lambda:<region>:000000000000:"
                     "function:<name>)",
                     &ServeConfig::function_name),
        int_setting("serve.function.workers", "PF_SERVE_FUNCTION_WORKERS",
                    "worker processes (execution environments) running the function; 0: one per core",
                    &ServeConfig::function_workers, 0, 256),
        int_setting("serve.function.timeout_seconds", "PF_SERVE_FUNCTION_TIMEOUT_SECONDS",
                    "time one invocation may take before its worker is killed and replaced",
                    &ServeConfig::function_timeout_seconds, 1, 900),
        int_setting("serve.function.memory_mb", "PF_SERVE_FUNCTION_MEMORY_MB",
                    "memory the function is told it has (AWS_LAMBDA_FUNCTION_MEMORY_SIZE)",
                    &ServeConfig::function_memory_mb, 128, 10240),
        int_setting("serve.function.max_retry_attempts", "PF_SERVE_FUNCTION_MAX_RETRY_ATTEMPTS",
                    "retries of a failed invocation, as Lambda's MaximumRetryAttempts",
                    &ServeConfig::function_max_retry_attempts, 0, 2),
        int_setting("serve.function.max_event_age_seconds", "PF_SERVE_FUNCTION_MAX_EVENT_AGE_SECONDS",
                    "an event older than this is not tried again (Lambda's MaximumEventAgeInSeconds)",
                    &ServeConfig::function_max_event_age_seconds, 60, 21600),
        millis_setting("serve.function.retry_delay_ms", "PF_SERVE_FUNCTION_RETRY_DELAY_MS",
                       "wait before the first retry; the second waits twice as long (Lambda: about "
                       "1 and 2 minutes)",
                       &ServeConfig::function_retry_delay, 10, 3'600'000),
        int_setting("serve.function.reserved_concurrency", "PF_SERVE_FUNCTION_RESERVED_CONCURRENCY",
                    "most invocations running at once; 0: as many as there are workers",
                    &ServeConfig::function_reserved_concurrency, 0, 256),
        text_setting("serve.function.recipe_file", "PF_SERVE_FUNCTION_RECIPE_FILE",
                     "recipe the function applies (empty: the built-in thumbnail + preview recipe)",
                     &ServeConfig::function_recipe_file),
        text_setting("serve.function.output_bucket", "PF_SERVE_FUNCTION_OUTPUT_BUCKET",
                     "bucket derivatives and manifests go to (empty: the photo's own bucket)",
                     &ServeConfig::function_output_bucket),
        text_setting("serve.function.output_prefix", "PF_SERVE_FUNCTION_OUTPUT_PREFIX",
                     "derivatives of KEY go under <output_prefix>KEY/; keep it outside the trigger "
                     "prefix",
                     &ServeConfig::function_output_prefix),
        text_setting("serve.function.topic", "PF_SERVE_FUNCTION_TOPIC",
                     "topic the function publishes photo.processed / photo.failed to (created at "
                     "start; empty: no messages)",
                     &ServeConfig::function_topic),
        bool_setting("serve.function.delete_derivatives", "PF_SERVE_FUNCTION_DELETE_DERIVATIVES",
                     "deleting a photo deletes its derivatives and manifest",
                     &ServeConfig::function_delete_derivatives),
        text_setting("serve.function.trigger_prefix", "PF_SERVE_FUNCTION_TRIGGER_PREFIX",
                     "uploads under this prefix of the default bucket trigger the function (the rule "
                     "installed when serve creates the bucket)",
                     &ServeConfig::function_trigger_prefix),
        text_setting("serve.function.trigger_suffix", "PF_SERVE_FUNCTION_TRIGGER_SUFFIX",
                     "and end with this suffix (empty: any)", &ServeConfig::function_trigger_suffix),
        {"serve.notifications", "",
         "bucket notification rules put in place at every start (file only); the file wins over\n"
         "PutBucketNotificationConfiguration for the buckets it names. Example:\n"
         "  - bucket: photos\n"
         "    id: thumbnails\n"
         "    function: process-photo          # or  topic: uploads-audit\n"
         "                                     # or  queue: arn:aws:sqs:us-east-1:111122223333:jobs\n"
         "    events: [\"s3:ObjectCreated:*\", \"s3:ObjectRemoved:*\"]\n"
         "    prefix: uploads/\n"
         "    suffix: .jpg",
         [](const Config&) { return std::string("[]"); }, nullptr},
        {"serve.sqs.endpoint_url", "PF_SERVE_SQS_ENDPOINT_URL",
         "SQS endpoint queue destinations are sent to, http(s)://host[:port] (empty: AWS's "
         "regional endpoint of the queue ARN's region)",
         [](const Config& c) { return c.serve.sqs_endpoint_url; },
         [](Config& c, const std::string& v) -> std::string {
             if (auto err = check_endpoint_url(v); !err.empty()) return err;
             c.serve.sqs_endpoint_url = v;
             return {};
         }},
        {"serve.sqs.region", "PF_SERVE_SQS_REGION",
         "region SQS requests are signed for (empty: the queue ARN's region)",
         [](const Config& c) { return c.serve.sqs_region; },
         [](Config& c, const std::string& v) -> std::string {
             if (!v.empty() && !is_region_name(v)) {
                 return "must be a region name (lowercase letters, digits, '-'), e.g. us-east-1";
             }
             c.serve.sqs_region = v;
             return {};
         }},
        text_setting("serve.sqs.access_key_id", "PF_SERVE_SQS_ACCESS_KEY_ID",
                     "access key serve signs SQS requests with (empty: AWS_ACCESS_KEY_ID of "
                     "serve's environment)",
                     &ServeConfig::sqs_access_key_id),
        text_setting("serve.sqs.secret_access_key", "PF_SERVE_SQS_SECRET_ACCESS_KEY",
                     "its secret (empty: AWS_SECRET_ACCESS_KEY)",
                     &ServeConfig::sqs_secret_access_key),
        text_setting("serve.sqs.session_token", "PF_SERVE_SQS_SESSION_TOKEN",
                     "session token of temporary credentials (empty: AWS_SESSION_TOKEN when the "
                     "key pair comes from the environment, else none)",
                     &ServeConfig::sqs_session_token),
    };
    return table;
}

// The settings that only make sense together, checked once everything is read.
void check_combinations(const Config& c, std::vector<std::string>& problems) {
    const auto& s = c.serve;
    if (s.sqs_access_key_id.empty() != s.sqs_secret_access_key.empty()) {
        problems.push_back("serve.sqs: access_key_id and secret_access_key go together (set both, "
                           "or neither to use the AWS_* environment)");
    }
    if (!s.sqs_session_token.empty() && s.sqs_access_key_id.empty()) {
        problems.push_back("serve.sqs.session_token: needs serve.sqs.access_key_id and "
                           "secret_access_key");
    }
    for (const auto& pair : {s.sqs_access_key_id, s.sqs_secret_access_key, s.sqs_session_token}) {
        if (pair.size() > 4096) {
            problems.push_back("serve.sqs: a credential is longer than 4096 characters");
            break;
        }
    }
}

YAML::Node find(const YAML::Node& root, std::string_view dotted) {
    YAML::Node node = YAML::Clone(root);
    std::size_t start = 0;
    while (start <= dotted.size()) {
        auto end = dotted.find('.', start);
        std::string key(dotted.substr(start, end == std::string_view::npos ? end : end - start));
        if (!node.IsMap() || !node[key]) {
            return YAML::Node(YAML::NodeType::Undefined);
        }
        node = node[key];
        if (end == std::string_view::npos) {
            break;
        }
        start = end + 1;
    }
    return node;
}

// Lists keys in the file that no setting claims (likely typos).
void unknown_keys(const YAML::Node& node, const std::string& prefix,
                  std::vector<std::string>& problems) {
    if (!node.IsMap()) {
        return;
    }
    for (const auto& item : node) {
        std::string path = prefix.empty() ? item.first.Scalar() : prefix + "." + item.first.Scalar();
        bool known_leaf = false, known_branch = false;
        for (const auto& s : settings()) {
            known_leaf = known_leaf || s.path == path;
            known_branch = known_branch || s.path.substr(0, path.size() + 1) == path + ".";
        }
        if (known_branch) {
            unknown_keys(item.second, path, problems);
        } else if (!known_leaf) {
            problems.push_back(path + ": unknown setting");
        }
    }
}

constexpr std::size_t kMaxConsoleUsers = 100;
constexpr std::size_t kMaxConsoleUserName = 64;
constexpr std::size_t kMinConsolePassword = 8;
constexpr std::size_t kMaxConsolePassword = 1024;

// serve.console.users: a list of {name, password}. Every problem is listed; a password is never
// quoted in a message.
void parse_console_users(const YAML::Node& node, const std::string& path,
                         std::vector<ConsoleUserConfig>& out, std::vector<std::string>& problems) {
    if (!node || node.IsNull()) return;
    if (!node.IsSequence()) {
        problems.push_back(path + ": must be a list of users ({name, password})");
        return;
    }
    if (node.size() > kMaxConsoleUsers) {
        problems.push_back(path + ": at most " + std::to_string(kMaxConsoleUsers) +
                           " users, not " + std::to_string(node.size()));
        return;
    }
    std::map<std::string, std::size_t> seen;  // name -> first index
    for (std::size_t i = 0; i < node.size(); ++i) {
        const std::string where = path + "[" + std::to_string(i) + "]";
        const YAML::Node item = node[i];
        if (!item.IsMap()) {
            problems.push_back(where + ": must be a mapping (name, password)");
            continue;
        }
        for (const auto& entry : item) {
            auto key = entry.first.as<std::string>("");
            if (key != "name" && key != "password") {
                problems.push_back(where + "." + key + ": unknown setting (known: name, password)");
            }
        }
        auto scalar = [&](const char* name) -> std::optional<std::string> {
            YAML::Node value = item[name];
            if (!value || value.IsNull()) {
                problems.push_back(where + "." + name + ": missing");
                return std::nullopt;
            }
            if (!value.IsScalar()) {
                problems.push_back(where + "." + name + ": must be a single value");
                return std::nullopt;
            }
            return value.Scalar();
        };
        auto name = scalar("name");
        auto password = scalar("password");
        bool valid = name && password;
        if (name) {
            bool printable = !name->empty();
            for (char c : *name) {
                auto u = static_cast<unsigned char>(c);
                printable = printable && u > 0x20 && u != 0x7f;
            }
            if (!printable || name->size() > kMaxConsoleUserName) {
                problems.push_back(where + ".name: must be 1 to " +
                                   std::to_string(kMaxConsoleUserName) +
                                   " characters without spaces or control characters");
                valid = false;
            } else if (auto [it, fresh] = seen.emplace(*name, i); !fresh) {
                problems.push_back(where + ".name: " + *name + " is already the name of " + path +
                                   "[" + std::to_string(it->second) + "]");
                valid = false;
            }
        }
        if (password) {
            if (password->size() < kMinConsolePassword) {
                problems.push_back(where + ".password: must be at least " +
                                   std::to_string(kMinConsolePassword) + " characters");
                valid = false;
            } else if (password->size() > kMaxConsolePassword) {
                problems.push_back(where + ".password: must be at most " +
                                   std::to_string(kMaxConsolePassword) + " characters");
                valid = false;
            }
        }
        if (valid) {
            out.push_back({*name, *password});
        }
    }
}

}  // namespace

const char* to_string(FailOn level) {
    switch (level) {
    case FailOn::None: return "none";
    case FailOn::Truncated: return "truncated";
    case FailOn::Error: return "error";
    case FailOn::Warning: return "warning";
    }
    return "error";
}

Result<Config> load_config(const std::optional<std::filesystem::path>& file,
                           const Environment& env) {
    Config config;
    std::vector<std::string> problems;
    if (file) {
        auto text = read_file(*file, 1 << 20);
        if (!text) {
            return make_error(ErrorCode::InvalidArgument,
                              "cannot read config file: " + text.error().message);
        }
        YAML::Node root;
        try {
            root = YAML::Load(*text);
        } catch (const YAML::Exception& e) {
            return make_error(ErrorCode::InvalidArgument,
                              "config file " + file->string() + " is not valid YAML: " + e.what());
        }
        if (!root.IsNull()) {
            unknown_keys(root, "", problems);
        }
        for (const auto& s : settings()) {
            YAML::Node value = find(root, s.path);
            if (!value || !s.assign) {
                continue;
            }
            if (!value.IsScalar()) {
                problems.push_back(std::string(s.path) + ": must be a single value");
                continue;
            }
            if (auto err = s.assign(config, value.Scalar()); !err.empty()) {
                problems.push_back(std::string(s.path) + ": " + err);
            }
        }
        parse_notify_topics(find(root, "serve.notify.topics"), "serve.notify.topics",
                            config.serve.notify_topics, problems);
        parse_bucket_notifications(find(root, "serve.notifications"), "serve.notifications",
                                   config.serve.notifications, problems);
        parse_console_users(find(root, "serve.console.users"), "serve.console.users",
                            config.serve.console_users, problems);
        config.serve.config_file = file->string();
    }
    for (const auto& s : settings()) {
        auto it = env.find(std::string(s.env));
        if (!s.assign || it == env.end()) {
            continue;
        }
        if (auto err = s.assign(config, it->second); !err.empty()) {
            problems.push_back(std::string(s.env) + ": " + err);
        }
    }
    check_combinations(config, problems);
    if (!problems.empty()) {
        std::string message = "invalid configuration:";
        for (const auto& p : problems) {
            message += "\n" + p;
        }
        return make_error(ErrorCode::InvalidArgument, message);
    }
    return config;
}

// Plain values stay plain; anything YAML could read differently ("*" is an alias, "a: b" a map,
// "" nothing) is double-quoted.
std::string yaml_scalar(const std::string& value) {
    bool plain = !value.empty();
    for (char c : value) {
        plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                          c == '-' || c == '/');
    }
    if (plain) {
        return value;
    }
    std::string quoted = "\"";
    for (char c : value) {
        if (c == '"' || c == '\\') {
            quoted += '\\';
        }
        quoted += c;
    }
    return quoted + "\"";
}

std::string describe_settings() { return describe_settings(Config{}); }

std::string describe_settings(const Config& loaded) {
    Config defaults;
    std::ostringstream out;
    out << "# Photoflux settings with their defaults. Each can also be set by the environment\n"
           "# variable named beside it, which wins over this file.\n";
    std::vector<std::string> open;  // the YAML sections currently open
    for (const auto& s : settings()) {
        std::vector<std::string> parts;
        std::string part;
        std::istringstream in{std::string(s.path)};
        while (std::getline(in, part, '.')) {
            parts.push_back(part);
        }
        std::size_t common = 0;
        while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) {
            ++common;
        }
        open.resize(common);
        for (std::size_t i = common; i + 1 < parts.size(); ++i) {
            out << std::string(2 * i, ' ') << parts[i] << ":\n";
            open.push_back(parts[i]);
        }
        std::string indent(2 * (parts.size() - 1), ' ');
        if (!s.assign) {  // a list: described line by line, shown as its (empty) default
            std::istringstream lines{std::string(s.description)};
            for (std::string line; std::getline(lines, line);) {
                out << indent << "# " << line << "\n";
            }
            if (s.path == "serve.notify.topics" && !loaded.serve.notify_topics.empty()) {
                out << indent << "# the loaded configuration declares "
                    << summarize_notify_topics(loaded.serve.notify_topics) << "\n";
            }
            if (s.path == "serve.console.users" && !loaded.serve.console_users.empty()) {
                // Names only: `photoflux config` output may be pasted anywhere.
                std::string names;
                for (const auto& u : loaded.serve.console_users) {
                    names += (names.empty() ? "" : ", ") + u.name;
                }
                out << indent << "# the loaded configuration declares "
                    << loaded.serve.console_users.size()
                    << (loaded.serve.console_users.size() == 1 ? " user: " : " users: ") << names
                    << "\n";
            }
            if (s.path == "serve.notifications" && !loaded.serve.notifications.empty()) {
                out << indent << "# the loaded configuration declares "
                    << summarize_bucket_notifications(loaded.serve.notifications) << "\n";
            }
            out << indent << parts.back() << ": " << s.current(defaults) << "\n";
            continue;
        }
        out << indent << "# " << s.description << " (" << s.env << ")\n";
        out << indent << parts.back() << ": " << yaml_scalar(s.current(defaults)) << "\n";
    }
    return out.str();
}

}  // namespace pf::config
