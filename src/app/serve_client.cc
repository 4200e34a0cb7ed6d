#include "app/serve_client.h"

#include "app/credentials.h"
#include "base/ascii.h"
#include "crypto/digest.h"

#include <charconv>
#include <chrono>
#include <filesystem>
#include <utility>

namespace pf::app {
namespace {

constexpr std::string_view kDefaultEndpoint = "http://127.0.0.1:9000";

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
        if (auto policy = http::AddressPolicy::with_allowed(allowed)) {
        options.address_policy = *policy;
    }
    return options;
}

}  // namespace

ServeClient::ServeClient(std::string base_url, std::string host_header, http::ClientOptions options,
                         aws::SigningCredentials keys, std::string key_source, std::string region)
    : base_url_(std::move(base_url)), host_header_(std::move(host_header)), keys_(std::move(keys)),
      key_source_(std::move(key_source)), region_(std::move(region)), client_(std::move(options)) {}

std::variant<ServeClient, Failure> ServeClient::connect(const std::string& endpoint,
                                                        const std::string& data_dir,
                                                        const config::Config& config,
                                                        const config::Environment& env,
                                                        const std::string& user_agent) {
    auto target = parse_endpoint(endpoint.empty() ? default_endpoint(config.serve) : endpoint);
    if (!target) {
        return Failure{target.error().message, 2};
    }
    const std::filesystem::path dir = data_dir.empty() ? config.serve.data_dir : data_dir;
    auto keys = client_credentials(config, env, dir);
    if (!keys) {
        return Failure{keys.error().message, 2};
    }
    auto options = client_options(*target);
    options.user_agent = user_agent;
    return ServeClient(target->base_url, target->host_header, std::move(options), keys->keys,
                       keys->source, config.serve.region);
}

std::variant<http::ClientResponse, Failure> ServeClient::send(const ServeRequest& request) const {
    aws::SignRequest sign;
    sign.method = request.method;
    sign.path = request.path;
    sign.query = request.query;
    sign.headers = {{"host", host_header_}};
    if (!request.content_type.empty()) {
        sign.headers.emplace_back("content-type", request.content_type);
    }
    sign.payload_hash = crypto::sha256_hex(request.body);
    sign.region = region_;
    sign.service = request.service;
    sign.now = std::chrono::system_clock::now();

    http::ClientRequest out;
    out.method = request.method;
    out.url = base_url_ + aws::uri_encode(request.path, true);
    for (std::size_t i = 0; i < request.query.size(); ++i) {
        out.url += (i == 0 ? "?" : "&") + aws::uri_encode(request.query[i].first, false) + "=" +
                   aws::uri_encode(request.query[i].second, false);
    }
    if (!request.content_type.empty()) {
        out.headers.emplace_back("Content-Type", request.content_type);
    }
    for (auto& header : aws::sign_request(sign, keys_)) {
        out.headers.push_back(std::move(header));
    }
    out.body = request.body;

    auto response = client_.send(out);
    if (!response) {
        const Error& e = response.error();
        if (e.code == ErrorCode::Forbidden) {
            return Failure{e.message + " (operator commands reach loopback addresses and the "
                                       "address --endpoint names)"};
        }
        return Failure{"cannot reach photoflux serve at " + base_url_ + ": " + e.message +
                       "\nIs `photoflux serve` running? If it listens elsewhere, pass "
                       "--endpoint URL."};
    }
    return std::move(*response);
}

std::string ServeClient::wrong_key_hint() const {
    return "The key " + keys_.access_key_id + " (from " + key_source_ +
           ") is not the one this serve uses. Set PHOTOFLUX_ACCESS_KEY_ID and "
           "PHOTOFLUX_SECRET_ACCESS_KEY to its keys, or point --data-dir at its data "
           "directory (unset AWS_ACCESS_KEY_ID if it holds other keys).";
}

}  // namespace pf::app
