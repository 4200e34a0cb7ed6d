#include "app/notify_command.h"

#include "app/serve_client.h"
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

using Params = std::vector<std::pair<std::string, std::string>>;

class SnsCaller {
public:
    explicit SnsCaller(ServeClient client) : client_(std::move(client)) {}

    // The <ActionResult> element's document on success.
    std::variant<std::string, Failure> call(const std::string& action, Params params) const {
        params.insert(params.begin(), {{"Action", action}, {"Version", "2010-03-31"}});
        ServeRequest request;
        request.method = "POST";
        request.path = "/";
        request.service = "sns";
        request.content_type = "application/x-www-form-urlencoded; charset=utf-8";
        for (const auto& [name, value] : params) {
            request.body += (request.body.empty() ? "" : "&") + aws::form_encode(name) + "=" +
                            aws::form_encode(value);
        }
        auto sent = client_.send(request);
        if (auto* failure = std::get_if<Failure>(&sent)) {
            return *failure;
        }
        const auto& response = std::get<http::ClientResponse>(sent);
        pugi::xml_document doc;
        const bool parsed = doc.load_buffer(response.body.data(), response.body.size()) &&
                            !response.body_truncated;
        if (response.status == 200 && parsed) {
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
            return Failure{"unexpected answer from " + client_.base_url() + " (HTTP " +
                           std::to_string(response.status) + "): is this photoflux serve?"};
        }
        const std::string code = error.child("Code").text().get();
        std::string message = "the server refused " + action + ": " + code + ": " +
                              error.child("Message").text().get();
        if (code == "InvalidClientTokenId" || code == "SignatureDoesNotMatch") {
            message += "\n" + client_.wrong_key_hint();
        } else if (code == "InvalidAction") {
            message += "\nThis server has no " + action + " action (an older photoflux serve?).";
        }
        return Failure{message};
    }

private:
    ServeClient client_;
};

// Everything a subcommand needs before its call, or the reason it cannot start (exit 2).
std::variant<SnsCaller, Failure> connect(const NotifyOptions& options, const config::Config& config,
                                         const config::Environment& env) {
    auto client = ServeClient::connect(options.endpoint, options.data_dir, config, env,
                                       "photoflux-notify");
    if (auto* failure = std::get_if<Failure>(&client)) {
        return *failure;
    }
    return SnsCaller(std::move(std::get<ServeClient>(client)));
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
