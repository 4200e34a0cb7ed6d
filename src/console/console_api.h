// The web console of `photoflux serve`: its pages (web/ assets compiled into the binary) and its
// JSON and server-sent-event endpoints under /_/console/ (docs/console.md is the contract).
//
// The console is a client of the same services the APIs expose: uploads go from the browser
// straight to the S3 API with URLs it presigns, notification management runs SNS actions through
// the SNS service, and what it shows is read from the store, the function host's dead letters and
// the messages published on the topics. It owns sessions (cookie + CSRF token), the activity feed
// (photo states and the message log, live over SSE) and nothing else: app/ wires it.
#pragma once

#include "aws/sigv4.h"
#include "base/result.h"
#include "http/server.h"
#include "lambda/invocation_store.h"
#include "notify/sns_service.h"
#include "storage/object_store.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pf::console {

inline constexpr std::string_view kConsolePath = "/_/console/";

struct ConsoleUser {
    std::string name;
    std::string password;
};

// Where photos go in and their derivatives come out (serve.function.* and the default bucket).
struct PhotoLayout {
    std::string default_bucket;  // where the upload page puts photos ("photos")
    std::string upload_prefix;   // "uploads/"
    std::string output_bucket;   // empty: each photo's own bucket
    std::string output_prefix;   // "processed/"
    std::string topic_arn;       // the function's topic; empty when it has none
    std::string function_name;   // "process-photo"; empty when serve runs no function
};

struct ConsoleOptions {
    std::string region = "us-east-1";
    bool secure_cookie = false;  // serve speaks TLS
    std::vector<ConsoleUser> users;
    std::chrono::seconds session_idle{12 * 3600};
    std::size_t max_sessions = 1000;
    std::uint64_t max_object_bytes = 0;  // serve's PUT limit, for the upload page (0: none)
    PhotoLayout layout;
};

// What the console uses of the rest of serve; app/ fills it in.
struct ConsoleServices {
    storage::ObjectStore* store = nullptr;
    // The secret of an API access key id (access-key sign-in checks it).
    std::function<std::optional<std::string>(std::string_view access_key_id)> secret_for;
    // serve's own API key pair: presigned URLs of console users are signed with it (a user who
    // signed in with an access key gets URLs signed with that key).
    aws::SigningCredentials api_credentials;
    // Runs one SNS Query API request (the form body) as an already authenticated caller and
    // returns the service's XML reply.
    std::function<notify::SnsReply(std::string_view form_body)> sns;
    // The function host's dead letters (newest first) and their replay (empty: all).
    std::function<Result<std::vector<lambda::StoredDeadLetter>>()> function_dead_letters;
    std::function<Result<std::size_t>(const std::vector<std::string>& request_ids)>
        replay_function_dead_letters;
    // GET /_/console/api/settings, built by app/ (it knows the config).
    std::function<nlohmann::json()> settings;
};

class ConsoleApi {
public:
    ConsoleApi(ConsoleOptions options, ConsoleServices services);
    ~ConsoleApi();
    ConsoleApi(const ConsoleApi&) = delete;
    ConsoleApi& operator=(const ConsoleApi&) = delete;

    // Paths the console answers: /_/console and everything under /_/console/.
    static bool is_console_path(std::string_view path);
    // A browser opening the root URL (GET /, no SigV4 in header or query, Accept names
    // text/html): redirected to the console. S3 clients' ListBuckets never matches.
    static bool is_browser_root_request(const http::Request& request);
    // Writes 302 Location: /_/console/.
    static void redirect_to_console(http::Response& response);

    // Serves one console request (pages, assets, JSON, SSE). The SSE endpoint blocks until the
    // client leaves or close_streams() is called.
    void handle(const http::Request& request, http::RequestBody& body, http::Response& response);

    // --- The activity feed (thread-safe; called from serve's threads, must stay quick) ---
    // The S3 event of a photo was handed to the function: it is being processed.
    void photo_processing(const std::string& bucket, const std::string& key, const std::string& etag);
    // The photo's event became a dead letter (retries exhausted, rejected, too old...).
    void photo_dead_lettered(const std::string& bucket, const std::string& key,
                             const std::string& etag, const std::string& reason);
    // A message was published on a topic (any topic): the live log; photo.processed and
    // photo.failed on the function's topic also move their photo to done / failed.
    void message_published(const std::string& topic_arn, const std::string& message_id,
                           const std::string& subject, const std::string& message,
                           const std::string& timestamp);

    // Ends every open event stream (their requests then finish) and refuses new ones: called
    // when the server begins to stop.
    void close_streams();

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace pf::console
