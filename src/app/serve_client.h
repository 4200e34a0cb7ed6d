// Calling a running `photoflux serve` from the operator commands (`photoflux notify ...`,
// `photoflux functions ...`): where it is, which keys to sign with, and one SigV4-signed request.
//
// Endpoint: --endpoint, else the address serve.listen names (http://127.0.0.1:9000 by default).
// Credentials: PHOTOFLUX_ACCESS_KEY_ID / PHOTOFLUX_SECRET_ACCESS_KEY, else AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY, else the keys in the config file, else <data dir>/credentials.json (the
// pair serve generated; --data-dir, default serve.data_dir).
#pragma once

#include "aws/sigv4.h"
#include "config/config.h"
#include "http/address_policy.h"
#include "http/client.h"

#include <optional>
#include <string>
#include <variant>

namespace pf::app {

// A failure of an operator command, and the exit code it ends the command with (1: the server
// could not be reached or refused; 2: usage or credentials).
struct Failure {
    std::string message;
    int exit_code = 1;
};

struct ServeRequest {
    std::string method = "POST";
    std::string path = "/";       // decoded
    aws::QueryParams query;       // decoded
    std::string content_type;     // empty: none
    std::string body;
    std::string service;          // the SigV4 service: "sns", "lambda", "s3"
};

class ServeClient {
public:
    // Where serve is and which keys to use; a Failure with exit code 2 when either is unusable.
    static std::variant<ServeClient, Failure> connect(const std::string& endpoint,
                                                      const std::string& data_dir,
                                                      const config::Config& config,
                                                      const config::Environment& env,
                                                      const std::string& user_agent);

    // Any HTTP answer is a value; a Failure when serve cannot be reached (with a hint).
    std::variant<http::ClientResponse, Failure> send(const ServeRequest& request) const;

    const std::string& base_url() const { return base_url_; }
    const std::string& access_key_id() const { return keys_.access_key_id; }
    // Where the keys came from ("PHOTOFLUX_ACCESS_KEY_ID", a file), for error messages.
    const std::string& key_source() const { return key_source_; }
    // The advice to give when serve says the signature or key is wrong.
    std::string wrong_key_hint() const;

private:
    ServeClient(std::string base_url, std::string host_header, http::ClientOptions options,
                aws::SigningCredentials keys, std::string key_source, std::string region);

    std::string base_url_;
    std::string host_header_;
    aws::SigningCredentials keys_;
    std::string key_source_;
    std::string region_;
    http::HttpClient client_;
};

}  // namespace pf::app
