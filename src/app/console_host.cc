#include "app/console_host.h"

#include "app/console_settings.h"

#include <optional>
#include <string_view>
#include <vector>

namespace pf::app {
namespace {

console::ConsoleOptions console_options(const ConsoleWiring& w) {
    const config::ServeConfig& serve = w.serve;
    console::ConsoleOptions options;
    options.region = serve.region;
    options.secure_cookie = w.tls;
    for (const auto& user : serve.console_users) {
        options.users.push_back({user.name, user.password});
    }
    options.max_object_bytes = serve.max_object_bytes;
    auto& layout = options.layout;
    layout.default_bucket = serve.default_bucket;
    layout.upload_prefix = serve.function_trigger_prefix;
    layout.output_bucket = serve.function_output_bucket;
    layout.output_prefix = serve.function_output_prefix;
    layout.topic_arn =
        serve.function_topic.empty() ? std::string() : w.notify.topic_arn(serve.function_topic);
    layout.function_name = serve.function_name;
    return options;
}

console::ConsoleServices console_services(const ConsoleWiring& w, const std::string& topic_arn) {
    console::ConsoleServices services;
    services.store = &w.store;
    // People sign in with serve's API key pair only (the function workers' pair is theirs).
    services.secret_for = [api = w.credentials](std::string_view key) -> std::optional<std::string> {
        if (key == api.access_key_id) return api.secret_access_key;
        return std::nullopt;
    };
    services.api_credentials = {w.credentials.access_key_id, w.credentials.secret_access_key, ""};
    NotifyHost& notify = w.notify;
    PipelineHost& pipeline = w.pipeline;
    services.sns = [&notify](std::string_view form_body) {
        return notify.handle_console_sns(form_body);
    };
    services.function_dead_letters = [&pipeline] { return pipeline.function_dead_letters(); };
    services.replay_function_dead_letters = [&pipeline](const std::vector<std::string>& ids) {
        return pipeline.replay_function_dead_letters(ids);
    };

    ConsoleSettingsInputs settings;
    settings.serve = &w.serve;
    settings.data_dir = w.data_dir;
    settings.endpoint = w.endpoint;
    storage::ObjectStore& store = w.store;
    settings.buckets = [&store]() -> Result<std::vector<std::string>> {
        auto buckets = store.list_buckets();
        if (!buckets) return buckets.error();
        std::vector<std::string> names;
        for (const auto& b : *buckets) names.push_back(b.name);
        return names;
    };
    settings.rules = [&pipeline](const std::string& bucket) {
        return pipeline.describe_rules(bucket);
    };
    settings.topics = [&notify] { return notify.topic_arns(1000); };
    settings.function_topic_arn = topic_arn;
    services.settings = console_settings(std::move(settings));
    return services;
}

}  // namespace

std::unique_ptr<console::ConsoleApi> open_console(const ConsoleWiring& wiring) {
    console::ConsoleOptions options = console_options(wiring);
    const std::string topic_arn = options.layout.topic_arn;
    auto console = std::make_unique<console::ConsoleApi>(std::move(options),
                                                         console_services(wiring, topic_arn));

    console::ConsoleApi* feed = console.get();
    wiring.notify.set_publish_observer([feed](const notify::PublishedMessage& m) {
        feed->message_published(m.topic_arn, m.message_id, m.subject.value_or(""), m.message,
                                m.timestamp);
    });
    PipelineHost::PhotoObserver photos;
    photos.processing = [feed](const std::string& bucket, const std::string& key,
                               const std::string& etag) {
        feed->photo_processing(bucket, key, etag);
    };
    photos.dead_lettered = [feed](const std::string& bucket, const std::string& key,
                                  const std::string& etag, const std::string& reason) {
        feed->photo_dead_lettered(bucket, key, etag, reason);
    };
    wiring.pipeline.set_photo_observer(std::move(photos));
    return console;
}

}  // namespace pf::app
