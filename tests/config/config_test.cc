#include "config/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace pf::config {
namespace {

std::filesystem::path write_temp(const std::string& text) {
    auto path = std::filesystem::temp_directory_path() /
                ("pf-config-" + std::to_string(::getpid()) + "-" +
                 std::to_string(std::rand()) + ".yaml");
    std::ofstream(path) << text;
    return path;
}

TEST(Config, DefaultsAreSafe) {
    auto c = load_config(std::nullopt, {});
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->imaging.limits.max_pixels, 100'000'000u);
    EXPECT_EQ(c->imaging.limits.max_input_bytes, 100ull << 20);
    EXPECT_EQ(c->imaging.limits.fail_on, FailOn::Error);
    EXPECT_EQ(c->imaging.limits.time_budget.count(), 30'000);
}

TEST(Config, EnvironmentWinsOverTheFile) {
    auto file = write_temp("imaging:\n  limits:\n    max_pixels: 5000\n    max_frames: 3\n");
    auto c = load_config(file, {{"PF_IMAGING_MAX_PIXELS", "7000"}, {"UNRELATED", "x"}});
    std::filesystem::remove(file);
    ASSERT_TRUE(c.has_value()) << c.error().message;
    EXPECT_EQ(c->imaging.limits.max_pixels, 7000u);
    EXPECT_EQ(c->imaging.limits.max_frames, 3);
}

TEST(Config, ListsEveryProblem) {
    auto file = write_temp("imaging:\n  limits:\n    max_pixels: -3\n    max_pixles: 4\n"
                           "  concurrency: [1, 2]\n");
    auto c = load_config(file, {{"PF_IMAGING_FAIL_ON", "sometimes"},
                                {"PF_IMAGING_TIME_BUDGET_MS", "10"}});
    std::filesystem::remove(file);
    ASSERT_FALSE(c.has_value());
    const std::string& m = c.error().message;
    EXPECT_NE(m.find("imaging.limits.max_pixels: must be a whole number"), std::string::npos) << m;
    EXPECT_NE(m.find("imaging.limits.max_pixles: unknown setting"), std::string::npos) << m;
    EXPECT_NE(m.find("imaging.concurrency: must be a single value"), std::string::npos) << m;
    EXPECT_NE(m.find("PF_IMAGING_FAIL_ON: must be one of none, truncated, error, warning"),
              std::string::npos) << m;
    EXPECT_NE(m.find("PF_IMAGING_TIME_BUDGET_MS: must be between 100 and 3600000"),
              std::string::npos) << m;
}

TEST(Config, MissingOrBrokenFileIsAClearError) {
    auto missing = load_config(std::filesystem::path("/nonexistent/photoflux.yaml"), {});
    ASSERT_FALSE(missing.has_value());
    EXPECT_NE(missing.error().message.find("cannot read config file"), std::string::npos);
    auto file = write_temp("imaging: [unclosed\n");
    auto broken = load_config(file, {});
    std::filesystem::remove(file);
    ASSERT_FALSE(broken.has_value());
    EXPECT_NE(broken.error().message.find("is not valid YAML"), std::string::npos);
}

TEST(Config, DescriptionListsEverySettingAndParsesBackToTheDefaults) {
    std::string text = describe_settings();
    for (const char* env : {"PF_IMAGING_MAX_INPUT_BYTES", "PF_IMAGING_MAX_PIXELS",
                            "PF_IMAGING_MAX_FRAMES", "PF_IMAGING_MAX_OUTPUT_DIMENSION",
                            "PF_IMAGING_TIME_BUDGET_MS", "PF_IMAGING_FAIL_ON",
                            "PF_IMAGING_CONCURRENCY", "PF_SERVE_LISTEN", "PF_SERVE_DATA_DIR",
                            "PF_SERVE_CORS_ALLOWED_ORIGINS", "PF_SERVE_MAX_CONNECTIONS"}) {
        EXPECT_NE(text.find(env), std::string::npos) << env;
    }
    auto file = write_temp(text);
    auto c = load_config(file, {});
    std::filesystem::remove(file);
    ASSERT_TRUE(c.has_value()) << c.error().message;
    EXPECT_EQ(c->imaging.limits.max_pixels, Config{}.imaging.limits.max_pixels);
    EXPECT_EQ(c->serve.listen, Config{}.serve.listen);
    EXPECT_EQ(c->serve.cors_allowed_origins, "*");
    EXPECT_EQ(c->serve.cors_expose_headers, Config{}.serve.cors_expose_headers);
    EXPECT_EQ(c->serve.public_read_buckets, "");
}

TEST(Config, ServeSettingsFromFileAndEnvironment) {
    auto file = write_temp("serve:\n  listen: 0.0.0.0:9100\n  limits:\n    idle_timeout_ms: 5000\n");
    auto c = load_config(file, {{"PF_SERVE_DATA_DIR", "/srv/photos"}});
    std::filesystem::remove(file);
    ASSERT_TRUE(c.has_value()) << c.error().message;
    EXPECT_EQ(c->serve.listen, "0.0.0.0:9100");
    EXPECT_EQ(c->serve.idle_timeout, std::chrono::milliseconds(5000));
    EXPECT_EQ(c->serve.data_dir, "/srv/photos");
    auto bad = load_config(std::nullopt, {{"PF_SERVE_LISTEN", "9000"}, {"PF_SERVE_MAX_CONNECTIONS", "0"}});
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.error().message.find("PF_SERVE_LISTEN"), std::string::npos);
    EXPECT_NE(bad.error().message.find("PF_SERVE_MAX_CONNECTIONS"), std::string::npos);
}

TEST(Config, NotifyTopicsFromTheFile) {
    auto file = write_temp(R"(serve:
  notify:
    smtp_url: smtp://127.0.0.1:2525
    topics:
      - name: photos-done
        attributes: {DisplayName: Photos, SignatureVersion: 2}
        subscriptions:
          - {protocol: https, endpoint: "https://hooks.example.com/photoflux", raw: false, filter_policy: '{"kind":["thumb"]}'}
          - {protocol: Email, endpoint: ops@example.com}
      - name: audit_log
        attributes:
          DeliveryPolicy:
            http:
              defaultHealthyRetryPolicy: {numRetries: 1, minDelayTarget: 1, backoffFunction: linear}
        subscriptions:
          - protocol: http
            endpoint: http://127.0.0.1:8080/audit
            raw: TRUE
            filter_policy_scope: MessageBody
            filter_policy:
              kind: [thumb, "2", 3, {numeric: [">", 0.5]}]
              quoted: ["true", true, null, "a \"b\""]
            delivery_policy: '{"healthyRetryPolicy":{"numRetries":2}}'
      - name: empty
)");
    auto c = load_config(file, {});
    std::filesystem::remove(file);
    ASSERT_TRUE(c.has_value()) << c.error().message;
    const auto& topics = c->serve.notify_topics;
    ASSERT_EQ(topics.size(), 3u);
    EXPECT_EQ(topics[0].name, "photos-done");
    EXPECT_EQ(topics[0].attributes,
              (std::map<std::string, std::string>{{"DisplayName", "Photos"},
                                                  {"SignatureVersion", "2"}}));
    ASSERT_EQ(topics[0].subscriptions.size(), 2u);
    const auto& hook = topics[0].subscriptions[0];
    EXPECT_EQ(hook.protocol, "https");
    EXPECT_EQ(hook.endpoint, "https://hooks.example.com/photoflux");
    EXPECT_EQ(hook.raw, std::optional<bool>(false));
    EXPECT_EQ(hook.filter_policy, std::optional<std::string>(R"({"kind":["thumb"]})"));
    EXPECT_FALSE(hook.delivery_policy.has_value());
    const auto& mail = topics[0].subscriptions[1];
    EXPECT_EQ(mail.protocol, "email");  // lowercased
    EXPECT_EQ(mail.endpoint, "ops@example.com");
    EXPECT_FALSE(mail.raw.has_value());  // unset: left as it is
    EXPECT_FALSE(mail.filter_policy.has_value());

    // Policies written as YAML become JSON; quoted scalars stay strings.
    EXPECT_EQ(topics[1].attributes.at("DeliveryPolicy"),
              R"({"http":{"defaultHealthyRetryPolicy":{"numRetries":1,"minDelayTarget":1,)"
              R"("backoffFunction":"linear"}}})");
    const auto& audit = topics[1].subscriptions.at(0);
    EXPECT_EQ(audit.raw, std::optional<bool>(true));
    EXPECT_EQ(audit.filter_policy_scope, std::optional<std::string>("MessageBody"));
    EXPECT_EQ(audit.filter_policy,
              std::optional<std::string>(R"({"kind":["thumb","2",3,{"numeric":[">",0.5]}],)"
                                         R"("quoted":["true",true,null,"a \"b\""]})"));
    EXPECT_EQ(audit.delivery_policy,
              std::optional<std::string>(R"({"healthyRetryPolicy":{"numRetries":2}})"));
    EXPECT_EQ(topics[2].name, "empty");
    EXPECT_TRUE(topics[2].subscriptions.empty());

    // `photoflux config` says what the loaded file declares, and still parses back.
    std::string described = describe_settings(*c);
    EXPECT_NE(described.find("declares 3 topics, 3 subscriptions: photos-done (https, email), "
                             "audit_log (http), empty"),
              std::string::npos)
        << described;
    EXPECT_EQ(describe_settings().find("declares"), std::string::npos);
}

TEST(Config, NotifyTopicsListEveryProblem) {
    auto file = write_temp(R"(serve:
  notify:
    topics:
      - name: bad.fifo
        attributes: {SignatureVersion: 3, Colour: blue, DisplayName: [a]}
        subscriptions:
          - {protocol: sms, endpoint: "+15550100"}
          - {protocol: https, endpoint: "http://wrong.example.com/"}
          - {protocol: email, endpoint: nobody, raw: true}
          - {protocol: email-json, endpoint: a@b.example, delivery_policy: '{}'}
          - {protocol: http, endpoint: "http://ok.example.com/", raw: maybe, colour: red}
          - {endpoint: "http://x.example.com/"}
          - {protocol: sse, endpoint: console}
          - {protocol: http, endpoint: "http://twice.example.com/"}
          - {protocol: http, endpoint: "http://twice.example.com/"}
          - {protocol: http, endpoint: "http://scope.example.com/", filter_policy_scope: Everything}
      - {name: twin}
      - {name: twin}
      - subscriptions: {protocol: http}
      - just-a-string
)");
    auto c = load_config(file, {});
    std::filesystem::remove(file);
    ASSERT_FALSE(c.has_value());
    const std::string& m = c.error().message;
    const std::string t = "serve.notify.topics";
    for (const std::string& expected :
         {t + "[0].name: must be 1 to 256 letters, digits, hyphens or underscores",
          t + "[0].attributes.SignatureVersion: must be 1 or 2",
          t + "[0].attributes.Colour: unknown topic attribute",
          t + "[0].attributes.DisplayName: must be a single value",
          t + "[0].subscriptions[0].protocol: must be one of http, https, email, email-json",
          t + "[0].subscriptions[1].endpoint: must be an https:// URL with a host",
          t + "[0].subscriptions[2].endpoint: must be an e-mail address",
          t + "[0].subscriptions[2].raw: e-mail subscriptions cannot use raw delivery",
          t + "[0].subscriptions[3].delivery_policy: only http and https subscriptions have one",
          t + "[0].subscriptions[4].raw: must be true or false",
          t + "[0].subscriptions[4].colour: unknown key",
          t + "[0].subscriptions[5].protocol: required",
          t + "[0].subscriptions[6].protocol: sse subscriptions are opened by browsers",
          t + "[0].subscriptions[8]: http http://twice.example.com/ is declared twice",
          t + "[0].subscriptions[9].filter_policy_scope: must be MessageAttributes or MessageBody",
          t + "[2].name: twin is declared twice (also " + t + "[1])",
          t + "[3].subscriptions: must be a list of subscriptions",
          t + "[3].name: required",
          t + "[4]: must be a mapping"}) {
        EXPECT_NE(m.find(expected), std::string::npos) << expected << "\n--- got:\n" << m;
    }
    EXPECT_EQ(m.find("subscriptions[7]"), std::string::npos) << m;

    auto not_a_list = write_temp("serve:\n  notify:\n    topics: photos\n");
    auto scalar = load_config(not_a_list, {});
    std::filesystem::remove(not_a_list);
    ASSERT_FALSE(scalar.has_value());
    EXPECT_NE(scalar.error().message.find("serve.notify.topics: must be a list of topics"),
              std::string::npos)
        << scalar.error().message;
    auto typo = write_temp("serve:\n  notify:\n    topic: []\n");
    auto unknown = load_config(typo, {});
    std::filesystem::remove(typo);
    ASSERT_FALSE(unknown.has_value());
    EXPECT_NE(unknown.error().message.find("serve.notify.topic: unknown setting"),
              std::string::npos);
}

TEST(Config, NotifyTopicsDescribedAsFileOnlyWithAnExample) {
    std::string text = describe_settings();
    EXPECT_NE(text.find("    # topics created at start, with subscriptions already confirmed"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("    #   - name: photos-done"), std::string::npos) << text;
    EXPECT_NE(text.find("\n    topics: []\n"), std::string::npos) << text;
    auto file = write_temp(text);
    auto c = load_config(file, {});
    std::filesystem::remove(file);
    ASSERT_TRUE(c.has_value()) << c.error().message;
    EXPECT_TRUE(c->serve.notify_topics.empty());
}

TEST(Config, FunctionSettingsFromFileAndEnvironment) {
    auto file = write_temp(R"(serve:
  function:
    workers: 3
    timeout_seconds: 120
    max_retry_attempts: 1
    retry_delay_ms: 250
    output_prefix: derived/
    topic: ""
    delete_derivatives: false
)");
    auto c = load_config(file, {{"PF_SERVE_FUNCTION_WORKERS", "5"}});
    std::filesystem::remove(file);
    ASSERT_TRUE(c.has_value()) << c.error().message;
    EXPECT_EQ(c->serve.function_workers, 5);  // the environment wins
    EXPECT_EQ(c->serve.function_timeout_seconds, 120);
    EXPECT_EQ(c->serve.function_max_retry_attempts, 1);
    EXPECT_EQ(c->serve.function_retry_delay.count(), 250);
    EXPECT_EQ(c->serve.function_output_prefix, "derived/");
    EXPECT_EQ(c->serve.function_topic, "");
    EXPECT_FALSE(c->serve.function_delete_derivatives);
    EXPECT_EQ(c->serve.function_name, "process-photo");
    EXPECT_EQ(c->serve.function_trigger_prefix, "uploads/");

    auto bad = load_config(std::nullopt, {{"PF_SERVE_FUNCTION_MAX_RETRY_ATTEMPTS", "3"},
                                          {"PF_SERVE_FUNCTION_DELETE_DERIVATIVES", "maybe"}});
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.error().message.find("PF_SERVE_FUNCTION_MAX_RETRY_ATTEMPTS: must be between 0 and 2"),
              std::string::npos);
    EXPECT_NE(bad.error().message.find("PF_SERVE_FUNCTION_DELETE_DERIVATIVES: must be true or false"),
              std::string::npos);
}

TEST(Config, BucketNotificationRulesFromTheFile) {
    auto file = write_temp(R"(serve:
  notifications:
    - bucket: photos
      id: thumbs
      function: process-photo
      events: ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"]
      prefix: uploads/
      suffix: .jpg
    - {bucket: photos, topic: audit}
)");
    auto c = load_config(file, {});
    std::filesystem::remove(file);
    ASSERT_TRUE(c.has_value()) << c.error().message;
    const auto& rules = c->serve.notifications;
    ASSERT_EQ(rules.size(), 2u);
    EXPECT_EQ(rules[0].id, "thumbs");
    EXPECT_EQ(rules[0].function, "process-photo");
    EXPECT_EQ(rules[0].events, (std::vector<std::string>{"s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"}));
    EXPECT_EQ(rules[0].prefix, "uploads/");
    EXPECT_EQ(rules[0].suffix, ".jpg");
    EXPECT_EQ(rules[1].topic, "audit");
    EXPECT_EQ(rules[1].events, std::vector<std::string>{"s3:ObjectCreated:*"});  // the default
    EXPECT_NE(describe_settings(*c).find("declares 2 rules"), std::string::npos);
}

TEST(Config, BucketNotificationRulesListEveryProblem) {
    auto file = write_temp(R"(serve:
  notifications:
    - {bucket: photos, function: a, topic: b}
    - {bucket: photos}
    - {bucket: "no/slash", function: f, events: ["ObjectCreated:*"]}
    - {bucket: photos, function: f, colour: red}
    - just-a-string
)");
    auto c = load_config(file, {});
    std::filesystem::remove(file);
    ASSERT_FALSE(c.has_value());
    const std::string& m = c.error().message;
    for (std::string_view expected :
         {"serve.notifications[0]: must name exactly one target: function, topic or queue",
          "serve.notifications[1]: must name exactly one target: function, topic or queue",
          "serve.notifications[2].bucket: must name a bucket",
          "serve.notifications[2].events: \"ObjectCreated:*\" is not an S3 event type",
          "serve.notifications[3].colour: unknown setting",
          "serve.notifications[4]: must be a mapping"}) {
        EXPECT_NE(m.find(expected), std::string::npos) << expected << "\n---\n" << m;
    }
}

TEST(Config, QueueDestinationsAndHowServeReachesSqs) {
    auto file = write_temp(R"(serve:
  notifications:
    - {bucket: photos, queue: "arn:aws:sqs:eu-west-1:123456789012:photo-jobs", prefix: uploads/}
  sqs:
    endpoint_url: http://127.0.0.1:4566
    region: eu-west-1
    access_key_id: AKIDFILE
    secret_access_key: file-secret
)");
    auto c = load_config(file, {{"PF_SERVE_SQS_SESSION_TOKEN", "token-from-env"},
                                {"PF_SERVE_SQS_ENDPOINT_URL", "https://sqs.example.com:8443/"}});
    std::filesystem::remove(file);
    ASSERT_TRUE(c.has_value()) << c.error().message;
    ASSERT_EQ(c->serve.notifications.size(), 1u);
    EXPECT_EQ(c->serve.notifications[0].queue, "arn:aws:sqs:eu-west-1:123456789012:photo-jobs");
    EXPECT_TRUE(c->serve.notifications[0].function.empty());
    EXPECT_EQ(c->serve.notifications[0].prefix, "uploads/");
    EXPECT_EQ(c->serve.sqs_endpoint_url, "https://sqs.example.com:8443/");  // the environment wins
    EXPECT_EQ(c->serve.sqs_region, "eu-west-1");
    EXPECT_EQ(c->serve.sqs_access_key_id, "AKIDFILE");
    EXPECT_EQ(c->serve.sqs_secret_access_key, "file-secret");
    EXPECT_EQ(c->serve.sqs_session_token, "token-from-env");
    EXPECT_NE(describe_settings(*c).find("queue arn:aws:sqs:eu-west-1:123456789012:photo-jobs"),
              std::string::npos);

    // Defaults: AWS's endpoint, the ARN's region, the environment's credentials.
    auto defaults = load_config(std::nullopt, {});
    ASSERT_TRUE(defaults.has_value());
    EXPECT_TRUE(defaults->serve.sqs_endpoint_url.empty());
    EXPECT_TRUE(defaults->serve.sqs_region.empty());
    EXPECT_TRUE(defaults->serve.sqs_access_key_id.empty());
    const std::string reference = describe_settings();
    for (const char* env : {"PF_SERVE_SQS_ENDPOINT_URL", "PF_SERVE_SQS_REGION",
                            "PF_SERVE_SQS_ACCESS_KEY_ID", "PF_SERVE_SQS_SECRET_ACCESS_KEY",
                            "PF_SERVE_SQS_SESSION_TOKEN"}) {
        EXPECT_NE(reference.find(env), std::string::npos) << env;
    }
}

TEST(Config, SqsSettingsListEveryProblem) {
    auto file = write_temp(R"(serve:
  notifications:
    - {bucket: photos, queue: "arn:aws:sns:us-east-1:123456789012:topic"}
    - {bucket: photos, queue: "photo-jobs"}
    - {bucket: photos, queue: "arn:aws:sqs:us-east-1:1:q", function: f}
  sqs:
    endpoint_url: ftp://example.com
    region: EU_WEST
    access_key_id: only-the-id
    colour: blue
)");
    auto c = load_config(file, {{"PF_SERVE_SQS_SESSION_TOKEN", "t"}});
    std::filesystem::remove(file);
    ASSERT_FALSE(c.has_value());
    const std::string& m = c.error().message;
    for (const char* expected :
         {"serve.notifications[0].queue: must be an SQS queue ARN",
          "serve.notifications[1].queue: must be an SQS queue ARN",
          "serve.notifications[2]: must name exactly one target",
          "serve.sqs.endpoint_url: must start with http:// or https://",
          "serve.sqs.region: must be a region name",
          "serve.sqs: access_key_id and secret_access_key go together",
          "serve.sqs.colour: unknown setting"}) {
        EXPECT_NE(m.find(expected), std::string::npos) << expected << "\n---\n" << m;
    }

    for (const auto& [url, problem] : std::vector<std::pair<std::string, std::string>>{
             {"http://user:pw@host:9324", "must not carry user information"},
             {"http://host:99999", "port must be between 1 and 65535"},
             {"http://host:", "has a malformed port"},
             {"https://:443", "must name a host"},
             {"http://host/?x=1", "must not have a query"},
             {"http://ho st", "must not contain spaces"}}) {
        auto bad = load_config(std::nullopt, {{"PF_SERVE_SQS_ENDPOINT_URL", url}});
        ASSERT_FALSE(bad.has_value()) << url;
        EXPECT_NE(bad.error().message.find("PF_SERVE_SQS_ENDPOINT_URL: " + problem),
                  std::string::npos)
            << url << ": " << bad.error().message;
    }
    for (const char* url : {"http://127.0.0.1:9324", "https://sqs.eu-west-1.amazonaws.com",
                                  "http://[::1]:4566/", "http://localhost/base"}) {
        EXPECT_TRUE(load_config(std::nullopt, {{"PF_SERVE_SQS_ENDPOINT_URL", url}}).has_value())
            << url;
    }
    auto token_alone = load_config(std::nullopt, {{"PF_SERVE_SQS_SESSION_TOKEN", "t"}});
    ASSERT_FALSE(token_alone.has_value());
    EXPECT_NE(token_alone.error().message.find("serve.sqs.session_token: needs"), std::string::npos);
}

TEST(Config, DescriptionOpensEachSectionOnce) {
    // A section printed twice (serve.notify: ... serve.function: ... serve.notify:) would make a
    // YAML reader keep one of the two and silently drop the settings of the other.
    std::istringstream in(describe_settings());
    std::vector<std::string> path;
    std::set<std::string> opened;
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line.find('#') != std::string::npos || line.back() != ':') continue;
        std::size_t indent = line.find_first_not_of(' ');
        path.resize(indent / 2);
        path.push_back(line.substr(indent, line.size() - indent - 1));
        std::string dotted;
        for (const auto& p : path) dotted += (dotted.empty() ? "" : ".") + p;
        EXPECT_TRUE(opened.insert(dotted).second) << "section " << dotted << " opened twice";
    }
    EXPECT_TRUE(opened.contains("serve.notify"));
    EXPECT_TRUE(opened.contains("serve.function"));
}

TEST(Config, ConsoleEnabledByDefaultAndFromFileAndEnvironment) {
    auto defaults = load_config(std::nullopt, {});
    ASSERT_TRUE(defaults.has_value());
    EXPECT_TRUE(defaults->serve.console_enabled);
    EXPECT_TRUE(defaults->serve.console_users.empty());
    EXPECT_TRUE(defaults->serve.config_file.empty());

    auto file = write_temp("serve:\n  console:\n    enabled: false\n");
    auto off = load_config(file, {});
    auto env_wins = load_config(file, {{"PF_SERVE_CONSOLE_ENABLED", "true"}});
    ASSERT_TRUE(off.has_value()) << off.error().message;
    EXPECT_FALSE(off->serve.console_enabled);
    EXPECT_EQ(off->serve.config_file, file.string());
    ASSERT_TRUE(env_wins.has_value()) << env_wins.error().message;
    EXPECT_TRUE(env_wins->serve.console_enabled);
    std::filesystem::remove(file);

    auto bad = load_config(std::nullopt, {{"PF_SERVE_CONSOLE_ENABLED", "maybe"}});
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.error().message.find("PF_SERVE_CONSOLE_ENABLED: must be true or false"),
              std::string::npos)
        << bad.error().message;
}

TEST(Config, ConsoleUsersFromTheFile) {
    auto file = write_temp(R"(serve:
  console:
    users:
      - {name: alice, password: "tr0ub4dor & 3"}
      - name: bob
        password: 12345678
)");
    auto c = load_config(file, {});
    std::filesystem::remove(file);
    ASSERT_TRUE(c.has_value()) << c.error().message;
    const auto& users = c->serve.console_users;
    ASSERT_EQ(users.size(), 2u);
    EXPECT_EQ(users[0].name, "alice");
    EXPECT_EQ(users[0].password, "tr0ub4dor & 3");
    EXPECT_EQ(users[1].name, "bob");
    EXPECT_EQ(users[1].password, "12345678");
    // `photoflux config` names the users, never their passwords.
    std::string described = describe_settings(*c);
    EXPECT_NE(described.find("declares 2 users: alice, bob"), std::string::npos) << described;
    EXPECT_EQ(described.find("tr0ub4dor"), std::string::npos);
    EXPECT_EQ(described.find("12345678"), std::string::npos);
}

TEST(Config, ConsoleUsersListEveryProblem) {
    auto file = write_temp(R"(serve:
  console:
    users:
      - {name: alice, password: short}
      - {name: alice, password: "long enough"}
      - {password: "long enough"}
      - {name: "has space", password: "long enough", role: admin}
      - {name: [x], password: {a: b}}
      - just-a-string
)");
    auto c = load_config(file, {});
    std::filesystem::remove(file);
    ASSERT_FALSE(c.has_value());
    const std::string& m = c.error().message;
    for (std::string expected :
         {"serve.console.users[0].password: must be at least 8 characters",
          "serve.console.users[1].name: alice is already the name of serve.console.users[0]",
          "serve.console.users[2].name: missing",
          "serve.console.users[3].name: must be 1 to 64 characters",
          "serve.console.users[3].role: unknown setting",
          "serve.console.users[4].name: must be a single value",
          "serve.console.users[4].password: must be a single value",
          "serve.console.users[5]: must be a mapping"}) {
        EXPECT_NE(m.find(expected), std::string::npos) << expected << "\n---\n" << m;
    }
    EXPECT_EQ(m.find("short"), std::string::npos) << "a password was quoted: " << m;

    auto not_a_list = write_temp("serve:\n  console:\n    users: alice\n");
    auto scalar = load_config(not_a_list, {});
    std::filesystem::remove(not_a_list);
    ASSERT_FALSE(scalar.has_value());
    EXPECT_NE(scalar.error().message.find("serve.console.users: must be a list of users"),
              std::string::npos)
        << scalar.error().message;

    std::string many = "serve:\n  console:\n    users:\n";
    for (int i = 0; i < 101; ++i) {
        many += "      - {name: u" + std::to_string(i) + ", password: password}\n";
    }
    auto too_many_file = write_temp(many);
    auto too_many = load_config(too_many_file, {});
    std::filesystem::remove(too_many_file);
    ASSERT_FALSE(too_many.has_value());
    EXPECT_NE(too_many.error().message.find("serve.console.users: at most 100 users"),
              std::string::npos)
        << too_many.error().message;
}

TEST(Config, ConsoleDescribedWithItsVariableAndParsesBack) {
    std::string text = describe_settings();
    EXPECT_NE(text.find("PF_SERVE_CONSOLE_ENABLED"), std::string::npos);
    EXPECT_NE(text.find("\n  console:\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\n    users: []\n"), std::string::npos) << text;
    auto file = write_temp(text);
    auto c = load_config(file, {});
    std::filesystem::remove(file);
    ASSERT_TRUE(c.has_value()) << c.error().message;
    EXPECT_TRUE(c->serve.console_enabled);
    EXPECT_TRUE(c->serve.console_users.empty());
}

}  // namespace
}  // namespace pf::config
