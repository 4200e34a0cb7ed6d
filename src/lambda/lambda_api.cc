#include "lambda/lambda_api.h"

#include "aws/header_auth.h"
#include "aws/uri_encoding.h"
#include "base/json_depth.h"
#include "crypto/digest.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdio>
#include <ctime>

namespace pf::lambda {
namespace {

constexpr std::string_view kInvokePrefix = "/2015-03-31/functions/";
constexpr std::string_view kInvokeSuffix = "/invocations";
constexpr std::string_view kDeadLetters = "/_/lambda/dead-letters";
constexpr std::string_view kReplay = "/_/lambda/dead-letters/replay";

void reply(http::Response& response, int status, const nlohmann::json& body,
           std::vector<std::pair<std::string, std::string>> headers = {}) {
    std::string text = body.dump();
    headers.emplace_back("Content-Type", "application/json");
    if (response.start(status, std::move(headers), text.size())) {
        (void)response.write(text);
    }
}

void reply_error(http::Response& response, int status, std::string_view type,
                 const std::string& message) {
    reply(response, status,
          {{"Type", status >= 500 ? "Service" : "User"}, {"message", message}},
          {{"x-amzn-ErrorType", std::string(type)}});
}

// The error a host failure becomes.
void reply_host_error(http::Response& response, const Error& e) {
    switch (e.code) {
    case ErrorCode::NotFound:
        return reply_error(response, 404, "ResourceNotFoundException", e.client_message());
    case ErrorCode::TooLarge:
        return reply_error(response, 413, "RequestTooLargeException", e.client_message());
    case ErrorCode::InvalidArgument:
    case ErrorCode::CorruptInput:
        return reply_error(response, 400, "InvalidRequestContentException", e.client_message());
    default:
        return reply_error(response, 500, "ServiceException", e.client_message());
    }
}

// Reads the whole body up to `limit`; nullopt when it is longer (or the connection failed).
std::optional<std::string> read_body(http::RequestBody& body, std::size_t limit) {
    std::string out;
    char buffer[64 * 1024];
    while (true) {
        auto n = body.read(std::span<char>(buffer, sizeof buffer));
        if (!n) return std::nullopt;
        if (*n == 0) return out;
        if (out.size() + *n > limit) return std::nullopt;
        out.append(buffer, *n);
    }
}

std::string iso_millis(std::int64_t ms) {
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
}

// A stored JSON text as a JSON value (a damaged one as its text, so nothing is hidden).
nlohmann::json json_or_text(const std::string& text) {
    auto value = nlohmann::json::parse(text, nullptr, false);
    return value.is_discarded() ? nlohmann::json(text) : value;
}

}  // namespace

LambdaApi::LambdaApi(FunctionHost& host, Options options)
    : host_(host), options_(std::move(options)) {}

bool LambdaApi::is_lambda_request(const http::Request& request) {
    if (request.path().starts_with("/_/lambda/")) return true;
    auto authorization = request.header("authorization");
    return authorization && authorization->find("/lambda/aws4_request") != std::string_view::npos;
}

void LambdaApi::handle(const http::Request& request, http::RequestBody& body,
                       http::Response& response) {
    auto text = read_body(body, options_.max_body_bytes);
    if (!text) {
        response.close_after();
        return reply_error(response, 413, "RequestTooLargeException",
                           "Request must be smaller than " +
                               std::to_string(options_.max_body_bytes) + " bytes for the " +
                               "Invoke operation");
    }
    aws::HeaderList headers(request.headers.begin(), request.headers.end());
    aws::HeaderAuthRequest auth_request{request.method, request.path(), request.query(), &headers,
                                        crypto::sha256_hex(*text)};
    aws::HeaderAuthOptions auth_options{"lambda", options_.secret_for,
                                        std::chrono::system_clock::now(), options_.max_clock_skew};
    auto caller = aws::verify_header_signature(auth_request, auth_options);
    if (!caller) {
        const Error& e = caller.error();
        switch (e.code) {
        case ErrorCode::Unauthenticated:
            return reply_error(response, 403, "MissingAuthenticationTokenException", e.message);
        case ErrorCode::NotFound:
            return reply_error(response, 403, "UnrecognizedClientException", e.message);
        case ErrorCode::InvalidArgument:
            return reply_error(response, 403, "IncompleteSignatureException", e.message);
        default:
            return reply_error(response, 403, "InvalidSignatureException", e.message);
        }
    }

    auto path = aws::percent_decode_path(request.path());
    if (!path) {
        return reply_error(response, 400, "InvalidRequestContentException", "malformed path");
    }
    if (path->starts_with(kInvokePrefix) && path->ends_with(kInvokeSuffix) &&
        path->size() > kInvokePrefix.size() + kInvokeSuffix.size()) {
        if (request.method != "POST") {
            return reply_error(response, 405, "MethodNotAllowedException", "Invoke is a POST");
        }
        std::string function = path->substr(
            kInvokePrefix.size(), path->size() - kInvokePrefix.size() - kInvokeSuffix.size());
        return invoke(request, function, std::move(*text), response);
    }
    if (*path == kDeadLetters && request.method == "GET") {
        return list_dead_letters(request, response);
    }
    if (*path == kReplay && request.method == "POST") {
        return replay(*text, response);
    }
    reply_error(response, 404, "ResourceNotFoundException",
                "No Lambda API operation at " + request.method + " " + *path +
                    " (photoflux serve offers Invoke and /_/lambda/dead-letters)");
}

void LambdaApi::invoke(const http::Request& request, const std::string& function, std::string body,
                       http::Response& response) {
    std::string type(request.header("x-amz-invocation-type").value_or("RequestResponse"));
    if (!host_.has_function(function)) {
        return reply_error(response, 404, "ResourceNotFoundException",
                           "Function not found: " + function);
    }
    if (type == "DryRun") {
        return reply(response, 204, nullptr);
    }
    if (type != "Event") {
        return reply_error(response, 400, "InvalidRequestContentException",
                           "photoflux serve runs functions asynchronously, as S3 invokes them: "
                           "use --invocation-type Event (got " + type + ")");
    }
    if (body.empty()) body = "{}";
    std::string trace(request.header("x-amzn-trace-id").value_or(""));
    auto id = host_.invoke_async(function, body, trace);
    if (!id) {
        return reply_host_error(response, id.error());
    }
    if (response.start(202, {{"x-amzn-RequestId", *id}, {"Content-Type", "application/json"}},
                       0)) {
        (void)response.finish();
    }
}

void LambdaApi::list_dead_letters(const http::Request& request, http::Response& response) {
    auto query = aws::parse_query(request.query());
    std::optional<std::string> function;
    std::size_t max_items = 100;
    for (const auto& [name, value] : query.value_or(aws::QueryParams{})) {
        if (name == "FunctionName" && !value.empty()) {
            function = value;
        } else if (name == "MaxItems") {
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), max_items);
            if (ec != std::errc() || end != value.data() + value.size() || max_items < 1 ||
                max_items > 10000) {
                return reply_error(response, 400, "InvalidParameterValueException",
                                   "MaxItems must be between 1 and 10000");
            }
        }
    }
    if (function && !host_.has_function(*function)) {
        return reply_error(response, 404, "ResourceNotFoundException",
                           "Function not found: " + *function);
    }
    auto letters = host_.dead_letters(function, max_items);
    if (!letters) {
        return reply_host_error(response, letters.error());
    }
    nlohmann::json list = nlohmann::json::array();
    for (const auto& d : *letters) {
        const auto& inv = d.invocation;
        list.push_back({{"id", inv.request_id},
                        {"function", inv.function},
                        {"condition", d.condition},
                        {"errorType", inv.last_error_type},
                        {"errorMessage", inv.last_error_message},
                        {"attempts", inv.attempts},
                        {"enqueuedAt", iso_millis(inv.enqueued_ms)},
                        {"deadAt", iso_millis(d.dead_at_ms)},
                        {"traceId", inv.trace_id},
                        {"payload", json_or_text(inv.payload)},
                        {"record", json_or_text(d.record)}});
    }
    reply(response, 200, {{"DeadLetters", list}});
}

void LambdaApi::replay(const std::string& body, http::Response& response) {
    if (json_nesting_exceeds(body, 8)) {
        return reply_error(response, 400, "InvalidRequestContentException", "body nested too deep");
    }
    auto doc = nlohmann::json::parse(body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return reply_error(response, 400, "InvalidRequestContentException",
                           "the body must be a JSON object: {\"RequestIds\":[...]}, "
                           "{\"FunctionName\":\"...\"} or {\"All\":true}");
    }
    std::vector<std::string> ids;
    if (auto it = doc.find("RequestIds"); it != doc.end()) {
        if (!it->is_array() || it->empty() || it->size() > 10000) {
            return reply_error(response, 400, "InvalidRequestContentException",
                               "RequestIds must be a list of 1 to 10000 ids");
        }
        for (const auto& id : *it) {
            if (!id.is_string()) {
                return reply_error(response, 400, "InvalidRequestContentException",
                                   "RequestIds must hold strings");
            }
            ids.push_back(id.get<std::string>());
        }
    }
    std::optional<std::string> function;
    if (auto it = doc.find("FunctionName"); it != doc.end()) {
        if (!it->is_string()) {
            return reply_error(response, 400, "InvalidRequestContentException",
                               "FunctionName must be a string");
        }
        function = it->get<std::string>();
        if (!host_.has_function(*function)) {
            return reply_error(response, 404, "ResourceNotFoundException",
                               "Function not found: " + *function);
        }
    }
    bool all = false;
    if (auto it = doc.find("All"); it != doc.end()) {
        if (!it->is_boolean()) {
            return reply_error(response, 400, "InvalidRequestContentException",
                               "All must be true or false");
        }
        all = it->get<bool>();
    }
    if (ids.empty() && !function && !all) {
        return reply_error(response, 400, "InvalidRequestContentException",
                           "say what to replay: RequestIds, FunctionName or All");
    }
    auto replayed = host_.replay(ids, function);
    if (!replayed) {
        return reply_host_error(response, replayed.error());
    }
    reply(response, 200, {{"Replayed", *replayed}});
}

}  // namespace pf::lambda
