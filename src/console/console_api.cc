// Routing of /_/console/: pages and assets, the JSON endpoints (each a small method below) and the
// event stream. Authentication happens here, once, before any endpoint runs: a session cookie for
// everything under api/ except sign-in, plus the CSRF header for every method that changes
// something.
#include "console/console_api.h"

#include "aws/time_format.h"
#include "aws/uri_encoding.h"
#include "base/ascii.h"
#include "base/logging.h"
#include "console/activity_feed.h"
#include "console/assets.h"
#include "console/dead_letters.h"
#include "console/event_stream.h"
#include "console/photo_catalog.h"
#include "console/presigner.h"
#include "console/replies.h"
#include "console/session_store.h"
#include "crypto/constant_time.h"

#include <atomic>
#include <charconv>
#include <map>

namespace pf::console {
namespace {

using nlohmann::json;

constexpr std::string_view kApiPrefix = "/_/console/api/";
constexpr std::string_view kAssetsPrefix = "/_/console/assets/";
constexpr std::size_t kMaxSnsBody = 1024 * 1024;
constexpr std::uint64_t kMultipartThreshold = 16ull << 20;  // docs/console.md: single PUT up to
constexpr std::uint64_t kPartBytes = 8ull << 20;            // 16 MiB; parts well over S3's 5 MiB
constexpr std::size_t kMaxObjectChunk = 64 * 1024;

std::shared_ptr<spdlog::logger> logger() {
    static auto log = component_logger("console");
    return log;
}

// First value of each query parameter; nullopt when the query string is malformed.
std::optional<std::map<std::string, std::string>> query_map(const http::Request& request) {
    auto params = aws::parse_query(request.query());
    if (!params) {
        return std::nullopt;
    }
    std::map<std::string, std::string> out;
    for (auto& [name, value] : *params) {
        out.emplace(std::move(name), std::move(value));
    }
    return out;
}

std::string session_cookie(const http::Request& request) {
    for (const auto& [name, value] : request.headers) {
        if (name == "cookie") {
            if (auto found = cookie_value(value, kSessionCookie)) {
                return *found;
            }
        }
    }
    return {};
}

std::string cookie_header(const std::string& value, bool secure, bool clear) {
    std::string out = std::string(kSessionCookie) + "=" + value + "; Path=/_/; HttpOnly; SameSite=Strict";
    if (clear) {
        out += "; Max-Age=0";
    }
    if (secure) {
        out += "; Secure";
    }
    return out;
}

json session_json(const Session& session) {
    return {{"user", session.user},
            {"kind", to_string(session.kind)},
            {"csrf_token", session.csrf_token},
            {"expires_at", aws::format_iso8601_millis(std::chrono::system_clock::time_point(
                               std::chrono::milliseconds(session.expires_at_ms)))}};
}

// An Origin header, when present, must name the host the request was sent to.
bool origin_matches_host(const http::Request& request) {
    auto origin = request.header("origin");
    if (!origin) {
        return true;
    }
    auto host = request.header("host");
    auto scheme_end = origin->find("://");
    if (!host || scheme_end == std::string_view::npos) {
        return false;
    }
    return ascii_iequals(origin->substr(scheme_end + 3), *host);
}

bool is_mutating(std::string_view method) {
    return method == "POST" || method == "PUT" || method == "DELETE" || method == "PATCH";
}

void method_not_allowed(http::Response& response, std::string_view allow) {
    reply_error(response, 405, "method_not_allowed", "this endpoint answers " + std::string(allow),
                {{"Allow", std::string(allow)}});
}

// "attachment; filename*=UTF-8''<last path segment, percent-encoded>".
std::string attachment_disposition(const std::string& key) {
    auto slash = key.rfind('/');
    std::string name = slash == std::string::npos ? key : key.substr(slash + 1);
    if (name.empty()) {
        name = "download";
    }
    return "attachment; filename*=UTF-8''" + aws::uri_encode(name, false);
}

}  // namespace

struct ConsoleApi::State {
    State(ConsoleOptions o, ConsoleServices s)
        : options(std::move(o)),
          services(std::move(s)),
          sessions(clock, options.session_idle, options.max_sessions),
          limiter(clock),
          feed(options.layout.topic_arn) {
        if (services.store != nullptr) {
            catalog.emplace(*services.store, options.layout, feed);
        }
    }

    ConsoleOptions options;
    ConsoleServices services;
    SystemClock clock;
    SessionStore sessions;
    SignInLimiter limiter;
    ActivityFeed feed;
    std::optional<PhotoCatalog> catalog;

    void serve_page(const http::Request& request, http::Response& response);
    void serve_api(std::string_view endpoint, const http::Request& request,
                   http::RequestBody& body, http::Response& response);

    void get_session(const std::optional<Session>& session, http::Response& response);
    void sign_in(const http::Request& request, http::RequestBody& body, http::Response& response);
    void sign_out(const std::optional<Session>& session, const http::Request& request,
                  http::Response& response);
    void get_config(http::Response& response);
    void presign_url(const Session& session, const http::Request& request, http::RequestBody& body,
                     http::Response& response);
    void list_photos(const http::Request& request, http::Response& response);
    void get_photo(const http::Request& request, http::Response& response);
    void get_object(const http::Request& request, http::Response& response);
    void run_sns(const http::Request& request, http::RequestBody& body, http::Response& response);
    void list_dead_letters(http::Response& response);
    void replay_dead_letters(const http::Request& request, http::RequestBody& body,
                             http::Response& response);
};

ConsoleApi::ConsoleApi(ConsoleOptions options, ConsoleServices services)
    : state_(std::make_unique<State>(std::move(options), std::move(services))) {}
ConsoleApi::~ConsoleApi() = default;

bool ConsoleApi::is_console_path(std::string_view path) {
    return path == "/_/console" || path.starts_with(kConsolePath);
}

bool ConsoleApi::is_browser_root_request(const http::Request& request) {
    if (request.method != "GET" || request.path() != "/") {
        return false;
    }
    if (request.header("authorization")) {
        return false;
    }
    // Presigned ListBuckets carries its signature in the query.
    std::string query = ascii_lowercase(request.query());
    if (query.find("x-amz-") != std::string::npos) {
        return false;
    }
    auto accept = request.header("accept");
    return accept && ascii_lowercase(*accept).find("text/html") != std::string::npos;
}

void ConsoleApi::redirect_to_console(http::Response& response) {
    (void)response.start(302, {{"Location", std::string(kConsolePath)}, {"Cache-Control", "no-store"}},
                         0);
}

void ConsoleApi::handle(const http::Request& request, http::RequestBody& body,
                        http::Response& response) {
    std::string_view path = request.path();
    if (path == "/_/console") {
        return redirect_to_console(response);
    }
    if (path.starts_with(kApiPrefix)) {
        return state_->serve_api(path.substr(kApiPrefix.size()), request, body, response);
    }
    if (path.starts_with(kConsolePath)) {
        return state_->serve_page(request, response);
    }
    reply_error(response, 404, "not_found", "not a console path");
}

void ConsoleApi::State::serve_page(const http::Request& request, http::Response& response) {
    if (request.method != "GET" && request.method != "HEAD") {
        return method_not_allowed(response, "GET, HEAD");
    }
    const auto assets = embedded_assets();
    std::string_view path = request.path();
    if (path.starts_with(kAssetsPrefix)) {
        auto decoded = aws::percent_decode_path(path.substr(kConsolePath.size()));
        const EmbeddedAsset* asset = decoded ? find_asset(assets, *decoded) : nullptr;
        if (asset == nullptr) {
            return reply_error(response, 404, "not_found", "no such console asset");
        }
        return serve_asset(request, *asset, response);
    }
    // Every other path is a page of the client-side application.
    if (const EmbeddedAsset* index = find_asset(assets, "index.html")) {
        return serve_asset(request, *index, response);
    }
    serve_missing_assets_page(request, response);
}

void ConsoleApi::State::serve_api(std::string_view endpoint, const http::Request& request,
                                  http::RequestBody& body, http::Response& response) {
    const std::string& method = request.method;
    std::optional<Session> session;
    if (std::string cookie = session_cookie(request); !cookie.empty()) {
        session = sessions.find(cookie);
    }

    if (endpoint == "session") {
        if (method == "GET") return get_session(session, response);
        if (method == "POST") return sign_in(request, body, response);
        if (method == "DELETE") return sign_out(session, request, response);
        return method_not_allowed(response, "GET, POST, DELETE");
    }

    // Which endpoints exist and what they answer, checked before authentication would reveal
    // nothing: every path below needs a session anyway.
    static const std::map<std::string_view, std::string_view> kMethods = {
        {"config", "GET"},
        {"photos", "GET"},
        {"photo", "GET"},
        {"object", "GET, HEAD"},
        {"events", "GET"},
        {"presign", "POST"},
        {"sns", "POST"},
        {"settings", "GET"},
        {"function-dead-letters", "GET"},
        {"function-dead-letters/replay", "POST"},
    };
    auto known = kMethods.find(endpoint);
    if (known == kMethods.end()) {
        return reply_error(response, 404, "not_found", "no such console endpoint");
    }
    if (!session) {
        return reply_error(response, 401, "unauthenticated", "sign in first");
    }
    // Exact token match against the allowed list ("GET, HEAD").
    bool allowed = false;
    for (std::string_view list = known->second; !list.empty();) {
        auto comma = list.find(", ");
        allowed = allowed || list.substr(0, comma) == method;
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 2);
    }
    if (!allowed) {
        return method_not_allowed(response, known->second);
    }
    if (is_mutating(method)) {
        auto token = request.header("x-csrf-token");
        if (!token || !csrf_matches(*session, *token)) {
            return reply_error(response, 403, "csrf",
                               "the X-CSRF-Token header is missing or does not match the session");
        }
    }

    if (endpoint == "config") return get_config(response);
    if (endpoint == "photos") return list_photos(request, response);
    if (endpoint == "photo") return get_photo(request, response);
    if (endpoint == "object") return get_object(request, response);
    if (endpoint == "events") return serve_event_stream(feed, request, response);
    if (endpoint == "presign") return presign_url(*session, request, body, response);
    if (endpoint == "sns") return run_sns(request, body, response);
    if (endpoint == "settings") {
        return reply_json(response, 200, services.settings ? services.settings() : json::object());
    }
    if (endpoint == "function-dead-letters") return list_dead_letters(response);
    if (endpoint == "function-dead-letters/replay") {
        return replay_dead_letters(request, body, response);
    }
    reply_error(response, 404, "not_found", "no such console endpoint");
}

void ConsoleApi::State::get_session(const std::optional<Session>& session,
                                    http::Response& response) {
    if (!session) {
        return reply_error(response, 401, "unauthenticated", "not signed in");
    }
    reply_json(response, 200, session_json(*session));
}

void ConsoleApi::State::sign_in(const http::Request& request, http::RequestBody& body,
                                http::Response& response) {
    // A cross-site form or script cannot carry our CSRF token before sign-in; the browser's
    // Origin header tells us where the request came from instead.
    if (!origin_matches_host(request)) {
        return reply_error(response, 403, "bad_origin",
                           "sign-in must come from the console's own origin");
    }
    const std::string address = client_address(request.remote_address);
    if (auto wait = limiter.blocked(address)) {
        response.close_after();
        return reply_error(response, 429, "rate_limited",
                           "too many failed sign-ins; try again in " +
                               std::to_string(wait->count()) + " seconds",
                           {{"Retry-After", std::to_string(wait->count())}});
    }
    auto parsed = read_json_object(request, body);
    if (!parsed) {
        return reply_body_error(response, parsed.error());
    }
    auto text = [&](const char* name) -> std::optional<std::string> {
        auto it = parsed->find(name);
        if (it == parsed->end() || !it->is_string()) {
            return std::nullopt;
        }
        return it->get<std::string>();
    };
    std::optional<Session> created;
    if (auto id = text("access_key_id")) {
        auto secret = text("secret_access_key");
        if (!secret) {
            return reply_error(response, 400, "bad_request",
                               "give access_key_id with secret_access_key");
        }
        auto expected = services.secret_for ? services.secret_for(*id) : std::nullopt;
        bool equal = crypto::constant_time_equal(*secret, expected.value_or(""));
        if (expected && !expected->empty() && equal) {
            created = sessions.create(*id, SessionKind::AccessKey);
        }
    } else if (auto user = text("user")) {
        auto password = text("password");
        if (!password) {
            return reply_error(response, 400, "bad_request", "give user with password");
        }
        // Every configured user is compared, so the time taken does not say which names exist.
        bool matched = false;
        for (const auto& candidate : options.users) {
            bool name_equal = crypto::constant_time_equal(*user, candidate.name);
            bool password_equal = crypto::constant_time_equal(*password, candidate.password);
            matched = matched || (name_equal && password_equal && !candidate.password.empty());
        }
        if (matched) {
            created = sessions.create(*user, SessionKind::ConsoleUser);
        }
    } else {
        return reply_error(response, 400, "bad_request",
                           "give access_key_id and secret_access_key, or user and password");
    }
    if (!created) {
        limiter.record_failure(address);
        logger()->info("event=console_sign_in_failed remote={}", address);
        return reply_error(response, 401, "invalid_credentials",
                           "the access key or user name and secret do not match");
    }
    limiter.record_success(address);
    logger()->info("event=console_sign_in user={} kind={} remote={}", created->user,
                   to_string(created->kind), address);
    reply_json(response, 200, session_json(*created),
               {{"Set-Cookie", cookie_header(created->cookie, options.secure_cookie, false)}});
}

void ConsoleApi::State::sign_out(const std::optional<Session>& session,
                                 const http::Request& request, http::Response& response) {
    HeaderPairs clear = {{"Set-Cookie", cookie_header("", options.secure_cookie, true)}};
    if (!session) {
        return reply_no_content(response, std::move(clear));  // already signed out
    }
    auto token = request.header("x-csrf-token");
    if (!token || !csrf_matches(*session, *token)) {
        return reply_error(response, 403, "csrf",
                           "the X-CSRF-Token header is missing or does not match the session");
    }
    sessions.remove(session->cookie);
    reply_no_content(response, std::move(clear));
}

void ConsoleApi::State::get_config(http::Response& response) {
    const PhotoLayout& layout = options.layout;
    reply_json(response, 200,
               {{"default_bucket", layout.default_bucket},
                {"upload_prefix", layout.upload_prefix},
                {"output_bucket", layout.output_bucket},
                {"output_prefix", layout.output_prefix},
                {"topic_arn", layout.topic_arn},
                {"function", layout.function_name},
                {"max_object_bytes", options.max_object_bytes},
                {"multipart_threshold_bytes", kMultipartThreshold},
                {"part_bytes", kPartBytes}});
}

void ConsoleApi::State::presign_url(const Session& session, const http::Request& request,
                                    http::RequestBody& body, http::Response& response) {
    auto parsed = read_json_object(request, body);
    if (!parsed) {
        return reply_body_error(response, parsed.error());
    }
    PresignInput input;
    for (const char* name : {"method", "bucket", "key"}) {
        auto it = parsed->find(name);
        if (it == parsed->end() || !it->is_string()) {
            return reply_error(response, 400, "bad_request",
                               std::string("\"") + name + "\" must be a string");
        }
    }
    input.method = (*parsed)["method"].get<std::string>();
    input.bucket = (*parsed)["bucket"].get<std::string>();
    input.key = (*parsed)["key"].get<std::string>();
    if (auto query = parsed->find("query"); query != parsed->end() && !query->is_null()) {
        if (!query->is_object()) {
            return reply_error(response, 400, "bad_request", "\"query\" must be an object");
        }
        for (const auto& [name, value] : query->items()) {
            if (value.is_string()) {
                input.query[name] = value.get<std::string>();
            } else if (value.is_number_integer()) {
                input.query[name] = std::to_string(value.get<std::int64_t>());
            } else if (value.is_null()) {
                input.query[name] = "";
            } else {
                return reply_error(response, 400, "bad_request",
                                   "query values must be strings or integers");
            }
        }
    }
    input.host = std::string(request.header("host").value_or(""));

    aws::SigningCredentials credentials = services.api_credentials;
    if (session.kind == SessionKind::AccessKey) {
        // Signed with the key the person signed in with (it may have been revoked since).
        auto secret = services.secret_for ? services.secret_for(session.user) : std::nullopt;
        if (!secret) {
            sessions.remove(session.cookie);
            return reply_error(response, 401, "unauthenticated",
                               "the access key of this session no longer exists");
        }
        credentials = {session.user, *secret, ""};
    }
    auto url = presign(input, credentials, options.region, std::chrono::system_clock::now());
    if (!url) {
        if (url.error().code == ErrorCode::InvalidArgument) {
            return reply_error(response, 400, "bad_request", url.error().client_message());
        }
        return reply_result_error(response, url.error());
    }
    reply_json(response, 200,
               {{"url", url->url}, {"expires_at", aws::format_iso8601_millis(url->expires_at)}});
}

void ConsoleApi::State::list_photos(const http::Request& request, http::Response& response) {
    auto query = query_map(request);
    if (!query) {
        return reply_error(response, 400, "bad_request", "malformed query string");
    }
    if (!catalog) {
        return reply_error(response, 503, "unavailable", "no object store");
    }
    std::string bucket = (*query)["bucket"];
    if (bucket.empty()) {
        bucket = options.layout.default_bucket;
    }
    std::size_t limit = 60;
    if (auto it = query->find("limit"); it != query->end() && !it->second.empty()) {
        const std::string& text = it->second;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
        if (ec != std::errc() || end != text.data() + text.size() || limit < 1 || limit > 200) {
            return reply_error(response, 400, "bad_request", "limit must be from 1 to 200");
        }
    }
    auto page = catalog->list(bucket, (*query)["prefix"], (*query)["cursor"], limit);
    if (!page) {
        return reply_result_error(response, page.error());
    }
    reply_json(response, 200,
               {{"photos", std::move(page->photos)},
                {"next_cursor", page->next_cursor ? json(*page->next_cursor) : json(nullptr)}});
}

void ConsoleApi::State::get_photo(const http::Request& request, http::Response& response) {
    auto query = query_map(request);
    if (!query) {
        return reply_error(response, 400, "bad_request", "malformed query string");
    }
    if (!catalog) {
        return reply_error(response, 503, "unavailable", "no object store");
    }
    std::string bucket = (*query)["bucket"];
    if (bucket.empty()) {
        bucket = options.layout.default_bucket;
    }
    const std::string& key = (*query)["key"];
    if (key.empty()) {
        return reply_error(response, 400, "bad_request", "key is required");
    }
    auto detail = catalog->detail(bucket, key);
    if (!detail) {
        return reply_result_error(response, detail.error());
    }
    reply_json(response, 200, *detail);
}

void ConsoleApi::State::get_object(const http::Request& request, http::Response& response) {
    auto query = query_map(request);
    if (!query) {
        return reply_error(response, 400, "bad_request", "malformed query string");
    }
    if (services.store == nullptr) {
        return reply_error(response, 503, "unavailable", "no object store");
    }
    const std::string& bucket = (*query)["bucket"];
    const std::string& key = (*query)["key"];
    if (bucket.empty() || key.empty()) {
        return reply_error(response, 400, "bad_request", "bucket and key are required");
    }
    auto reader = services.store->open_object(bucket, key);
    if (!reader) {
        return reply_result_error(response, reader.error());
    }
    const storage::ObjectInfo& info = (*reader)->info();
    const std::string etag = "\"" + unquote_etag(info.etag) + "\"";
    HeaderPairs headers = {
        {"ETag", etag},
        {"Last-Modified", aws::format_http_date(info.last_modified)},
        {"Cache-Control", "private, max-age=60"},
        {"X-Content-Type-Options", "nosniff"},
        // Whatever was uploaded (an SVG, an HTML file) must not run as the console's origin.
        {"Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self'; "
                                    "style-src 'unsafe-inline'"},
    };
    if (auto tag = request.header("if-none-match"); tag && etag_matches(*tag, etag)) {
        (void)response.start(304, std::move(headers), 0);
        return;
    }
    headers.emplace_back("Content-Type", info.metadata.content_type.empty()
                                             ? std::string("application/octet-stream")
                                             : info.metadata.content_type);
    if ((*query)["download"] == "1") {
        headers.emplace_back("Content-Disposition", attachment_disposition(key));
    }
    if (!response.start(200, std::move(headers), info.size) || request.method == "HEAD") {
        return;
    }
    // Streamed in slices: a large original never sits whole in memory.
    std::string buffer(kMaxObjectChunk, '\0');
    for (;;) {
        auto n = (*reader)->read(std::span<char>(buffer.data(), buffer.size()));
        if (!n) {
            logger()->warn("event=object_read_failed bucket={} key={} error=\"{}\"", bucket, key,
                           n.error().message);
            response.close_after();  // the length promised cannot be kept
            return;
        }
        if (*n == 0 || !response.write(std::span<const char>(buffer.data(), *n))) {
            return;
        }
    }
}

void ConsoleApi::State::run_sns(const http::Request& request, http::RequestBody& body,
                                http::Response& response) {
    if (!services.sns) {
        return reply_error(response, 503, "unavailable", "serve runs no SNS service");
    }
    auto form = read_body(request, body, kMaxSnsBody);
    if (!form) {
        return reply_body_error(response, form.error());
    }
    notify::SnsReply reply = services.sns(*form);
    HeaderPairs headers = {{"Content-Type", std::string(notify::SnsReply::content_type)},
                           {"Cache-Control", "no-store"}};
    if (!reply.request_id.empty()) {
        headers.emplace_back("x-amzn-RequestId", reply.request_id);
    }
    if (response.start(reply.status, std::move(headers), reply.body.size())) {
        (void)response.write(reply.body);
    }
}

void ConsoleApi::State::list_dead_letters(http::Response& response) {
    if (!services.function_dead_letters) {
        return reply_json(response, 200, {{"dead_letters", json::array()}});
    }
    auto letters = services.function_dead_letters();
    if (!letters) {
        return reply_result_error(response, letters.error());
    }
    json list = json::array();
    for (const auto& letter : *letters) {
        list.push_back(dead_letter_json(letter));
    }
    reply_json(response, 200, {{"dead_letters", std::move(list)}});
}

void ConsoleApi::State::replay_dead_letters(const http::Request& request,
                                            http::RequestBody& body, http::Response& response) {
    auto parsed = read_json_object(request, body);
    if (!parsed) {
        return reply_body_error(response, parsed.error());
    }
    std::vector<std::string> ids;
    if (auto it = parsed->find("request_ids"); it != parsed->end() && !it->is_null()) {
        if (!it->is_array() || it->size() > 10'000) {
            return reply_error(response, 400, "bad_request",
                               "request_ids must be an array of at most 10000 strings");
        }
        for (const auto& id : *it) {
            if (!id.is_string()) {
                return reply_error(response, 400, "bad_request", "request_ids must be strings");
            }
            ids.push_back(id.get<std::string>());
        }
    }
    if (!services.replay_function_dead_letters) {
        return reply_error(response, 503, "unavailable", "serve runs no function");
    }
    auto replayed = services.replay_function_dead_letters(ids);
    if (!replayed) {
        return reply_result_error(response, replayed.error());
    }
    reply_json(response, 200, {{"replayed", *replayed}});
}

void ConsoleApi::photo_processing(const std::string& bucket, const std::string& key,
                                  const std::string& etag) {
    state_->feed.photo_processing(bucket, key, etag);
}

void ConsoleApi::photo_dead_lettered(const std::string& bucket, const std::string& key,
                                     const std::string& etag, const std::string& reason) {
    state_->feed.photo_dead_lettered(bucket, key, etag, reason);
}

void ConsoleApi::message_published(const std::string& topic_arn, const std::string& message_id,
                                   const std::string& subject, const std::string& message,
                                   const std::string& timestamp) {
    state_->feed.message_published(topic_arn, message_id, subject, message, timestamp);
}

void ConsoleApi::close_streams() { state_->feed.shutdown(); }

}  // namespace pf::console
