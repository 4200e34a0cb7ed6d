#include "lambda/runtime_api_server.h"

#include "base/json_depth.h"
#include "base/logging.h"
#include "http/server.h"

#include <nlohmann/json.hpp>

#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::lambda {
namespace {

constexpr std::string_view kPrefix = "/2018-06-01/runtime/";
constexpr std::string_view kInvocation = "invocation/";
constexpr std::size_t kMaxRequestIdBytes = 128;
constexpr std::size_t kMaxErrorJsonDepth = 32;

spdlog::logger& logger() {
    static auto instance = component_logger("lambda");
    return *instance;
}

using Headers = std::vector<std::pair<std::string, std::string>>;

void reply(http::Response& response, int status, const std::string& body, Headers headers = {}) {
    headers.emplace_back("Content-Type", "application/json");
    if (!response.start(status, std::move(headers), body.size())) {
        return;
    }
    (void)response.write(std::span<const char>(body.data(), body.size()));
    (void)response.finish();
}

void reply_error(http::Response& response, int status, std::string_view type,
                 std::string_view message) {
    nlohmann::json body = {{"errorMessage", message}, {"errorType", type}};
    reply(response, status, body.dump());
}

void reply_accepted(http::Response& response) {
    reply(response, 202, R"({"status":"OK"})");
}

bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > kMaxRequestIdBytes) {
        return false;
    }
    for (const char c : id) {
        const bool ok =
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

struct BodyRead {
    std::string kept;            // the first `keep` bytes
    std::uint64_t total = 0;     // bytes read
    bool over_keep = false;      // there was more than `keep`
    bool complete = false;       // read to the end (false: stopped at the drain cap)
    std::optional<Error> error;  // the connection failed; nothing can be answered
};

// Reads the body, keeping up to `keep` bytes and discarding the rest, stopping after `cap` bytes.
BodyRead read_body(http::RequestBody& body, std::size_t keep, std::size_t cap) {
    BodyRead out;
    std::vector<char> buffer(64 * 1024);
    for (;;) {
        auto n = body.read(std::span<char>(buffer.data(), buffer.size()));
        if (!n) {
            out.error = n.error();
            return out;
        }
        if (*n == 0) {
            out.complete = true;
            return out;
        }
        if (out.kept.size() < keep) {
            out.kept.append(buffer.data(), std::min<std::size_t>(*n, keep - out.kept.size()));
        }
        out.total += *n;
        if (out.total > keep) {
            out.over_keep = true;
        }
        if (out.total > cap) {
            return out;
        }
    }
}

std::string cut(std::string text, std::size_t limit) {
    if (text.size() <= limit) {
        return text;
    }
    const std::size_t dropped = text.size() - limit;
    text.resize(limit);
    text += " ...[" + std::to_string(dropped) + " bytes cut]";
    return text;
}

}  // namespace

RuntimeOutcome parse_function_error(std::string_view header_type, std::string_view body,
                                    bool body_truncated, const RuntimeApiLimits& limits) {
    RuntimeOutcome out;
    out.kind = RuntimeOutcome::Kind::FunctionError;
    std::string type;
    std::string message;
    if (!body_truncated && !body.empty()) {
        nlohmann::json parsed = nlohmann::json::value_t::discarded;
        if (!json_nesting_exceeds(body, kMaxErrorJsonDepth)) {
            parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
        }
        if (parsed.is_object()) {
            if (auto t = parsed.find("errorType"); t != parsed.end() && t->is_string()) {
                type = t->get<std::string>();
            }
            if (auto m = parsed.find("errorMessage"); m != parsed.end() && m->is_string()) {
                message = m->get<std::string>();
            }
        } else {
            message = std::string(body);  // Lambda keeps what it cannot parse as the message
        }
    }
    if (type.empty()) {
        type = std::string(header_type);
    }
    if (type.empty()) {
        type = "Unhandled";
    }
    out.error_type = cut(std::move(type), limits.max_error_type_bytes);
    out.error_message = cut(std::move(message), limits.max_error_message_bytes);
    if (body_truncated) {
        // Our own note, not the runtime's text: never cut.
        out.error_message = "the error body was larger than " +
                            std::to_string(limits.max_error_body_bytes) + " bytes and was ignored";
    }
    return out;
}

RuntimeApiServer::RuntimeApiServer(RuntimeApiLimits limits, Changed changed)
    : limits_(limits), changed_(std::move(changed)) {}

Result<std::unique_ptr<RuntimeApiServer>> RuntimeApiServer::start(RuntimeApiLimits limits,
                                                                  Changed changed) {
    std::unique_ptr<RuntimeApiServer> self(new RuntimeApiServer(limits, std::move(changed)));
    http::ServerLimits server_limits;
    server_limits.max_header_bytes = limits.max_header_bytes;
    server_limits.max_connections = limits.max_connections;
    server_limits.header_timeout = std::chrono::seconds(30);
    // Between invocations the runtime sits in /next (a handler, not an idle connection); this
    // only closes connections a runtime left open and unused.
    server_limits.idle_timeout = std::chrono::seconds(300);
    server_limits.body_progress_timeout = std::chrono::seconds(30);
    server_limits.write_timeout = std::chrono::seconds(30);
    server_limits.shutdown_grace = std::chrono::seconds(2);
    RuntimeApiServer* raw = self.get();
    auto server = http::Server::listen(
        "127.0.0.1", 0, server_limits,
        [raw](const http::Request& request, http::RequestBody& body, http::Response& response) {
            raw->handle(request, body, response);
        });
    if (!server) {
        return server.error();
    }
    self->server_ = std::move(*server);
    self->thread_ = std::thread([raw] { raw->server_->run(); });
    return self;
}

RuntimeApiServer::~RuntimeApiServer() {
    stop();
}

void RuntimeApiServer::stop() {
    {
        std::lock_guard lock(mutex_);
        stopped_ = true;
    }
    cv_.notify_all();
    if (server_) {
        server_->stop();
    }
    if (thread_.joinable()) {
        thread_.join();
    }
}

std::string RuntimeApiServer::address() const {
    return "127.0.0.1:" + std::to_string(server_->port());
}

void RuntimeApiServer::notify() {
    if (changed_) {
        changed_();
    }
}

void RuntimeApiServer::begin_worker() {
    {
        std::lock_guard lock(mutex_);
        ++generation_;
        ready_ = false;
        waiting_ticket_ = 0;
        active_.reset();
        outcome_.reset();
        init_failure_.reset();
    }
    cv_.notify_all();
}

bool RuntimeApiServer::ready() const {
    std::lock_guard lock(mutex_);
    return ready_;
}

bool RuntimeApiServer::next_waiting() const {
    std::lock_guard lock(mutex_);
    return waiting_ticket_ != 0 && !active_;
}

Result<void> RuntimeApiServer::assign(InvocationRequest request) {
    {
        std::lock_guard lock(mutex_);
        if (active_) {
            return make_error(ErrorCode::PreconditionFailed,
                              "the environment already has invocation " +
                                  active_->request.request_id);
        }
        active_ = Active{std::move(request), false};
        outcome_.reset();
    }
    cv_.notify_all();
    return {};
}

bool RuntimeApiServer::delivered() const {
    std::lock_guard lock(mutex_);
    return active_ && active_->delivered;
}

bool RuntimeApiServer::has_outcome() const {
    std::lock_guard lock(mutex_);
    return outcome_.has_value();
}

std::optional<RuntimeOutcome> RuntimeApiServer::take_outcome() {
    std::lock_guard lock(mutex_);
    if (!outcome_) {
        return std::nullopt;
    }
    std::optional<RuntimeOutcome> out = std::move(outcome_);
    outcome_.reset();
    active_.reset();
    return out;
}

void RuntimeApiServer::cancel() {
    {
        std::lock_guard lock(mutex_);
        active_.reset();
        outcome_.reset();
    }
    cv_.notify_all();
}

std::optional<InitFailure> RuntimeApiServer::init_failure() const {
    std::lock_guard lock(mutex_);
    return init_failure_;
}

bool RuntimeApiServer::current(const std::string& request_id) const {
    std::lock_guard lock(mutex_);
    return active_ && active_->delivered && !outcome_ && active_->request.request_id == request_id;
}

bool RuntimeApiServer::settle(const std::string& request_id, RuntimeOutcome outcome) {
    std::lock_guard lock(mutex_);
    if (!(active_ && active_->delivered && !outcome_ &&
          active_->request.request_id == request_id)) {
        return false;
    }
    outcome_ = std::move(outcome);
    return true;
}

void RuntimeApiServer::handle(const http::Request& request, http::RequestBody& body,
                              http::Response& response) {
    std::string_view path = request.path();
    if (path.substr(0, kPrefix.size()) != kPrefix) {
        reply_error(response, 404, "NotFound", "unknown Runtime API path");
        return;
    }
    path.remove_prefix(kPrefix.size());
    if (path == "init/error") {
        if (request.method != "POST") {
            reply_error(response, 405, "MethodNotAllowed", "use POST");
            return;
        }
        handle_init_error(request, body, response);
        return;
    }
    if (path.substr(0, kInvocation.size()) != kInvocation) {
        reply_error(response, 404, "NotFound", "unknown Runtime API path");
        return;
    }
    path.remove_prefix(kInvocation.size());
    if (path == "next") {
        if (request.method != "GET") {
            reply_error(response, 405, "MethodNotAllowed", "use GET");
            return;
        }
        handle_next(response);
        return;
    }
    const auto slash = path.find('/');
    if (slash == std::string_view::npos) {
        reply_error(response, 404, "NotFound", "unknown Runtime API path");
        return;
    }
    const std::string_view id = path.substr(0, slash);
    const std::string_view action = path.substr(slash + 1);
    if (action != "response" && action != "error") {
        reply_error(response, 404, "NotFound", "unknown Runtime API path");
        return;
    }
    if (request.method != "POST") {
        reply_error(response, 405, "MethodNotAllowed", "use POST");
        return;
    }
    if (!valid_request_id(id)) {
        reply_error(response, 400, "InvalidRequestID", "malformed request id");
        return;
    }
    if (action == "response") {
        handle_response(std::string(id), request, body, response);
    } else {
        handle_error(std::string(id), request, body, response);
    }
}

void RuntimeApiServer::handle_next(http::Response& response) {
    std::unique_lock lock(mutex_);
    if (stopped_) {
        lock.unlock();
        reply_error(response, 500, "Runtime.Stopped", "the function host is stopping");
        return;
    }
    const std::uint64_t generation = generation_;
    const std::uint64_t ticket = ++next_ticket_;
    // A newer /next supersedes an older one: a runtime polls once at a time, so the older one
    // belongs to a connection nobody reads any more.
    waiting_ticket_ = ticket;
    ready_ = true;
    cv_.notify_all();
    lock.unlock();
    notify();
    lock.lock();
    cv_.wait(lock, [&] {
        return stopped_ || generation_ != generation || waiting_ticket_ != ticket ||
               (active_ && !active_->delivered);
    });
    if (stopped_ || generation_ != generation || waiting_ticket_ != ticket) {
        if (waiting_ticket_ == ticket) {
            waiting_ticket_ = 0;
        }
        lock.unlock();
        reply_error(response, 500, "Runtime.Superseded",
                    "this poll was superseded or the environment is shutting down");
        return;
    }
    active_->delivered = true;
    waiting_ticket_ = 0;
    const InvocationRequest invocation = active_->request;
    lock.unlock();

    Headers headers = {
        {"Lambda-Runtime-Aws-Request-Id", invocation.request_id},
        {"Lambda-Runtime-Deadline-Ms", std::to_string(invocation.deadline_ms)},
        {"Lambda-Runtime-Invoked-Function-Arn", invocation.function_arn},
        {"Lambda-Runtime-Trace-Id", invocation.trace_id},
        {"Content-Type", "application/json"},
    };
    auto started = response.start(200, std::move(headers), invocation.payload.size());
    Result<void> written = started ? response.write(std::span<const char>(
                                         invocation.payload.data(), invocation.payload.size()))
                                   : started;
    if (written) {
        written = response.finish();
    }
    if (!written) {
        // The poller went away before it got the event: hand it to the next /next instead.
        logger().debug("runtime api: /next delivery failed request_id={} error={}",
                       invocation.request_id, written.error().message);
        std::lock_guard relock(mutex_);
        if (active_ && active_->request.request_id == invocation.request_id && !outcome_) {
            active_->delivered = false;
        }
    }
}

void RuntimeApiServer::handle_response(const std::string& request_id, const http::Request&,
                                       http::RequestBody& body, http::Response& response) {
    if (!current(request_id)) {
        reply_error(response, 400, "InvalidRequestID",
                    "unknown or finished request id " + request_id);
        return;
    }
    BodyRead read = read_body(body, limits_.max_response_bytes, limits_.max_drain_bytes);
    if (read.error) {
        logger().debug("runtime api: response body failed request_id={} error={}", request_id,
                       read.error->message);
        return;  // the connection is gone; the invocation stays open (crash or timeout ends it)
    }
    RuntimeOutcome outcome;
    outcome.response_bytes = read.total;
    if (read.over_keep) {
        outcome.kind = RuntimeOutcome::Kind::FunctionError;
        outcome.error_type = "Function.ResponseSizeTooLarge";
        outcome.error_message = "Response payload size exceeded maximum allowed payload size (" +
                                std::to_string(limits_.max_response_bytes) + " bytes).";
    }
    if (!settle(request_id, outcome)) {
        reply_error(response, 400, "InvalidRequestID",
                    "unknown or finished request id " + request_id);
        return;
    }
    notify();
    if (read.over_keep) {
        if (!read.complete) {
            response.close_after();
        }
        reply_error(response, 413, "RequestEntityTooLarge", outcome.error_message);
        return;
    }
    reply_accepted(response);
}

void RuntimeApiServer::handle_error(const std::string& request_id, const http::Request& request,
                                    http::RequestBody& body, http::Response& response) {
    if (!current(request_id)) {
        reply_error(response, 400, "InvalidRequestID",
                    "unknown or finished request id " + request_id);
        return;
    }
    BodyRead read = read_body(body, limits_.max_error_body_bytes, limits_.max_drain_bytes);
    if (read.error) {
        return;
    }
    const std::string_view header_type =
        request.header("lambda-runtime-function-error-type").value_or("");
    RuntimeOutcome outcome = parse_function_error(header_type, read.kept, read.over_keep, limits_);
    if (!settle(request_id, outcome)) {
        reply_error(response, 400, "InvalidRequestID",
                    "unknown or finished request id " + request_id);
        return;
    }
    notify();
    if (!read.complete) {
        response.close_after();
    }
    reply_accepted(response);
}

void RuntimeApiServer::handle_init_error(const http::Request& request, http::RequestBody& body,
                                         http::Response& response) {
    if (ready()) {
        reply_error(response, 403, "InvalidStateTransition",
                    "init/error after the runtime polled /next");
        return;
    }
    BodyRead read = read_body(body, limits_.max_error_body_bytes, limits_.max_drain_bytes);
    if (read.error) {
        return;
    }
    const std::string_view header_type =
        request.header("lambda-runtime-function-error-type").value_or("");
    RuntimeOutcome parsed = parse_function_error(header_type, read.kept, read.over_keep, limits_);
    bool recorded = false;
    {
        std::lock_guard lock(mutex_);
        if (!ready_) {
            init_failure_ =
                InitFailure{std::move(parsed.error_type), std::move(parsed.error_message)};
            recorded = true;
        }
    }
    if (!recorded) {
        reply_error(response, 403, "InvalidStateTransition",
                    "init/error after the runtime polled /next");
        return;
    }
    notify();
    if (!read.complete) {
        response.close_after();
    }
    reply_accepted(response);
}

}  // namespace pf::lambda
