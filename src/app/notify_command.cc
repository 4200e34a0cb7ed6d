#include "app/notify_command.h"

#include "app/credentials.h"
#include "aws/sigv4.h"
#include "aws/uri_encoding.h"
#include "base/ascii.h"
#include "crypto/digest.h"
#include "http/address_policy.h"
#include "http/client.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <pugixml.hpp>
#include <sstream>
#include <string_view>
#include <utility>
#include <variant>

namespace pf::app {
namespace {

constexpr std::string_view kDefaultEndpoint = "http://127.0.0.1:9000";
using Params = std::vector<std::pair<std::string, std::string>>;

// Where the running serve is: the base URL requests go to, the Host header libcurl will send for
// it (signed), and the address when the URL names one literally.
struct Target {
    std::string base_url;
    std::string host_header;
    std::optional<http::IpAddress> literal_address;
};

Result<Target> parse_endpoint(std::string url) {
    while (!url.empty() && url.back() == '/') {
        url.pop_back();
    }
    const std::string lower = ascii_lowercase(url);
    std::string scheme;
    if (lower.starts_with("http://")) {
        scheme = "http";
    } else if (lower.starts_with("https://")) {
        scheme = "https";
    } else {
        return make_error(ErrorCode::InvalidArgument,
                          "--endpoint must be an http:// or https:// URL, not " + url);
    }
    std::string authority = url.substr(scheme.size() + 3);
    if (authority.find_first_of("/?#") != std::string::npos) {
        return make_error(ErrorCode::InvalidArgument,
                          "--endpoint must be the server's base URL (scheme, host and port), not " +
                              url);
    }
    if (authority.empty() || authority.find('@') != std::string::npos) {
        return make_error(ErrorCode::InvalidArgument,
                          "--endpoint must name a host (and no user info): " + url);
    }
    std::string host = authority;
    std::string port;
    if (authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string::npos) {
            return make_error(ErrorCode::InvalidArgument, "--endpoint has an unclosed [: " + url);
        }
        host = authority.substr(0, close + 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') {
                return make_error(ErrorCode::InvalidArgument, "--endpoint is malformed: " + url);
            }
            port = authority.substr(close + 2);
        }
    } else if (auto colon = authority.rfind(':'); colon != std::string::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (!port.empty()) {
        int number = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
        if (ec != std::errc() || end != port.data() + port.size() || number < 1 || number > 65535) {
            return make_error(ErrorCode::InvalidArgument, "--endpoint has a bad port: " + url);
        }
    }
    Target target;
    target.base_url = url;
    // libcurl leaves out the scheme's default port, and so must the signature.
    const bool default_port =
        port.empty() || (scheme == "http" && port == "80") || (scheme == "https" && port == "443");
    target.host_header = default_port ? host : host + ":" + port;
    std::string bare = host;
    if (bare.size() >= 2 && bare.front() == '[') {
        bare = bare.substr(1, bare.size() - 2);
    }
    target.literal_address = http::IpAddress::parse(bare);
    return target;
}

// serve.listen as a URL: the address a local serve with this configuration answers on.
std::string default_endpoint(const config::ServeConfig& serve) {
    auto colon = serve.listen.rfind(':');
    if (colon == std::string::npos) {
        return std::string(kDefaultEndpoint);
    }
    std::string host = serve.listen.substr(0, colon);
    const std::string port = serve.listen.substr(colon + 1);
    if (port.empty() || port == "0") {
        return std::string(kDefaultEndpoint);
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (host.empty() || host == "0.0.0.0") {
        host = "127.0.0.1";
    } else if (host == "::") {
        host = "[::1]";
    } else if (host.find(':') != std::string::npos) {
        host = "[" + host + "]";
    }
    return "http://" + host + ":" + port;
}

struct ClientKeys {
    aws::SigningCredentials keys;
    std::string source;  // where they came from, for error messages
};

std::optional<std::string> env_value(const config::Environment& env, const char* name) {
    auto it = env.find(name);
    if (it == env.end() || it->second.empty()) {
        return std::nullopt;
    }
    return it->second;
}

Result<ClientKeys> client_credentials(const config::Config& config, const config::Environment& env,
                                      const std::filesystem::path& data_dir) {
    for (auto [id_name, secret_name] :
         {std::pair{"PHOTOFLUX_ACCESS_KEY_ID", "PHOTOFLUX_SECRET_ACCESS_KEY"},
          std::pair{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}}) {
        auto id = env_value(env, id_name);
        auto secret = env_value(env, secret_name);
        if (id && secret) {
            return ClientKeys{{*id, *secret, ""}, id_name};
        }
        if (id || secret) {
            return make_error(ErrorCode::InvalidArgument, std::string(id_name) + " and " +
                                                              secret_name +
                                                              " must be set together");
        }
    }
    if (!config.serve.access_key_id.empty() && !config.serve.secret_access_key.empty()) {
        return ClientKeys{{config.serve.access_key_id, config.serve.secret_access_key, ""},
                          "serve.access_key_id in the config"};
    }
    const auto file = data_dir / "credentials.json";
    auto kept = read_credentials_file(file);
    if (!kept) {
        return kept.error();
    }
    if (!*kept) {
        return make_error(ErrorCode::NotFound,
                          "no credentials: set PHOTOFLUX_ACCESS_KEY_ID and "
                          "PHOTOFLUX_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and "
                          "AWS_SECRET_ACCESS_KEY), or point --data-dir at the data directory of "
                          "the running serve (there is no " +
                              file.string() + ")");
    }
    return ClientKeys{{(*kept)->access_key_id, (*kept)->secret_access_key, ""}, file.string()};
}

// Loopback, and the address the endpoint URL names (the operator chose it): the outbound
// client's default policy refuses both, as it is made for webhooks.
http::ClientOptions client_options(const Target& target) {
    std::vector<std::string> allowed = {"127.0.0.0/8", "::1/128"};
    if (target.literal_address) {
        allowed.push_back(target.literal_address->to_string());
    }
    http::ClientOptions options;
    options.connect_timeout = std::chrono::seconds(5);
    options.timeout = std::chrono::seconds(120);
    options.max_response_bytes = 16u << 20;
    options.user_agent = "photoflux-notify";
    if (auto policy = http::AddressPolicy::with_allowed(allowed)) {
        options.address_policy = *policy;
    }
    return options;
}

// A failure, and the exit code it ends the command with.
struct Failure {
    std::string message;
    int exit_code = 1;
};

class SnsCaller {
public:
    SnsCaller(Target target, ClientKeys keys, std::string region)
        : target_(std::move(target)), keys_(std::move(keys)), region_(std::move(region)),
          client_(client_options(target_)) {}

    // The <ActionResult> element's document on success.
    std::variant<std::string, Failure> call(const std::string& action, Params params) const {
        params.insert(params.begin(), {{"Action", action}, {"Version", "2010-03-31"}});
        std::string body;
        for (const auto& [name, value] : params) {
            body +=
                (body.empty() ? "" : "&") + aws::form_encode(name) + "=" + aws::form_encode(value);
        }
        const std::string content_type = "application/x-www-form-urlencoded; charset=utf-8";
        aws::SignRequest sign;
        sign.method = "POST";
        sign.path = "/";
        sign.headers = {{"host", target_.host_header}, {"content-type", content_type}};
        sign.payload_hash = crypto::sha256_hex(body);
        sign.region = region_;
        sign.service = "sns";
        sign.now = std::chrono::system_clock::now();
        http::ClientRequest request;
        request.method = "POST";
        request.url = target_.base_url + "/";
        request.headers = {{"Content-Type", content_type}};
        for (auto& header : aws::sign_request(sign, keys_.keys)) {
            request.headers.push_back(std::move(header));
        }
        request.body = std::move(body);

        auto response = client_.send(request);
        if (!response) {
            const Error& e = response.error();
            if (e.code == ErrorCode::Forbidden) {
                return Failure{e.message + " (the notify commands reach loopback addresses and "
                                           "the address --endpoint names)"};
            }
            return Failure{"cannot reach photoflux serve at " + target_.base_url + ": " +
                           e.message +
                           "\nIs `photoflux serve` running? If it listens elsewhere, pass "
                           "--endpoint URL."};
        }
        pugi::xml_document doc;
        const bool parsed = doc.load_buffer(response->body.data(), response->body.size()) &&
                            !response->body_truncated;
        if (response->status == 200 && parsed) {
            auto result =
                doc.child((action + "Response").c_str()).child((action + "Result").c_str());
            if (result) {
                std::ostringstream out;
                result.print(out, "", pugi::format_raw);
                return out.str();
            }
        }
        auto error = doc.child("ErrorResponse").child("Error");
        if (!parsed || !error) {
            return Failure{"unexpected answer from " + target_.base_url + " (HTTP " +
                           std::to_string(response->status) + "): is this photoflux serve?"};
        }
        const std::string code = error.child("Code").text().get();
        std::string message = "the server refused " + action + ": " + code + ": " +
                              error.child("Message").text().get();
        if (code == "InvalidClientTokenId" || code == "SignatureDoesNotMatch") {
            message += "\nThe key " + keys_.keys.access_key_id + " (from " + keys_.source +
                       ") is not the one this serve uses. Set PHOTOFLUX_ACCESS_KEY_ID and "
                       "PHOTOFLUX_SECRET_ACCESS_KEY to its keys, or point --data-dir at its data "
                       "directory (unset AWS_ACCESS_KEY_ID if it holds other keys).";
        } else if (code == "InvalidAction") {
            message += "\nThis server has no " + action + " action (an older photoflux serve?).";
        }
        return Failure{message};
    }

private:
    Target target_;
    ClientKeys keys_;
    std::string region_;
    http::HttpClient client_;
};

// Everything a subcommand needs before its call, or the reason it cannot start (exit 2).
std::variant<SnsCaller, Failure> connect(const NotifyOptions& options, const config::Config& config,
                                         const config::Environment& env) {
    auto target = parse_endpoint(options.endpoint.empty() ? default_endpoint(config.serve)
                                                          : options.endpoint);
    if (!target) {
        return Failure{target.error().message, 2};
    }
    const std::filesystem::path data_dir =
        options.data_dir.empty() ? config.serve.data_dir : options.data_dir;
    auto keys = client_credentials(config, env, data_dir);
    if (!keys) {
        return Failure{keys.error().message, 2};
    }
    return SnsCaller(std::move(*target), std::move(*keys), config.serve.region);
}

int fail(const Failure& failure) {
    std::cerr << "photoflux notify: " << failure.message << "\n";
    return failure.exit_code;
}

std::string text_of(const pugi::xml_node& node, const char* name) {
    return node.child(name).text().get();
}

int run_dead_letters(const NotifyOptions& options, const SnsCaller& caller) {
    Params params = {{"MaxItems", std::to_string(options.max_items)}};
    if (!options.subscription.empty()) {
        params.emplace_back("SubscriptionArn", options.subscription);
    }
    auto answer = caller.call("ListDeadLetters", params);
    if (auto* failure = std::get_if<Failure>(&answer)) {
        return fail(*failure);
    }
    pugi::xml_document doc;
    doc.load_string(std::get<std::string>(answer).c_str());
    auto result = doc.first_child();
    const bool truncated = std::string(text_of(result, "IsTruncated")) == "true";
    constexpr const char* kFields[] = {"DeliveryId",      "MessageId", "MessageType", "TopicArn",
                                       "SubscriptionArn", "Protocol",  "Endpoint",    "Attempts",
                                       "DeadAt",          "Reason"};
    std::vector<nlohmann::ordered_json> letters;
    for (auto member : result.child("DeadLetters").children("member")) {
        nlohmann::ordered_json letter;
        for (const char* field : kFields) {
            const std::string value = text_of(member, field);
            if (std::string_view(field) == "Attempts") {
                int attempts = 0;
                std::from_chars(value.data(), value.data() + value.size(), attempts);
                letter[field] = attempts;
            } else {
                letter[field] = value;
            }
        }
        letters.push_back(std::move(letter));
    }
    const std::string more = "more dead letters exist than the " +
                             std::to_string(options.max_items) + " shown (newest first; see --max)";
    if (options.json) {
        std::cout << nlohmann::ordered_json(letters).dump(2) << "\n";
        if (truncated) {
            std::cerr << "photoflux notify: " << more << "\n";
        }
        return 0;
    }
    if (letters.empty()) {
        std::cout << "No dead letters"
                  << (options.subscription.empty() ? "" : " of " + options.subscription) << ".\n";
        return 0;
    }
    for (const auto& letter : letters) {
        auto s = [&](const char* field) { return letter[field].get<std::string>(); };
        std::cout << s("DeliveryId") << "  " << s("MessageType") << "  attempts "
                  << letter["Attempts"].get<int>() << "  dead since " << s("DeadAt") << "\n"
                  << "  message       " << s("MessageId") << "\n"
                  << "  topic         " << s("TopicArn") << "\n";
        if (!s("SubscriptionArn").empty()) {
            std::cout << "  subscription  " << s("SubscriptionArn") << "\n";
        }
        std::cout << "  endpoint      " << s("Protocol") << " " << s("Endpoint") << "\n"
                  << "  reason        " << s("Reason") << "\n";
    }
    std::cout << letters.size() << (letters.size() == 1 ? " dead letter" : " dead letters")
              << (truncated ? "; " + more : "") << ". Replay with: photoflux notify replay "
              << "--id ID, --subscription ARN or --all\n";
    return 0;
}

int run_replay(const NotifyOptions& options, const SnsCaller& caller) {
    Params params;
    if (options.all) {
        params.emplace_back("All", "true");
    }
    if (!options.subscription.empty()) {
        params.emplace_back("SubscriptionArn", options.subscription);
    }
    for (std::size_t i = 0; i < options.ids.size(); ++i) {
        params.emplace_back("DeliveryIds.member." + std::to_string(i + 1), options.ids[i]);
    }
    auto answer = caller.call("ReplayDeadLetters", params);
    if (auto* failure = std::get_if<Failure>(&answer)) {
        return fail(*failure);
    }
    pugi::xml_document doc;
    doc.load_string(std::get<std::string>(answer).c_str());
    auto result = doc.first_child();
    const std::string replayed_text = text_of(result, "Replayed");
    int replayed = 0;
    std::from_chars(replayed_text.data(), replayed_text.data() + replayed_text.size(), replayed);
    nlohmann::ordered_json skipped = nlohmann::ordered_json::array();
    for (auto member : result.child("Skipped").children("member")) {
        nlohmann::ordered_json entry;
        for (const char* field : {"DeliveryId", "SubscriptionArn", "Reason"}) {
            if (member.child(field)) {
                entry[field] = text_of(member, field);
            }
        }
        skipped.push_back(std::move(entry));
    }
    if (options.json) {
        std::cout << nlohmann::ordered_json{{"Replayed", replayed}, {"Skipped", skipped}}.dump(2)
                  << "\n";
    } else {
        if (replayed == 0) {
            std::cout << "Nothing replayed.\n";
        } else {
            std::cout << "Replayed " << replayed
                      << (replayed == 1 ? " dead letter" : " dead letters")
                      << "; delivery starts now, with the subscription's retry policy.\n";
        }
        for (const auto& entry : skipped) {
            std::cout << "Skipped "
                      << entry.value("DeliveryId", entry.value("SubscriptionArn", std::string()))
                      << ": " << entry.value("Reason", std::string()) << "\n";
        }
    }
    return !options.ids.empty() && !skipped.empty() ? 1 : 0;
}

}  // namespace

CLI::App* add_notify_command(CLI::App& app, NotifyOptions& options) {
    CLI::App* notify = app.add_subcommand(
        "notify", "Operate the notification service of a running `photoflux serve`");
    notify->require_subcommand(1);
    auto common = [&](CLI::App* command) {
        command->add_option("--endpoint", options.endpoint,
                            "URL of the running serve (default: from serve.listen, "
                            "http://127.0.0.1:9000)");
        command->add_option("--data-dir", options.data_dir,
                            "Data directory of the running serve, for its credentials.json "
                            "(default: serve.data_dir, ./photoflux-data)");
        command->add_flag("--json", options.json, "Print JSON");
    };
    options.dead_letters = notify->add_subcommand(
        "dead-letters", "List the deliveries whose retries ran out (newest first)");
    common(options.dead_letters);
    options.dead_letters->add_option("--subscription", options.subscription,
                                     "Only this subscription's (its ARN)");
    options.dead_letters
        ->add_option("--max", options.max_items, "Most to list (1-1000, default 100)")
        ->check(CLI::Range(1, 1000));

    options.replay = notify->add_subcommand(
        "replay", "Deliver dead letters again: one subscription's, the named ones, or all");
    common(options.replay);
    auto* subscription = options.replay->add_option("--subscription", options.subscription,
                                                    "Every dead letter of this subscription (ARN)");
    auto* ids = options.replay->add_option("--id", options.ids,
                                           "These dead letters (DeliveryId; repeat or list)");
    auto* all = options.replay->add_flag("--all", options.all, "Every dead letter");
    subscription->excludes(ids)->excludes(all);
    ids->excludes(all);
    return notify;
}

int run_notify(const NotifyOptions& options, const config::Config& config,
               const config::Environment& env) {
    const bool replay = options.replay && options.replay->parsed();
    if (replay && options.subscription.empty() && options.ids.empty() && !options.all) {
        return fail({"replay needs one of --subscription ARN, --id ID ... or --all", 2});
    }
    auto caller = connect(options, config, env);
    if (auto* failure = std::get_if<Failure>(&caller)) {
        return fail(*failure);
    }
    const SnsCaller& sns = std::get<SnsCaller>(caller);
    return replay ? run_replay(options, sns) : run_dead_letters(options, sns);
}

}  // namespace pf::app
