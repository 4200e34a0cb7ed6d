#include "app/pipeline_host.h"

#include "app/command_support.h"
#include "aws/s3_event.h"
#include "aws/time_format.h"
#include "base/logging.h"
#include "imaging/recipe_parser.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <thread>

namespace pf::app {
namespace {

std::shared_ptr<spdlog::logger> logger() {
    static auto log = component_logger("events");
    return log;
}

events::ObjectEvent to_event(const storage::ObjectChange& change) {
    events::ObjectEvent e;
    e.bucket = change.bucket;
    e.key = change.key;
    e.event_name = change.cause.event_name;
    e.size = change.size;
    e.etag = change.etag;
    e.request_id = change.cause.request_id;
    e.host_id = change.cause.host_id;
    e.source_ip = change.cause.source_ip;
    e.principal_id = change.cause.principal_id;
    e.trace_id = change.cause.trace_id;
    e.event_time_ms = change.event_time_ms;
    e.sequencer = change.sequencer;
    e.region = change.region;
    return e;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// "success", "error", "timeout", "crash": how an attempt ended, for metrics.
std::string attempt_outcome(const lambda::Completion& c) {
    if (c.outcome == lambda::CompletionOutcome::Succeeded) return "success";
    if (c.error_type == "Sandbox.Timedout") return "timeout";
    if (c.error_type == "Runtime.ExitError") return "crash";
    return "error";
}

// `text` cut to at most `max` bytes of valid UTF-8 (an invalid byte becomes '?'): error messages
// come from the function, and the console shows them as JSON strings.
std::string readable(std::string_view text, std::size_t max) {
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        auto c = static_cast<unsigned char>(text[i]);
        std::size_t n = c < 0x80           ? 1
                        : (c >> 5) == 0x6  ? 2
                        : (c >> 4) == 0xE  ? 3
                        : (c >> 3) == 0x1E ? 4
                                           : 0;
        bool valid = n > 0 && i + n <= text.size();
        for (std::size_t k = 1; valid && k < n; ++k) {
            valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
        }
        if (!valid) n = 1;
        if (out.size() + n > max) {
            out += "...";
            break;
        }
        if (valid) {
            out.append(text.substr(i, n));
        } else {
            out.push_back('?');
        }
        i += n;
    }
    return out;
}

// Why an invocation became a dead letter, for a person.
std::string dead_letter_reason(const lambda::Completion& c) {
    constexpr std::size_t kMaxDetail = 500;
    using lambda::DeadLetterCondition;
    const auto condition = c.condition.value_or(DeadLetterCondition::RetriesExhausted);
    // Without a function error the error type is the condition's name.
    const bool has_error = !c.error_type.empty() && c.error_type != lambda::to_string(condition);
    std::string error;
    if (has_error) {
        // The function's message says it best ("Not a supported image ..."); else its type.
        if (!c.error_message.empty()) {
            error = readable(c.error_message, kMaxDetail);
        } else if (c.error_type == "Sandbox.Timedout") {
            error = "timed out";
        } else if (c.error_type == "Runtime.ExitError") {
            error = "the worker process crashed";
        } else {
            error = readable(c.error_type, 100);
        }
    }
    switch (condition) {
    case DeadLetterCondition::Rejected:
        return "rejected by the function" + (error.empty() ? std::string() : ": " + error);
    case DeadLetterCondition::RetriesExhausted:
        return "failed " + std::to_string(c.attempt) + (c.attempt == 1 ? " time" : " times") +
               (error.empty() ? std::string() : " (last: " + error + ")");
    case DeadLetterCondition::EventAgeExceeded:
        return "not retried: the event outlived serve.function.max_event_age_seconds" +
               (error.empty() ? std::string() : " (last: " + error + ")");
    case DeadLetterCondition::RecursionDetected:
        return "stopped: the function's own writes triggered it again (a recursive loop)";
    }
    return error;
}

}  // namespace

PipelineHost::PipelineHost(Inputs inputs) : in_(std::move(inputs)) {}

PipelineHost::~PipelineHost() { stop(); }

Result<std::unique_ptr<PipelineHost>> PipelineHost::open(Inputs inputs,
                                                         bool default_bucket_created) {
    std::unique_ptr<PipelineHost> host(new PipelineHost(std::move(inputs)));
    const auto& serve = *host->in_.serve;
    host->function_arn_ = lambda::function_arn(serve.region, serve.function_name);
    events::EventRouterOptions router_options;
    router_options.default_region = serve.region;
    host->router_ = std::make_shared<events::EventRouter>(router_options);
    host->in_.store->set_outbox_router(
        [router = host->router_](const storage::ObjectChange& change,
                                 std::string_view document) -> Result<std::vector<storage::OutboxRow>> {
            auto messages = router->route(to_event(change), document);
            if (!messages) {
                return messages.error();
            }
            std::vector<storage::OutboxRow> rows;
            rows.reserve(messages->size());
            for (auto& m : *messages) {
                rows.push_back({std::move(m.target_arn), std::move(m.payload), std::move(m.trace_id)});
            }
            return rows;
        });
    PipelineHost* self = host.get();
    host->in_.store->set_outbox_listener([self] {
        {
            std::lock_guard lock(self->mutex_);
            self->pending_ = true;
        }
        self->wake_.notify_one();
    });
    // A recipe the workers cannot load would fail every worker's init, forever: refuse it now.
    if (!serve.function_recipe_file.empty()) {
        auto recipe = imaging::load_recipe_file(serve.function_recipe_file);
        if (!recipe) {
            return make_error(ErrorCode::InvalidArgument,
                              "serve.function.recipe_file " + serve.function_recipe_file + ": " +
                                  recipe.error().message);
        }
    }
    // Queue destinations: serve.sqs's key pair, else the process's AWS_* environment.
    if (!serve.sqs_access_key_id.empty()) {
        host->sqs_credentials_ = aws::SigningCredentials{
            serve.sqs_access_key_id, serve.sqs_secret_access_key, serve.sqs_session_token};
    } else {
        auto env = [](const char* name) {
            const char* value = std::getenv(name);
            return std::string(value ? value : "");
        };
        if (!env("AWS_ACCESS_KEY_ID").empty() && !env("AWS_SECRET_ACCESS_KEY").empty()) {
            host->sqs_credentials_ = aws::SigningCredentials{
                env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN")};
        }
    }
    {
        // Short budgets: the pump retries on its own, and a PUT ?notification waits for the
        // destination check.
        function::HttpClientTransportOptions transport;
        transport.timeout = std::chrono::seconds(10);
        transport.connect_timeout = std::chrono::seconds(3);
        transport.max_response_bytes = 1 << 20;
        transport.user_agent = "photoflux-serve";
        host->sqs_transport_ = std::make_unique<function::HttpClientTransport>(transport);
    }
    if (auto declared = host->declare_rules(default_bucket_created); !declared) {
        return declared.error();
    }
    host->register_metrics();
    return host;
}

bool PipelineHost::destination_exists(events::DestinationKind kind, const std::string& arn) const {
    switch (kind) {
    case events::DestinationKind::Function:
        return arn == function_arn_ || arn == function_arn_ + ":$LATEST";
    case events::DestinationKind::Topic: return in_.notify->has_topic(arn);
    case events::DestinationKind::Queue: {
        auto url = queue_url(arn, /*refresh=*/true);
        if (!url) {
            logger()->warn("event=queue_destination_refused queue={} error=\"{}\"", arn,
                           url.error().message);
        }
        return url.has_value();
    }
    }
    return false;
}

aws::SqsClient PipelineHost::sqs_client(const std::string& arn_region) const {
    const auto& serve = *in_.serve;
    aws::SqsClientOptions options;
    options.region = serve.sqs_region.empty() ? arn_region : serve.sqs_region;
    if (serve.sqs_endpoint_url.empty()) {
        options.endpoint = {"https://sqs." + arn_region + ".amazonaws.com", false};
    } else {
        std::string url = serve.sqs_endpoint_url;
        while (url.ends_with('/')) url.pop_back();
        options.endpoint = {url, true};
    }
    if (sqs_credentials_) options.credentials = *sqs_credentials_;
    options.retry.max_attempts = 3;
    options.retry.max_delay = std::chrono::milliseconds(1000);
    options.request_timeout = std::chrono::seconds(10);
    return aws::SqsClient(*sqs_transport_, std::move(options));
}

Result<std::string> PipelineHost::queue_url(const std::string& arn, bool refresh) const {
    auto address = events::queue_address_of_arn(arn);
    if (!address) {
        return make_error(ErrorCode::InvalidArgument, "not an SQS queue ARN: " + arn);
    }
    if (!sqs_credentials_) {
        return make_error(ErrorCode::Unavailable,
                          "no SQS credentials: set serve.sqs.access_key_id and "
                          "serve.sqs.secret_access_key, or AWS_ACCESS_KEY_ID and "
                          "AWS_SECRET_ACCESS_KEY in serve's environment");
    }
    if (!refresh) {
        std::lock_guard lock(queue_urls_mutex_);
        if (auto it = queue_urls_.find(arn); it != queue_urls_.end()) return it->second;
    }
    auto url = sqs_client(address->region).queue_url(address->name, address->account);
    std::lock_guard lock(queue_urls_mutex_);
    if (url) {
        if (queue_urls_.size() >= 10'000) queue_urls_.clear();  // bounded; refilled on use
        queue_urls_[arn] = *url;
    } else if (url.error().code == ErrorCode::NotFound) {
        queue_urls_.erase(arn);
    }
    return url;
}

Result<std::string> PipelineHost::send_to_queue(const std::string& arn, const std::string& body) {
    auto url = queue_url(arn, /*refresh=*/false);
    if (!url) return url.error();
    auto address = events::queue_address_of_arn(arn);  // valid: queue_url parsed it
    auto id = sqs_client(address->region).send(*url, body);
    if (!id && id.error().code == ErrorCode::NotFound) {
        // The cached URL may be stale (the queue deleted and created again): ask once more.
        auto fresh = queue_url(arn, /*refresh=*/true);
        if (!fresh) return fresh.error();
        if (*fresh == *url) return id.error();
        id = sqs_client(address->region).send(*fresh, body);
    }
    return id;
}

void PipelineHost::count_queue_send(const char* outcome) {
    in_.metrics
        ->counter("photoflux_events_queue_sends_total",
                  "S3 events sent to SQS queue destinations, by outcome (failed ones are retried).",
                  {{"outcome", outcome}})
        .add();
}

void PipelineHost::notification_configured(const std::string& bucket,
                                           const events::NotificationConfiguration& configuration,
                                           const std::string& request_id) {
    // S3's test message (aws-protocols.md §3.1): no Records, consumers drop it.
    nlohmann::json event = {
        {"Service", "Amazon S3"},
        {"Event", "s3:TestEvent"},
        {"Time", aws::format_iso8601_millis(std::chrono::system_clock::now())},
        {"Bucket", bucket},
        {"RequestId", request_id},
        {"HostId", request_id},
    };
    const std::string body = event.dump();
    bool queued = false;
    {
        std::lock_guard lock(mutex_);
        for (const auto& rule : configuration.rules) {
            if (rule.kind != events::DestinationKind::Queue) continue;
            if (test_events_.size() >= kMaxPendingTestEvents) {
                logger()->warn("event=test_event_skipped queue={} reason=too_many_pending", rule.arn);
                continue;
            }
            test_events_.push_back({rule.arn, body});
            queued = true;
            pending_ = true;
        }
    }
    if (queued) wake_.notify_one();
}

void PipelineHost::send_test_events() {
    while (true) {
        TestEvent next;
        {
            std::lock_guard lock(mutex_);
            if (stopping_ || test_events_.empty()) return;
            next = std::move(test_events_.front());
            test_events_.pop_front();
        }
        auto id = send_to_queue(next.queue_arn, next.body);
        if (id) {
            logger()->info("event=test_event_sent queue={} message_id={}", next.queue_arn, *id);
        } else {
            logger()->warn("event=test_event_failed queue={} error=\"{}\"", next.queue_arn,
                           id.error().message);
        }
    }
}

std::vector<std::string> PipelineHost::describe_rules(const std::string& bucket) const {
    std::vector<std::string> lines;
    auto document = in_.store->get_bucket_config(bucket, "notification");
    if (!document || !*document) {
        return lines;
    }
    events::ParseOptions lenient;
    lenient.allow_queue = true;
    lenient.check_overlap = false;
    auto configuration = events::parse_notification_configuration(**document, lenient);
    if (!configuration) {
        return lines;
    }
    for (const auto& rule : configuration->rules) {
        std::string target = rule.arn.substr(rule.arn.rfind(':') + 1);
        std::string events;
        for (const auto& e : rule.events) events += (events.empty() ? "" : ",") + e;
        lines.push_back("s3://" + bucket + "/" + rule.prefix.value_or("") + "*" +
                        rule.suffix.value_or("") + " (" + events + ") -> " +
                        std::string(events::to_string(rule.kind)) + " " + target);
    }
    return lines;
}

Result<void> PipelineHost::declare_rules(bool default_bucket_created) {
    const auto& serve = *in_.serve;
    // Rules of the config file, grouped by bucket, in the order given.
    std::map<std::string, events::NotificationConfiguration> by_bucket;
    std::map<std::string, std::string> first_label;
    for (std::size_t i = 0; i < serve.notifications.size(); ++i) {
        const auto& r = serve.notifications[i];
        events::NotificationRule rule;
        if (!r.queue.empty()) {
            rule.kind = events::DestinationKind::Queue;
            rule.arn = r.queue;
        } else if (!r.function.empty()) {
            rule.kind = events::DestinationKind::Function;
            rule.arn = lambda::function_arn(serve.region, r.function);
        } else {
            rule.kind = events::DestinationKind::Topic;
            rule.arn = in_.notify->topic_arn(r.topic);
        }
        rule.id = r.id;
        rule.events = r.events;
        if (!r.prefix.empty()) rule.prefix = r.prefix;
        if (!r.suffix.empty()) rule.suffix = r.suffix;
        by_bucket[r.bucket].rules.push_back(std::move(rule));
        first_label.emplace(r.bucket, "serve.notifications[" + std::to_string(i) + "]");
    }
    if (default_bucket_created && !serve.default_bucket.empty() &&
        !by_bucket.contains(serve.default_bucket) && !serve.function_name.empty()) {
        events::NotificationRule rule;
        rule.kind = events::DestinationKind::Function;
        rule.arn = function_arn_;
        rule.id = serve.function_name + "-uploads";
        rule.events = {"s3:ObjectCreated:*", "s3:ObjectRemoved:*"};
        if (!serve.function_trigger_prefix.empty()) rule.prefix = serve.function_trigger_prefix;
        if (!serve.function_trigger_suffix.empty()) rule.suffix = serve.function_trigger_suffix;
        by_bucket[serve.default_bucket].rules.push_back(std::move(rule));
        first_label.emplace(serve.default_bucket, "the default rule of bucket " + serve.default_bucket);
    }
    for (const auto& [bucket, configuration] : by_bucket) {
        const std::string& label = first_label[bucket];
        if (auto exists = in_.store->head_bucket(bucket); !exists) {
            return make_error(ErrorCode::InvalidArgument,
                              label + ": bucket " + bucket + " does not exist (create it first)");
        }
        // The same validation a PUT ?notification gets: overlap, event names, destinations.
        events::ParseOptions options;
        options.check_destination = [this](events::DestinationKind kind, const std::string& arn) {
            if (kind != events::DestinationKind::Queue) return destination_exists(kind, arn);
            // A queue that does not exist, or no credentials to reach it, stops the start. One
            // that cannot be reached now does not: its events wait in the outbox.
            auto url = queue_url(arn, /*refresh=*/true);
            if (url) return true;
            if (url.error().code == ErrorCode::NotFound || !sqs_credentials_) {
                logger()->error("event=queue_destination_refused queue={} error=\"{}\"", arn,
                                url.error().message);
                return false;
            }
            logger()->warn("event=queue_unreachable queue={} error=\"{}\" (its events wait in "
                           "the outbox)",
                           arn, url.error().message);
            return true;
        };
        events::ErrorArguments arguments;
        auto checked = events::parse_notification_configuration(events::to_xml(configuration),
                                                                options, &arguments);
        if (!checked) {
            std::string detail;
            for (const auto& [name, value] : arguments) detail += " " + name + "=" + value;
            return make_error(ErrorCode::InvalidArgument,
                              "the notification rules of bucket " + bucket + " (" + label +
                                  "): " + checked.error().client_message() + detail);
        }
        if (auto put = in_.store->put_bucket_config(bucket, "notification", events::to_xml(*checked));
            !put) {
            return put.error();
        }
        logger()->info("event=rules_declared bucket={} rules={}", bucket, checked->rules.size());
    }
    return {};
}

lambda::FunctionSettings PipelineHost::function_settings(const std::string& url) const {
    const auto& serve = *in_.serve;
    lambda::FunctionSettings f;
    f.name = serve.function_name;
    f.arn = function_arn_;
    f.argv = function_worker_argv(in_.executable);
    std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
    f.environments = serve.function_workers > 0 ? static_cast<std::size_t>(serve.function_workers)
                                                : cores;
    f.timeout = std::chrono::seconds(serve.function_timeout_seconds);
    f.memory_mb = serve.function_memory_mb;
    f.max_retry_attempts = serve.function_max_retry_attempts;
    f.max_event_age = std::chrono::seconds(serve.function_max_event_age_seconds);
    f.retry_base_delay = serve.function_retry_delay;
    f.reserved_concurrency = static_cast<std::size_t>(serve.function_reserved_concurrency);
    // Retrying cannot help a photo that is not one, or an event that is not an S3 event.
    f.non_retryable_error_types = {"Photoflux.PhotoRejected", "Photoflux.InvalidEvent"};

    lambda::FunctionEnvironmentInputs env;
    env.function_name = serve.function_name;
    env.region = serve.region;
    env.memory_mb = serve.function_memory_mb;
    env.handler = "photoflux.process-photo";
    std::error_code ec;
    env.task_root = std::filesystem::current_path(ec).string();
    env.access_key_id = in_.function_credentials.access_key_id;
    env.secret_access_key = in_.function_credentials.secret_access_key;
    env.endpoint_url = url;
    if (const char* path = std::getenv("PATH")) env.path = path;
    if (!serve.function_recipe_file.empty()) {
        env.extra["PF_RECIPE_FILE"] =
            std::filesystem::absolute(serve.function_recipe_file, ec).string();
    }
    if (!serve.function_output_bucket.empty()) {
        env.extra["PF_OUTPUT_BUCKET"] = serve.function_output_bucket;
    }
    env.extra["PF_OUTPUT_PREFIX"] = serve.function_output_prefix;
    env.extra["PF_TOPIC_ARN"] =
        serve.function_topic.empty() ? std::string() : in_.notify->topic_arn(serve.function_topic);
    env.extra["PF_DELETE_DERIVATIVES"] = serve.function_delete_derivatives ? "true" : "false";
    // The cores are shared by the workers: each photo's libvips gets its share.
    env.extra["PF_VIPS_CONCURRENCY"] =
        std::to_string(std::max<std::size_t>(1, cores / std::max<std::size_t>(1, f.environments)));
    // The engine limits serve was given apply to the photos its function processes.
    const auto& limits = in_.imaging->limits;
    // (The function holds a photo in memory and caps this at 4 GiB.)
    env.extra["PF_MAX_PHOTO_BYTES"] =
        std::to_string(std::min<std::uint64_t>(limits.max_input_bytes, 4ull << 30));
    env.extra["PF_IMAGING_MAX_PIXELS"] = std::to_string(limits.max_pixels);
    env.extra["PF_IMAGING_MAX_FRAMES"] = std::to_string(limits.max_frames);
    env.extra["PF_IMAGING_MAX_OUTPUT_DIMENSION"] = std::to_string(limits.max_output_dimension);
    env.extra["PF_IMAGING_TIME_BUDGET_MS"] = std::to_string(limits.time_budget.count());
    env.extra["PF_IMAGING_FAIL_ON"] = config::to_string(limits.fail_on);
    if (!serve.tls_certificate_file.empty()) {
        // The workers call back over https: trust serve's own certificate.
        env.extra["AWS_CA_BUNDLE"] =
            std::filesystem::absolute(serve.tls_certificate_file, ec).string();
    }
    f.environment = lambda::function_environment(env);
    return f;
}

Result<void> PipelineHost::start(const std::string& url) {
    std::lock_guard lifecycle(lifecycle_mutex_);
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            return make_error(ErrorCode::Unavailable, "serve is stopping");
        }
    }
    lambda::HostOptions options;
    options.data_dir = in_.data_dir;
    options.region = in_.serve->region;
    options.functions.push_back(function_settings(url));
    options.on_completion = [this](const lambda::Completion& c) { on_completion(c); };
    auto host = lambda::FunctionHost::open(std::move(options));
    if (!host) {
        return host.error();
    }
    host_ = std::move(*host);
    lambda::LambdaApi::Options api_options;
    api_options.secret_for = in_.secret_for;
    api_options.max_clock_skew = in_.serve->max_clock_skew;
    api_ = std::make_unique<lambda::LambdaApi>(*host_, api_options);
    if (auto started = host_->start(); !started) {
        return started.error();
    }
    running_host_ = host_.get();
    auto* host_ptr = host_.get();
    in_.metrics->gauge_callback(
        "photoflux_function_queue_depth", "Invocations queued (due, or waiting for a retry).",
        [host_ptr] { return static_cast<double>(host_ptr->stats().total().queue_depth); });
    in_.metrics->gauge_callback(
        "photoflux_function_in_flight", "Invocations running now.",
        [host_ptr] { return static_cast<double>(host_ptr->stats().total().in_flight); });
    {
        std::lock_guard lock(mutex_);
        pending_ = true;  // events of a previous run wait in the outbox
    }
    pump_thread_ = std::thread([this] { pump(); });
    return {};
}

void PipelineHost::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    std::lock_guard lifecycle(lifecycle_mutex_);
    if (pump_thread_.joinable()) pump_thread_.join();
    if (host_) host_->stop();  // idempotent
}

void PipelineHost::handle_lambda_api(const http::Request& request, http::RequestBody& body,
                                     http::Response& response) {
    if (!api_) {
        std::string text = R"({"Type":"Service","message":"the function host is not running"})";
        if (response.start(503, {{"Content-Type", "application/json"},
                                 {"x-amzn-ErrorType", "ServiceException"}},
                           text.size())) {
            (void)response.write(text);
        }
        return;
    }
    api_->handle(request, body, response);
}

void PipelineHost::register_metrics() {
    auto* store = in_.store;
    in_.metrics->gauge_callback(
        "photoflux_events_outbox_depth",
        "S3 events committed and not yet handed to their destination (1000 means at least).",
        [store] {
            auto rows = store->outbox_peek(0, storage::DiskStore::kMaxOutboxPeek);
            return rows ? static_cast<double>(rows->size()) : -1.0;
        });
    // Present from the start, so a scrape shows zeros rather than nothing.
    for (const char* outcome : {"sent", "failed", "queue_not_found", "rejected"}) {
        in_.metrics->counter(
            "photoflux_events_queue_sends_total",
            "S3 events sent to SQS queue destinations, by outcome (failed ones are retried).",
            {{"outcome", outcome}});
    }
    for (const char* outcome : {"success", "error", "timeout", "crash"}) {
        in_.metrics->counter("photoflux_function_invocations_total",
                             "Function invocation attempts, by how they ended.",
                             {{"function", in_.serve->function_name}, {"outcome", outcome}});
    }
}

void PipelineHost::on_completion(const lambda::Completion& c) {
    auto& m = *in_.metrics;
    if (c.attempt > 0) {
        m.counter("photoflux_function_invocations_total",
                  "Function invocation attempts, by how they ended.",
                  {{"function", c.function}, {"outcome", attempt_outcome(c)}})
            .add();
        m.histogram("photoflux_function_duration_seconds", "Duration of invocation attempts.",
                    latency_buckets(), {{"function", c.function}})
            .observe(c.duration_ms / 1000.0);
    }
    if (c.outcome == lambda::CompletionOutcome::Succeeded) {
        logger()->info("event=invocation_succeeded function={} request_id={} attempt={} "
                       "duration_ms={:.1f}",
                       c.function, c.request_id, c.attempt, c.duration_ms);
    }
    if (c.outcome == lambda::CompletionOutcome::Retrying) {
        m.counter("photoflux_function_retries_total", "Failed attempts queued for another try.",
                  {{"function", c.function}})
            .add();
    }
    if (c.outcome != lambda::CompletionOutcome::Retrying) {
        const bool dead = c.outcome == lambda::CompletionOutcome::DeadLettered;
        if (auto observer = photo_observer()) {
            auto photos = invocation_finished(c.request_id, dead);
            if (dead && observer->dead_lettered && !photos.empty()) {
                const std::string reason = dead_letter_reason(c);
                for (const auto& p : photos) {
                    observer->dead_lettered(p.bucket, p.key, p.etag, reason);
                }
            }
        }
    }
    if (c.outcome == lambda::CompletionOutcome::DeadLettered) {
        std::string condition = c.condition ? std::string(lambda::to_string(*c.condition)) : "";
        m.counter("photoflux_function_dead_letters_total",
                  "Invocations that became dead letters, by condition.",
                  {{"function", c.function}, {"condition", condition}})
            .add();
        logger()->warn("event=dead_letter function={} request_id={} condition={} error_type={} "
                       "error=\"{}\"",
                       c.function, c.request_id, condition, c.error_type, c.error_message);
    }
}

Result<void> PipelineHost::dispatch(const storage::OutboxEntry& entry) {
    auto kind = events::destination_kind_of_arn(entry.target);
    auto& m = *in_.metrics;
    auto dropped = [&](const std::string& reason, const std::string& detail) {
        m.counter("photoflux_events_dropped_total",
                  "S3 events whose destination no longer exists, by reason.", {{"reason", reason}})
            .add();
        logger()->warn("event=event_dropped target={} reason={} detail=\"{}\" trace_id={}",
                       entry.target, reason, detail, entry.trace_id);
        return Result<void>{};
    };
    if (!kind) {
        return dropped("unsupported_destination", "serve delivers to functions, topics and queues");
    }
    std::string destination(events::to_string(*kind));
    if (*kind == events::DestinationKind::Queue) {
        // The body is exactly what S3 sends to SQS: the event JSON (aws-protocols.md §3.6).
        auto id = send_to_queue(entry.target, entry.payload);
        if (!id) {
            if (id.error().code == ErrorCode::NotFound) {
                count_queue_send("queue_not_found");
                return dropped("queue_not_found", id.error().message);
            }
            if (id.error().code == ErrorCode::InvalidArgument ||
                id.error().code == ErrorCode::TooLarge) {
                count_queue_send("rejected");
                return dropped("rejected_by_queue", id.error().message);
            }
            count_queue_send("failed");
            return id.error();
        }
        count_queue_send("sent");
        logger()->info("event=event_queued target={} message_id={} trace_id={}", entry.target,
                       *id, entry.trace_id);
    } else if (*kind == events::DestinationKind::Function) {
        // The photos are read before the invoke: a fast outcome may arrive before it returns.
        const bool observed = photo_observer() != nullptr;
        std::vector<PhotoRef> photos;
        if (observed) {
            photos = photos_of(entry.payload);
            std::lock_guard lock(photos_mutex_);
            ++dispatching_;
        }
        auto id = host_->invoke_async(entry.target, entry.payload, entry.trace_id);
        if (observed) invocation_started(id ? *id : std::string(), std::move(photos));
        if (!id) {
            if (id.error().code == ErrorCode::NotFound) {
                return dropped("function_not_found", id.error().message);
            }
            if (id.error().code == ErrorCode::TooLarge ||
                id.error().code == ErrorCode::InvalidArgument) {
                return dropped("rejected_by_function_host", id.error().message);
            }
            return id.error();
        }
        logger()->info("event=event_invoked target={} request_id={} trace_id={}", entry.target,
                        *id, entry.trace_id);
    } else {
        auto id = in_.notify->publish_local(entry.target, std::string("Amazon S3 Notification"),
                                            entry.payload);
        if (!id) {
            if (id.error().code == ErrorCode::NotFound) {
                return dropped("topic_not_found", id.error().message);
            }
            if (id.error().code == ErrorCode::InvalidArgument) {
                return dropped("rejected_by_topic", id.error().message);
            }
            return id.error();
        }
        logger()->info("event=event_published target={} message_id={} trace_id={}",
                        entry.target, *id, entry.trace_id);
    }
    m.counter("photoflux_events_delivered_total",
              "S3 events handed to their destination, by kind of destination.",
              {{"destination", destination}})
        .add();
    m.histogram("photoflux_events_dispatch_lag_seconds",
                "From the commit of an object change to its event reaching the destination.",
                latency_buckets())
        .observe(std::max<std::int64_t>(0, now_ms() - entry.created_ms) / 1000.0);
    return {};
}

void PipelineHost::set_photo_observer(PhotoObserver observer) {
    auto shared = std::make_shared<const PhotoObserver>(std::move(observer));
    std::lock_guard lock(photos_mutex_);
    observer_ = std::move(shared);
}

std::shared_ptr<const PipelineHost::PhotoObserver> PipelineHost::photo_observer() const {
    std::lock_guard lock(photos_mutex_);
    return observer_;
}

std::vector<PipelineHost::PhotoRef> PipelineHost::photos_of(const std::string& payload) {
    constexpr std::size_t kMaxRecords = 100;  // S3 sends one record per event
    std::vector<PhotoRef> photos;
    auto event = aws::parse_s3_event(payload);  // keys come back form-decoded
    if (!event) return photos;
    for (const auto& record : event->records) {
        // A removal is handed to the function too (it deletes the derivatives): not a photo to
        // watch.
        if (!record.event_name.starts_with("ObjectCreated") || record.etag.empty()) continue;
        if (photos.size() == kMaxRecords) break;
        photos.push_back({record.bucket, record.key, record.etag});
    }
    return photos;
}

void PipelineHost::invocation_started(const std::string& request_id, std::vector<PhotoRef> photos) {
    std::shared_ptr<const PhotoObserver> observer;
    {
        std::lock_guard lock(photos_mutex_);
        if (dispatching_ > 0) --dispatching_;
        const bool finished = !request_id.empty() && finished_early_.erase(request_id) > 0;
        if (dispatching_ == 0) finished_early_.clear();  // nobody else is waiting for a marker
        if (request_id.empty() || finished || photos.empty()) return;
        const std::uint64_t seq = ++remembered_seq_;
        remembered_[request_id] = Remembered{seq, photos};
        remembered_order_.emplace_back(request_id, seq);
        while (remembered_order_.size() > kMaxRemembered) {
            const auto& [oldest, oldest_seq] = remembered_order_.front();
            auto it = remembered_.find(oldest);
            if (it != remembered_.end() && it->second.seq == oldest_seq) {
                remembered_.erase(it);
            }
            remembered_order_.pop_front();
        }
        observer = observer_;
    }
    if (observer && observer->processing) {
        for (const auto& p : photos) observer->processing(p.bucket, p.key, p.etag);
    }
}

std::vector<PipelineHost::PhotoRef> PipelineHost::invocation_finished(const std::string& request_id,
                                                                      bool dead_lettered) {
    {
        std::lock_guard lock(photos_mutex_);
        if (auto it = remembered_.find(request_id); it != remembered_.end()) {
            auto photos = std::move(it->second.photos);
            remembered_.erase(it);  // its entry in remembered_order_ no longer matches: skipped
            return photos;
        }
        if (dispatching_ > 0) finished_early_.insert(request_id);
    }
    if (!dead_lettered) return {};
    // Not remembered: read the event back from the dead letter just written (newest first).
    constexpr std::size_t kLookBack = 100;
    auto* host = running_host_.load();
    if (!host) return {};
    auto letters = host->dead_letters(in_.serve->function_name, kLookBack);
    if (!letters) return {};
    for (const auto& letter : *letters) {
        if (letter.invocation.request_id == request_id) return photos_of(letter.invocation.payload);
    }
    return {};
}

Result<std::vector<lambda::StoredDeadLetter>>
PipelineHost::function_dead_letters(std::size_t limit) {
    auto* host = running_host_.load();
    if (!host) return make_error(ErrorCode::Unavailable, "the function host is not running");
    return host->dead_letters(in_.serve->function_name, limit);
}

Result<std::size_t>
PipelineHost::replay_function_dead_letters(const std::vector<std::string>& request_ids) {
    auto* host = running_host_.load();
    if (!host) return make_error(ErrorCode::Unavailable, "the function host is not running");
    // The photos of the letters about to be replayed, to report them processing again.
    std::vector<std::pair<std::string, std::vector<PhotoRef>>> replaying;
    const bool observed = photo_observer() != nullptr;
    if (observed) {
        constexpr std::size_t kMaxReported = 1000;
        auto letters = host->dead_letters(in_.serve->function_name, kMaxReported);
        if (letters) {
            for (const auto& letter : *letters) {
                const auto& id = letter.invocation.request_id;
                if (request_ids.empty() ||
                    std::find(request_ids.begin(), request_ids.end(), id) != request_ids.end()) {
                    replaying.emplace_back(id, photos_of(letter.invocation.payload));
                }
            }
        }
        std::lock_guard lock(photos_mutex_);
        dispatching_ += replaying.size();
    }
    auto replayed = host->replay(request_ids, in_.serve->function_name);
    for (auto& [id, photos] : replaying) {
        invocation_started(replayed ? id : std::string(), std::move(photos));
    }
    if (replayed && *replayed > 0) {
        logger()->info("event=function_dead_letters_replayed count={}", *replayed);
    }
    return replayed;
}

void PipelineHost::pump() {
    constexpr std::size_t kBatch = 256;
    std::chrono::milliseconds backoff{0};
    while (true) {
        {
            std::unique_lock lock(mutex_);
            // Sleep until the store says rows were added, a retry is due, or once a second in
            // case a wake-up was missed.
            auto wait = backoff.count() > 0 ? backoff : std::chrono::milliseconds(1000);
            wake_.wait_for(lock, wait, [&] { return stopping_ || (pending_ && backoff.count() == 0); });
            if (stopping_) return;
            pending_ = false;
        }
        send_test_events();  // S3 sends them when the configuration is put: before its events
        auto rows = in_.store->outbox_peek(0, kBatch);
        if (!rows) {
            logger()->error("event=outbox_read_failed error=\"{}\"", rows.error().message);
            backoff = std::min(std::chrono::milliseconds(5000), backoff * 2 + std::chrono::milliseconds(100));
            continue;
        }
        std::vector<std::int64_t> done;
        bool failed = false;
        for (const auto& row : *rows) {
            {
                std::lock_guard lock(mutex_);
                if (stopping_) break;
            }
            if (auto r = dispatch(row); !r) {
                logger()->error("event=event_dispatch_failed target={} error=\"{}\" (retrying)",
                                row.target, r.error().message);
                failed = true;
                break;  // keep the order: the rest waits for this one
            }
            done.push_back(row.id);
        }
        if (!done.empty()) {
            if (auto removed = in_.store->outbox_remove(done); !removed) {
                // Delivered but still in the outbox: delivered again later (a duplicate).
                logger()->error("event=outbox_remove_failed error=\"{}\"", removed.error().message);
                failed = true;
            }
        }
        if (failed) {
            backoff = std::min(std::chrono::milliseconds(5000), backoff * 2 + std::chrono::milliseconds(100));
        } else {
            backoff = std::chrono::milliseconds(0);
            if (rows->size() == kBatch) {
                std::lock_guard lock(mutex_);
                pending_ = true;  // more are waiting
            }
        }
    }
}

}  // namespace pf::app
