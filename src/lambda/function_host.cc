#include "lambda/function_host.h"

#include "base/json_depth.h"
#include "base/logging.h"
#include "crypto/encoding.h"
#include "crypto/random.h"
#include "lambda/trace_header.h"
#include "lambda/worker_process.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <utility>

namespace pf::lambda {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;
using std::chrono::milliseconds;

constexpr std::size_t kMaxFunctionNameBytes = 64;
constexpr std::size_t kMaxEnvironments = 256;
constexpr milliseconds kMaxTimeout{900'000};
constexpr milliseconds kMaxEventAge{6 * 3600 * 1000};
constexpr milliseconds kMaxRetryBaseDelay{3600 * 1000};
constexpr std::size_t kMaxEnvironmentBytes = 128 * 1024;
// Recursion warnings remembered (trace roots); the set is cleared when it grows past this.
constexpr std::size_t kMaxWarnedRoots = 4096;

spdlog::logger& logger() {
    static auto instance = component_logger("lambda");
    return *instance;
}

std::string new_request_id() {
    std::string bytes = crypto::random_bytes(16);
    bytes[6] = static_cast<char>((static_cast<unsigned char>(bytes[6]) & 0x0F) | 0x40);
    bytes[8] = static_cast<char>((static_cast<unsigned char>(bytes[8]) & 0x3F) | 0x80);
    const std::string hex = crypto::hex_encode(bytes);
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
           hex.substr(16, 4) + "-" + hex.substr(20);
}

bool valid_function_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxFunctionNameBytes) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_';
    });
}

// "arn:aws:lambda:r:a:function:name[:qualifier]" -> "name"; anything else unchanged.
std::string_view name_from(std::string_view name_or_arn) {
    constexpr std::string_view kMarker = ":function:";
    if (name_or_arn.substr(0, 4) != "arn:") {
        return name_or_arn;
    }
    const auto at = name_or_arn.find(kMarker);
    if (at == std::string_view::npos) {
        return {};
    }
    std::string_view rest = name_or_arn.substr(at + kMarker.size());
    return rest.substr(0, rest.find(':'));
}

std::string seconds_text(milliseconds d) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", static_cast<double>(d.count()) / 1000.0);
    return text;
}

void add_duration(FunctionStats& stats, double ms) {
    stats.duration_ms_sum += ms;
    ++stats.duration_count;
    std::size_t bucket = 0;
    while (bucket < kDurationBucketsMs.size() && ms > kDurationBucketsMs[bucket]) {
        ++bucket;
    }
    ++stats.duration_buckets[bucket];
}

}  // namespace

std::string function_arn(std::string_view region, std::string_view name) {
    return "arn:aws:lambda:" + std::string(region) + ":000000000000:function:" + std::string(name);
}

std::map<std::string, std::string> function_environment(const FunctionEnvironmentInputs& in) {
    std::map<std::string, std::string> env;
    env["AWS_LAMBDA_FUNCTION_NAME"] = in.function_name;
    env["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST";
    env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = std::to_string(in.memory_mb);
    env["AWS_LAMBDA_LOG_GROUP_NAME"] = "/aws/lambda/" + in.function_name;
    env["AWS_LAMBDA_LOG_STREAM_NAME"] = "photoflux/" + in.function_name;
    env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "on-demand";
    env["AWS_REGION"] = in.region;
    env["AWS_DEFAULT_REGION"] = in.region;
    env["AWS_ACCESS_KEY_ID"] = in.access_key_id;
    env["AWS_SECRET_ACCESS_KEY"] = in.secret_access_key;
    if (!in.session_token.empty()) {
        env["AWS_SESSION_TOKEN"] = in.session_token;
    }
    if (!in.endpoint_url.empty()) {
        env["AWS_ENDPOINT_URL"] = in.endpoint_url;
    }
    env["_HANDLER"] = in.handler;
    env["LAMBDA_TASK_ROOT"] = in.task_root;
    env["LAMBDA_RUNTIME_DIR"] = in.task_root;
    env["TZ"] = ":UTC";
    env["LANG"] = "C.UTF-8";
    env["PATH"] = in.path;
    for (const auto& [name, value] : in.extra) {
        env[name] = value;
    }
    return env;
}

FunctionStats HostStats::total() const {
    FunctionStats sum;
    for (const auto& [name, s] : functions) {
        sum.invocations += s.invocations;
        sum.successes += s.successes;
        sum.function_errors += s.function_errors;
        sum.timeouts += s.timeouts;
        sum.crashes += s.crashes;
        sum.retries += s.retries;
        sum.dead_letters += s.dead_letters;
        for (const auto& [condition, n] : s.dead_letters_by_condition) {
            sum.dead_letters_by_condition[condition] += n;
        }
        sum.worker_starts += s.worker_starts;
        sum.init_failures += s.init_failures;
        sum.environments += s.environments;
        sum.environments_ready += s.environments_ready;
        sum.queue_depth += s.queue_depth;
        sum.in_flight += s.in_flight;
        sum.duration_ms_sum += s.duration_ms_sum;
        sum.duration_count += s.duration_count;
        for (std::size_t i = 0; i < s.duration_buckets.size(); ++i) {
            sum.duration_buckets[i] += s.duration_buckets[i];
        }
    }
    return sum;
}

// --- internal state ---

struct FunctionHost::Environment {
    Environment(Function* function, std::size_t i, milliseconds backoff_initial,
                milliseconds backoff_max)
        : fn(function), index(i), backoff(backoff_initial, backoff_max) {}

    Function* fn;
    std::size_t index;
    std::unique_ptr<RuntimeApiServer> api;
    std::unique_ptr<WorkerProcess> worker;
    std::condition_variable cv;
    std::thread thread;
    RestartBackoff backoff;
    SteadyTime restart_at{};
    SteadyTime init_deadline{};
    SteadyTime claims_paused_until{};  // after a failed store read
    std::uint64_t completed_since_spawn = 0;
};

struct FunctionHost::Function {
    FunctionSettings settings;
    std::size_t cap = 1;  // most environments busy at once
    std::vector<std::unique_ptr<Environment>> environments;
    std::size_t busy = 0;
    std::unordered_set<std::string> in_flight;
    std::uint64_t work_epoch = 0;  // bumped whenever something may have become due
    FunctionStats stats;
};

// --- construction ---

FunctionHost::FunctionHost(HostOptions options, std::unique_ptr<InvocationStore> store)
    : options_(std::move(options)), clock_(options_.clock ? *options_.clock : system_clock_),
      store_(std::move(store)) {}

FunctionHost::~FunctionHost() {
    stop();
}

Result<std::unique_ptr<FunctionHost>> FunctionHost::open(HostOptions options) {
    std::vector<std::string> problems;
    if (options.data_dir.empty()) {
        problems.push_back("data_dir is empty");
    }
    std::set<std::string> names;
    const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
    for (std::size_t i = 0; i < options.functions.size(); ++i) {
        FunctionSettings& f = options.functions[i];
        const std::string where = "functions[" + std::to_string(i) + "] (" + f.name + "): ";
        if (!valid_function_name(f.name)) {
            problems.push_back(where + "name must be 1-64 characters of A-Z a-z 0-9 - _");
        } else if (!names.insert(f.name).second) {
            problems.push_back(where + "duplicate function name");
        }
        if (f.arn.empty()) {
            f.arn = function_arn(options.region, f.name);
        } else if (name_from(f.arn) != f.name || f.arn.substr(0, 15) != "arn:aws:lambda:") {
            problems.push_back(where + "arn \"" + f.arn + "\" is not this function's ARN");
        }
        if (f.argv.empty() || f.argv[0].find('/') == std::string::npos) {
            problems.push_back(where + "argv[0] must be the path of the runtime executable");
        }
        if (f.environments == 0) {
            f.environments = cores;
        }
        if (f.environments > kMaxEnvironments) {
            problems.push_back(where + "environments must be at most " +
                               std::to_string(kMaxEnvironments));
        }
        if (f.timeout <= milliseconds(0) || f.timeout > kMaxTimeout) {
            problems.push_back(where + "timeout must be between 1 ms and 900 s");
        }
        if (f.memory_mb < 128 || f.memory_mb > 10240) {
            problems.push_back(where + "memory_mb must be between 128 and 10240");
        }
        if (f.max_retry_attempts < 0 || f.max_retry_attempts > 2) {
            problems.push_back(where + "max_retry_attempts must be 0, 1 or 2");
        }
        if (f.max_event_age <= milliseconds(0) || f.max_event_age > kMaxEventAge) {
            problems.push_back(where + "max_event_age must be more than 0 and at most 6 h");
        }
        if (f.retry_base_delay <= milliseconds(0) || f.retry_base_delay > kMaxRetryBaseDelay) {
            problems.push_back(where + "retry_base_delay must be more than 0 and at most 1 h");
        }
        if (f.max_recursion_depth < 1) {
            problems.push_back(where + "max_recursion_depth must be at least 1");
        }
        std::size_t env_bytes = 0;
        for (const auto& [name, value] : f.environment) {
            env_bytes += name.size() + value.size() + 2;
            if (name.empty() || name.find('=') != std::string::npos ||
                name.find('\0') != std::string::npos || value.find('\0') != std::string::npos) {
                problems.push_back(where + "invalid environment variable \"" + name + "\"");
            }
        }
        if (env_bytes > kMaxEnvironmentBytes) {
            problems.push_back(where + "environment is larger than " +
                               std::to_string(kMaxEnvironmentBytes) + " bytes");
        }
    }
    if (!problems.empty()) {
        std::string message = "invalid function host configuration:";
        for (const auto& p : problems) {
            message += "\n  " + p;
        }
        return make_error(ErrorCode::InvalidArgument, message);
    }
    auto store = InvocationStore::open(options.data_dir / "lambda" / "lambda.sqlite");
    if (!store) {
        return store.error();
    }
    auto counts = (*store)->queued_counts();
    if (!counts) {
        return counts.error();
    }
    std::unique_ptr<FunctionHost> host(new FunctionHost(std::move(options), std::move(*store)));
    for (const FunctionSettings& settings : host->options_.functions) {
        auto fn = std::make_unique<Function>();
        fn->settings = settings;
        fn->cap = settings.reserved_concurrency == 0
                      ? settings.environments
                      : std::min(settings.reserved_concurrency, settings.environments);
        for (std::size_t i = 0; i < settings.environments; ++i) {
            fn->environments.push_back(
                std::make_unique<Environment>(fn.get(), i, host->options_.restart_backoff_initial,
                                              host->options_.restart_backoff_max));
        }
        if (auto it = counts->find(settings.name); it != counts->end()) {
            fn->stats.queue_depth = it->second;
        }
        host->functions_.push_back(std::move(fn));
    }
    for (const auto& [name, n] : *counts) {
        if (!host->find(name)) {
            logger().warn("queued invocations of an unconfigured function are kept function={} "
                          "count={}",
                          name, n);
        }
    }
    return host;
}

const FunctionHost::Function* FunctionHost::find(std::string_view name_or_arn) const {
    const std::string_view name = name_from(name_or_arn);
    for (const auto& fn : functions_) {
        if (fn->settings.name == name) {
            if (name_or_arn.substr(0, 4) == "arn:") {
                // The ARN must be this function's, unqualified or $LATEST.
                if (name_or_arn != fn->settings.arn &&
                    name_or_arn != fn->settings.arn + ":$LATEST") {
                    return nullptr;
                }
            }
            return fn.get();
        }
    }
    return nullptr;
}

bool FunctionHost::has_function(std::string_view name_or_arn) const {
    return find(name_or_arn) != nullptr;
}

std::string FunctionHost::arn_of(std::string_view name_or_arn) const {
    const Function* fn = find(name_or_arn);
    return fn ? fn->settings.arn : std::string();
}

std::int64_t FunctionHost::now_ms() const {
    return clock_.now_ms();
}

// --- lifecycle ---

Result<void> FunctionHost::start() {
    std::lock_guard lifecycle(lifecycle_mutex_);
    {
        std::lock_guard lock(mutex_);
        if (started_ || stopping_) {
            return make_error(ErrorCode::PreconditionFailed,
                              "the function host was started before");
        }
    }
    // Every environment gets its endpoint before any worker starts; nothing is kept on failure.
    std::vector<std::unique_ptr<RuntimeApiServer>> servers;
    for (auto& fn : functions_) {
        for (auto& env : fn->environments) {
            Environment* raw = env.get();
            auto api = RuntimeApiServer::start(options_.runtime_api,
                                               [this, raw] { notify_environment(*raw); });
            if (!api) {
                return api.error();
            }
            servers.push_back(std::move(*api));
        }
    }
    std::size_t total = 0;
    {
        std::lock_guard lock(mutex_);
        std::size_t next = 0;
        for (auto& fn : functions_) {
            for (auto& env : fn->environments) {
                env->api = std::move(servers[next++]);
            }
        }
        started_ = true;
    }
    for (auto& fn : functions_) {
        for (auto& env : fn->environments) {
            Environment* raw = env.get();
            env->thread = std::thread([this, raw] { run_environment(*raw); });
            ++total;
        }
    }
    logger().info("function host started functions={} environments={}", functions_.size(), total);
    return {};
}

void FunctionHost::stop() {
    std::lock_guard lifecycle(lifecycle_mutex_);
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            return;
        }
        stopping_ = true;
        stop_deadline_ = std::chrono::steady_clock::now() + options_.stop_grace;
        for (auto& fn : functions_) {
            for (auto& env : fn->environments) {
                env->cv.notify_all();
            }
        }
    }
    for (auto& fn : functions_) {
        for (auto& env : fn->environments) {
            if (env->thread.joinable()) {
                env->thread.join();
            }
        }
    }
    for (auto& fn : functions_) {
        for (auto& env : fn->environments) {
            if (env->api) {
                env->api->stop();
            }
        }
    }
    if (started_) {
        logger().info("function host stopped");
    }
}

void FunctionHost::notify_environment(Environment& env) {
    std::lock_guard lock(mutex_);
    env.cv.notify_all();
}

void FunctionHost::wake_function(Function& fn) {
    // The caller holds mutex_.
    ++fn.work_epoch;
    for (auto& env : fn.environments) {
        env->cv.notify_all();
    }
}

void FunctionHost::complete(const Completion& completion) {
    if (options_.on_completion) {
        options_.on_completion(completion);
    }
}

// --- invocations ---

Result<std::string> FunctionHost::invoke_async(std::string_view function, std::string_view payload,
                                               std::string_view trace_id) {
    const Function* found = find(function);
    if (!found) {
        return make_error(ErrorCode::NotFound, "Function not found: " + std::string(function));
    }
    Function& fn = const_cast<Function&>(*found);
    if (payload.size() > options_.max_async_payload_bytes) {
        return make_error(ErrorCode::TooLarge,
                          "the event is " + std::to_string(payload.size()) +
                              " bytes; asynchronous invocations take at most " +
                              std::to_string(options_.max_async_payload_bytes));
    }
    if (json_nesting_exceeds(payload, options_.max_payload_json_depth)) {
        return make_error(ErrorCode::InvalidArgument,
                          "the event nests deeper than " +
                              std::to_string(options_.max_payload_json_depth) + " levels");
    }
    if (!nlohmann::json::accept(payload)) {
        return make_error(ErrorCode::InvalidArgument, "the event is not valid JSON");
    }
    const std::uint32_t depth = lineage_count(trace_id);
    const std::int64_t now = now_ms();
    QueuedInvocation inv;
    inv.request_id = new_request_id();
    inv.function = fn.settings.name;
    inv.payload = std::string(payload);
    inv.trace_id = child_trace(trace_id, fn.settings.arn, now / 1000);
    inv.enqueued_ms = now;
    inv.next_attempt_ms = now;

    if (depth >= fn.settings.max_recursion_depth) {
        const std::string root = trace_root(trace_id);
        bool first = false;
        {
            std::lock_guard lock(mutex_);
            if (warned_roots_.size() >= kMaxWarnedRoots) {
                warned_roots_.clear();
            }
            first = warned_roots_.insert(root).second;
        }
        if (first) {
            logger().warn("recursive invocation loop stopped function={} request_id={} "
                          "lineage_count={} max_depth={} trace_root={}",
                          fn.settings.name, inv.request_id, depth, fn.settings.max_recursion_depth,
                          root);
        }
        auto written = write_dead_letter(fn, inv, DeadLetterCondition::RecursionDetected, 0,
                                         std::nullopt, /*was_queued=*/false);
        if (!written) {
            return written.error();
        }
        return inv.request_id;
    }
    if (auto r = store_->enqueue(inv); !r) {
        return r.error();
    }
    {
        std::lock_guard lock(mutex_);
        ++fn.stats.queue_depth;
        wake_function(fn);
    }
    return inv.request_id;
}

Result<void> FunctionHost::write_dead_letter(Function& fn, QueuedInvocation inv,
                                             DeadLetterCondition condition, int invoke_count,
                                             std::optional<FunctionErrorInfo> error,
                                             bool was_queued, double duration_ms) {
    const std::int64_t now = now_ms();
    DestinationRecordInput record;
    record.request_id = inv.request_id;
    record.function_arn = fn.settings.arn;
    record.condition = condition;
    record.approximate_invoke_count = invoke_count;
    record.payload = inv.payload;
    record.timestamp_ms = now;
    record.error = error;
    if (error) {
        inv.last_error_type = error->error_type;
        inv.last_error_message = error->error_message;
    }
    inv.attempts = invoke_count;
    StoredDeadLetter letter;
    letter.condition = std::string(to_string(condition));
    letter.dead_at_ms = now;
    letter.record = destination_record(record);
    letter.invocation = inv;
    if (options_.keep_dead_letters) {
        if (auto r = store_->dead_letter(letter); !r) {
            logger().error("cannot record dead letter function={} request_id={} error={}",
                           fn.settings.name, inv.request_id, r.error().message);
            return r;
        }
    } else if (was_queued) {
        // The caller's event source owns failed events: the invocation only leaves the queue.
        if (auto r = store_->complete(inv.request_id); !r) {
            logger().error("cannot remove failed invocation function={} request_id={} error={}",
                           fn.settings.name, inv.request_id, r.error().message);
            return r.error();
        }
    }
    {
        std::lock_guard lock(mutex_);
        ++fn.stats.dead_letters;
        ++fn.stats.dead_letters_by_condition[letter.condition];
        if (was_queued && fn.stats.queue_depth > 0) {
            --fn.stats.queue_depth;
        }
    }
    if (condition != DeadLetterCondition::RecursionDetected) {
        logger().warn("{} function={} request_id={} condition={} attempts={} error_type={}",
                      options_.keep_dead_letters ? "dead letter" : "invocation failed (not kept)",
                      fn.settings.name, inv.request_id, letter.condition, invoke_count,
                      error ? error->error_type : std::string("-"));
    }
    Completion c;
    c.request_id = inv.request_id;
    c.function = fn.settings.name;
    c.outcome = CompletionOutcome::DeadLettered;
    c.attempt = invoke_count;
    c.condition = condition;
    c.duration_ms = duration_ms;
    if (error) {
        c.error_type = error->error_type;
        c.error_message = error->error_message;
    } else {
        c.error_type = letter.condition;
    }
    complete(c);
    return {};
}

Result<std::vector<StoredDeadLetter>>
FunctionHost::dead_letters(const std::optional<std::string>& function, std::size_t limit) {
    std::optional<std::string> name;
    if (function) {
        name = std::string(name_from(*function));
    }
    return store_->dead_letters(name, limit);
}

Result<std::size_t> FunctionHost::replay(const std::vector<std::string>& request_ids,
                                         const std::optional<std::string>& function) {
    std::optional<std::string> name;
    if (function) {
        name = std::string(name_from(*function));
    }
    auto replayed = store_->replay(request_ids, name, now_ms());
    if (!replayed) {
        return replayed.error();
    }
    std::lock_guard lock(mutex_);
    for (const std::string& owner : *replayed) {
        for (auto& fn : functions_) {
            if (fn->settings.name == owner) {
                ++fn->stats.queue_depth;
                wake_function(*fn);
            }
        }
    }
    if (!replayed->empty()) {
        logger().info("dead letters replayed count={}", replayed->size());
    }
    return replayed->size();
}

HostStats FunctionHost::stats() const {
    std::lock_guard lock(mutex_);
    HostStats out;
    for (const auto& fn : functions_) {
        FunctionStats s = fn->stats;
        s.environments = fn->environments.size();
        for (const auto& env : fn->environments) {
            if (env->api && env->worker && !env->worker->exited() && env->api->ready()) {
                ++s.environments_ready;
            }
        }
        out.functions[fn->settings.name] = std::move(s);
    }
    return out;
}

// --- environments ---

void FunctionHost::start_worker(Environment& env, std::unique_lock<std::mutex>& lock) {
    Function& fn = *env.fn;
    WorkerSpec spec;
    spec.argv = fn.settings.argv;
    spec.environment = fn.settings.environment;
    spec.environment["AWS_LAMBDA_RUNTIME_API"] = env.api->address();
    spec.function_name = fn.settings.name;
    spec.environment_index = static_cast<int>(env.index);
    spec.max_log_line_bytes = options_.max_log_line_bytes;
    Environment* raw = &env;
    lock.unlock();
    env.api->begin_worker();
    auto spawned = WorkerProcess::spawn(spec, [this, raw] { notify_environment(*raw); });
    lock.lock();
    if (!spawned) {
        ++fn.stats.init_failures;
        const milliseconds delay = env.backoff.failure();
        env.restart_at = std::chrono::steady_clock::now() + delay;
        logger().error("cannot start worker function={} env={} error={} retry_in_ms={}",
                       fn.settings.name, env.index, spawned.error().message, delay.count());
        return;
    }
    ++fn.stats.worker_starts;
    env.worker = std::move(*spawned);
    env.completed_since_spawn = 0;
    env.init_deadline = std::chrono::steady_clock::now() + options_.init_timeout;
    logger().debug("worker started function={} env={} pid={}", fn.settings.name, env.index,
                   env.worker->pid());
}

void FunctionHost::retire_worker(Environment& env, std::unique_lock<std::mutex>& lock, bool failed,
                                 const std::string& why) {
    Function& fn = *env.fn;
    std::unique_ptr<WorkerProcess> worker = std::move(env.worker);
    milliseconds delay{0};
    if (failed) {
        delay = env.backoff.failure();
    }
    env.restart_at = std::chrono::steady_clock::now() + delay;
    if (failed) {
        logger().warn("worker failed function={} env={} reason=\"{}\" restart_in_ms={}",
                      fn.settings.name, env.index, escape_log_text(why), delay.count());
    } else {
        logger().debug("worker retired function={} env={} reason=\"{}\"", fn.settings.name,
                       env.index, escape_log_text(why));
    }
    lock.unlock();
    if (worker) {
        worker->kill();
        worker.reset();  // reaps and joins its monitor (which takes mutex_ to notify)
    }
    lock.lock();
}

void FunctionHost::release(Function& fn, const std::string& request_id) {
    // The caller holds mutex_.
    if (fn.in_flight.erase(request_id) > 0 && fn.busy > 0) {
        --fn.busy;
    }
    wake_function(fn);
}

void FunctionHost::run_environment(Environment& env) {
    Function& fn = *env.fn;
    const std::size_t head_limit = fn.settings.environments + 1;  // in flight <= environments
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        const SteadyTime now = std::chrono::steady_clock::now();
        if (!env.worker) {
            if (now < env.restart_at) {
                env.cv.wait_until(lock, env.restart_at);
                continue;
            }
            start_worker(env, lock);
            continue;
        }
        if (env.worker->exited()) {
            const auto status = env.worker->exit_status();
            const bool did_work = env.completed_since_spawn > 0;
            std::string why = "exited (" + (status ? status->describe() : std::string("?")) + ")";
            if (auto failure = env.api->init_failure()) {
                why += " after init error " + failure->error_type + ": " + failure->error_message;
            } else {
                why += env.api->ready() ? " while idle" : " before polling /next";
            }
            if (!env.api->ready()) {
                ++fn.stats.init_failures;
            }
            retire_worker(env, lock, !did_work, why);
            continue;
        }
        if (auto failure = env.api->init_failure()) {
            ++fn.stats.init_failures;
            retire_worker(env, lock, true,
                          "init error " + failure->error_type + ": " + failure->error_message);
            continue;
        }
        if (!env.api->next_waiting()) {
            if (!env.api->ready()) {
                if (now >= env.init_deadline) {
                    ++fn.stats.init_failures;
                    retire_worker(env, lock, true,
                                  "did not poll /next within " +
                                      std::to_string(options_.init_timeout.count()) + " ms");
                    continue;
                }
                env.cv.wait_until(lock, env.init_deadline);
            } else {
                env.cv.wait_for(lock, options_.idle_poll);
            }
            continue;
        }
        // Idle and polling: look for work.
        if (now < env.claims_paused_until) {
            env.cv.wait_until(lock, env.claims_paused_until);
            continue;
        }
        if (fn.busy >= fn.cap) {
            env.cv.wait_for(lock, options_.idle_poll);
            continue;
        }
        const std::uint64_t epoch = fn.work_epoch;
        lock.unlock();
        auto heads = store_->heads(fn.settings.name, head_limit);
        lock.lock();
        if (stopping_) {
            break;
        }
        if (!heads) {
            logger().error("cannot read the invocation queue function={} error={}",
                           fn.settings.name, heads.error().message);
            env.claims_paused_until = std::chrono::steady_clock::now() + options_.idle_poll;
            continue;
        }
        const std::int64_t wall_now = now_ms();
        std::optional<std::string> picked;
        SteadyTime wake_at = std::chrono::steady_clock::now() + options_.idle_poll;
        for (const QueueHead& head : *heads) {
            if (fn.in_flight.count(head.request_id) > 0) {
                continue;
            }
            if (head.next_attempt_ms <= wall_now) {
                picked = head.request_id;
            } else {
                wake_at = std::min(wake_at, std::chrono::steady_clock::now() +
                                                milliseconds(head.next_attempt_ms - wall_now));
            }
            break;
        }
        if (!picked || fn.busy >= fn.cap || !env.api->next_waiting() || env.worker->exited()) {
            if (fn.work_epoch == epoch) {
                env.cv.wait_until(lock, wake_at);
            }
            continue;
        }
        fn.in_flight.insert(*picked);
        ++fn.busy;
        run_invocation(env, *picked, lock);
    }
    if (env.worker) {
        retire_worker(env, lock, false, "host stopping");
    }
}

void FunctionHost::run_invocation(Environment& env, const std::string& request_id,
                                  std::unique_lock<std::mutex>& lock) {
    Function& fn = *env.fn;
    const FunctionSettings& settings = fn.settings;

    // Read the row after the claim: a retry scheduled by another environment just before is seen.
    lock.unlock();
    auto loaded = store_->get(request_id);
    const std::int64_t wall_now = now_ms();
    if (!loaded || !*loaded || (*loaded)->next_attempt_ms > wall_now) {
        if (!loaded) {
            logger().error("cannot read invocation function={} request_id={} error={}",
                           settings.name, request_id, loaded.error().message);
        }
        lock.lock();
        if (!loaded) {
            env.claims_paused_until = std::chrono::steady_clock::now() + options_.idle_poll;
        }
        release(fn, request_id);
        return;
    }
    QueuedInvocation inv = std::move(**loaded);
    std::optional<FunctionErrorInfo> last_error;
    if (inv.attempts > 0) {
        last_error = FunctionErrorInfo{inv.last_error_type, inv.last_error_message};
    }
    // Attempts and age are checked before every attempt.
    std::optional<DeadLetterCondition> expired;
    if (wall_now - inv.enqueued_ms >= settings.max_event_age.count()) {
        expired = DeadLetterCondition::EventAgeExceeded;
    } else if (inv.attempts >= settings.max_retry_attempts + 1) {
        expired = DeadLetterCondition::RetriesExhausted;
    }
    if (expired) {
        const int attempts = inv.attempts;
        auto written = write_dead_letter(fn, std::move(inv), *expired, attempts, last_error,
                                         /*was_queued=*/true);
        lock.lock();
        if (!written) {
            env.claims_paused_until = std::chrono::steady_clock::now() + options_.idle_poll;
        }
        release(fn, request_id);
        return;
    }

    const int attempt = inv.attempts + 1;
    InvocationRequest request;
    request.request_id = inv.request_id;
    request.payload = inv.payload;
    request.deadline_ms = now_ms() + settings.timeout.count();
    request.function_arn = settings.arn;
    request.trace_id = inv.trace_id;
    lock.lock();
    const SteadyTime started = std::chrono::steady_clock::now();
    const SteadyTime deadline = started + settings.timeout;
    if (auto assigned = env.api->assign(std::move(request)); !assigned) {
        logger().error("cannot assign invocation function={} env={} error={}", settings.name,
                       env.index, assigned.error().message);
        release(fn, request_id);
        return;
    }
    ++fn.stats.invocations;
    ++fn.stats.in_flight;

    enum class End { Outcome, Exited, Timeout, Stopped };
    End end;
    for (;;) {
        if (env.api->has_outcome()) {
            end = End::Outcome;
            break;
        }
        if (env.worker->exited()) {
            end = End::Exited;
            break;
        }
        const SteadyTime now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            end = End::Timeout;
            break;
        }
        SteadyTime until = deadline;
        if (stopping_) {
            if (now >= stop_deadline_) {
                end = End::Stopped;
                break;
            }
            until = std::min(until, stop_deadline_);
        }
        env.cv.wait_until(lock, until);
    }
    --fn.stats.in_flight;
    const double duration_ms = millis_since(started);

    if (end == End::Stopped) {
        env.api->cancel();
        logger().info("invocation left queued for the next start function={} request_id={}",
                      settings.name, request_id);
        release(fn, request_id);
        retire_worker(env, lock, false, "host stopping with an invocation running");
        return;
    }

    std::optional<RuntimeOutcome> outcome;
    std::string error_type;
    std::string error_message;
    bool worker_failed = false;
    switch (end) {
    case End::Outcome:
        outcome = env.api->take_outcome();
        ++env.completed_since_spawn;
        env.backoff.reset();
        if (outcome && outcome->kind == RuntimeOutcome::Kind::Success) {
            ++fn.stats.successes;
        } else if (outcome) {
            ++fn.stats.function_errors;
            error_type = outcome->error_type;
            error_message = outcome->error_message;
        }
        break;
    case End::Exited: {
        env.api->cancel();
        ++fn.stats.crashes;
        const auto status = env.worker->exit_status();
        error_type = "Runtime.ExitError";
        error_message = "RequestId: " + request_id + " Error: Runtime exited with error: " +
                        (status ? status->describe() : std::string("unknown status"));
        worker_failed = env.completed_since_spawn == 0;
        break;
    }
    case End::Timeout:
        env.api->cancel();
        env.worker->kill();
        ++fn.stats.timeouts;
        error_type = "Sandbox.Timedout";
        error_message = "RequestId: " + request_id + " Error: Task timed out after " +
                        seconds_text(settings.timeout) + " seconds";
        break;
    case End::Stopped:
        break;
    }
    add_duration(fn.stats, duration_ms);
    lock.unlock();

    if (error_type.empty()) {
        if (auto done = store_->complete(request_id); !done) {
            // The row stays queued: the event will run again (at-least-once).
            logger().error("cannot record success function={} request_id={} error={}",
                           settings.name, request_id, done.error().message);
        } else if (*done) {
            std::lock_guard relock(mutex_);
            if (fn.stats.queue_depth > 0) {
                --fn.stats.queue_depth;
            }
        }
        Completion c;
        c.request_id = request_id;
        c.function = settings.name;
        c.outcome = CompletionOutcome::Succeeded;
        c.attempt = attempt;
        c.duration_ms = duration_ms;
        complete(c);
    } else {
        record_failure(fn, inv, attempt, error_type, error_message, duration_ms);
    }

    lock.lock();
    release(fn, request_id);
    if (end == End::Exited) {
        const auto status = env.worker->exit_status();
        retire_worker(env, lock, worker_failed,
                      "exited (" + (status ? status->describe() : std::string("?")) +
                          ") during invocation " + request_id);
    } else if (end == End::Timeout) {
        retire_worker(env, lock, false, "killed after the timeout of invocation " + request_id);
    }
}

void FunctionHost::record_failure(Function& fn, const QueuedInvocation& inv, int attempt,
                                  const std::string& error_type, const std::string& error_message,
                                  double duration_ms) {
    const FunctionSettings& settings = fn.settings;
    FunctionErrorInfo error{error_type, error_message};
    if (settings.non_retryable_error_types.count(error_type) > 0) {
        (void)write_dead_letter(fn, inv, DeadLetterCondition::Rejected, attempt, error,
                                /*was_queued=*/true, duration_ms);
        return;
    }
    if (attempt >= settings.max_retry_attempts + 1) {
        (void)write_dead_letter(fn, inv, DeadLetterCondition::RetriesExhausted, attempt, error,
                                /*was_queued=*/true, duration_ms);
        return;
    }
    // AWS waits about a minute before the first retry and two before the second.
    const milliseconds delay = settings.retry_base_delay * (1LL << (attempt - 1));
    if (auto r = store_->reschedule(inv.request_id, attempt, now_ms() + delay.count(), error_type,
                                    error_message);
        !r) {
        logger().error("cannot schedule retry function={} request_id={} error={}", settings.name,
                       inv.request_id, r.error().message);
        return;
    }
    {
        std::lock_guard lock(mutex_);
        ++fn.stats.retries;
    }
    logger().info("invocation failed, will retry function={} request_id={} attempt={} "
                  "error_type=\"{}\" retry_in_ms={}",
                  settings.name, inv.request_id, attempt, escape_log_text(error_type),
                  delay.count());
    Completion c;
    c.request_id = inv.request_id;
    c.function = settings.name;
    c.outcome = CompletionOutcome::Retrying;
    c.attempt = attempt;
    c.error_type = error_type;
    c.error_message = error_message;
    c.duration_ms = duration_ms;
    complete(c);
}

}  // namespace pf::lambda
