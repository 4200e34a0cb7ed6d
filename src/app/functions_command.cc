#include "app/functions_command.h"

#include "app/serve_client.h"

#include <nlohmann/json.hpp>

#include <iostream>
#include <variant>

namespace pf::app {
namespace {

int fail(const Failure& failure) {
    std::cerr << "photoflux functions: " << failure.message << "\n";
    return failure.exit_code;
}

// Sends one Lambda API request; the JSON answer, or the failure (with the API's message).
std::variant<nlohmann::json, Failure> call(const ServeClient& client, ServeRequest request) {
    request.service = "lambda";
    auto sent = client.send(request);
    if (auto* failure = std::get_if<Failure>(&sent)) {
        return *failure;
    }
    const auto& response = std::get<http::ClientResponse>(sent);
    auto doc = nlohmann::json::parse(response.body, nullptr, false);
    if (response.status == 200 && !doc.is_discarded()) {
        return doc;
    }
    std::string type = response.header("x-amzn-errortype");
    if (doc.is_discarded() || type.empty()) {
        return Failure{"unexpected answer from " + client.base_url() + " (HTTP " +
                       std::to_string(response.status) + "): is this photoflux serve?"};
    }
    std::string message = "the server refused: " + type + ": " + doc.value("message", "");
    if (type == "UnrecognizedClientException" || type == "InvalidSignatureException") {
        message += "\n" + client.wrong_key_hint();
    }
    return Failure{message};
}

int run_dead_letters(const FunctionsOptions& options, const ServeClient& client) {
    ServeRequest request;
    request.method = "GET";
    request.path = "/_/lambda/dead-letters";
    request.query = {{"MaxItems", std::to_string(options.max_items)}};
    if (!options.function.empty()) {
        request.query.emplace_back("FunctionName", options.function);
    }
    auto answer = call(client, request);
    if (auto* failure = std::get_if<Failure>(&answer)) {
        return fail(*failure);
    }
    const auto& letters = std::get<nlohmann::json>(answer)["DeadLetters"];
    if (options.json) {
        std::cout << letters.dump(2) << "\n";
        return 0;
    }
    if (letters.empty()) {
        std::cout << "No dead letters"
                  << (options.function.empty() ? "" : " of " + options.function) << ".\n";
        return 0;
    }
    for (const auto& d : letters) {
        std::cout << d.value("id", "") << "  " << d.value("function", "") << "  "
                  << d.value("condition", "") << "  attempts " << d.value("attempts", 0)
                  << "  dead since " << d.value("deadAt", "") << "\n";
        if (!d.value("errorType", "").empty()) {
            std::cout << "  error    " << d.value("errorType", "") << ": "
                      << d.value("errorMessage", "") << "\n";
        }
        const auto& payload = d["payload"];
        if (payload.is_object() && payload.contains("Records") && payload["Records"].is_array()) {
            for (const auto& r : payload["Records"]) {
                auto s3 = r.value("s3", nlohmann::json::object());
                std::cout << "  event    " << r.value("eventName", "") << " s3://"
                          << s3.value("bucket", nlohmann::json::object()).value("name", "") << "/"
                          << s3.value("object", nlohmann::json::object()).value("key", "") << "\n";
            }
        }
    }
    std::cout << letters.size() << (letters.size() == 1 ? " dead letter" : " dead letters")
              << ". Replay with: photoflux functions replay --id ID, --function NAME or --all\n";
    return 0;
}

int run_replay(const FunctionsOptions& options, const ServeClient& client) {
    nlohmann::json body = nlohmann::json::object();
    if (!options.ids.empty()) body["RequestIds"] = options.ids;
    if (!options.function.empty()) body["FunctionName"] = options.function;
    if (options.all) body["All"] = true;
    ServeRequest request;
    request.method = "POST";
    request.path = "/_/lambda/dead-letters/replay";
    request.content_type = "application/json";
    request.body = body.dump();
    auto answer = call(client, request);
    if (auto* failure = std::get_if<Failure>(&answer)) {
        return fail(*failure);
    }
    const int replayed = std::get<nlohmann::json>(answer).value("Replayed", 0);
    if (options.json) {
        std::cout << nlohmann::json{{"Replayed", replayed}}.dump(2) << "\n";
    } else if (replayed == 0) {
        std::cout << "Nothing replayed.\n";
    } else {
        std::cout << "Replayed " << replayed << (replayed == 1 ? " invocation" : " invocations")
                  << "; the function runs them now.\n";
    }
    const bool missing = !options.ids.empty() && replayed < static_cast<int>(options.ids.size());
    if (missing) {
        std::cerr << "photoflux functions: " << options.ids.size() - replayed
                  << " of the ids given are not dead letters (any more)\n";
    }
    return missing ? 1 : 0;
}

}  // namespace

CLI::App* add_functions_command(CLI::App& app, FunctionsOptions& options) {
    CLI::App* functions = app.add_subcommand(
        "functions", "Operate the function host of a running `photoflux serve`");
    functions->require_subcommand(1);
    auto common = [&](CLI::App* command) {
        command->add_option("--endpoint", options.endpoint,
                            "URL of the running serve (default: from serve.listen, "
                            "http://127.0.0.1:9000)");
        command->add_option("--data-dir", options.data_dir,
                            "Data directory of the running serve, for its credentials.json "
                            "(default: serve.data_dir, ./photoflux-data)");
        command->add_flag("--json", options.json, "Print JSON");
    };
    options.dead_letters = functions->add_subcommand(
        "dead-letters", "List the invocations that failed for good (newest first)");
    common(options.dead_letters);
    options.dead_letters->add_option("--function", options.function, "Only this function's");
    options.dead_letters
        ->add_option("--max", options.max_items, "Most to list (1-10000, default 100)")
        ->check(CLI::Range(1, 10000));

    options.replay = functions->add_subcommand(
        "replay", "Run dead letters again: the named ones, one function's, or all");
    common(options.replay);
    auto* ids = options.replay->add_option("--id", options.ids,
                                           "These dead letters (their id; repeat or list)");
    auto* function = options.replay->add_option("--function", options.function,
                                                "Every dead letter of this function");
    auto* all = options.replay->add_flag("--all", options.all, "Every dead letter");
    ids->excludes(function)->excludes(all);
    function->excludes(all);
    return functions;
}

int run_functions(const FunctionsOptions& options, const config::Config& config,
                  const config::Environment& env) {
    const bool replay = options.replay && options.replay->parsed();
    if (replay && options.ids.empty() && options.function.empty() && !options.all) {
        return fail({"replay needs one of --id ID ..., --function NAME or --all", 2});
    }
    auto client = ServeClient::connect(options.endpoint, options.data_dir, config, env,
                                       "photoflux-functions");
    if (auto* failure = std::get_if<Failure>(&client)) {
        return fail(*failure);
    }
    const auto& c = std::get<ServeClient>(client);
    return replay ? run_replay(options, c) : run_dead_letters(options, c);
}

}  // namespace pf::app
