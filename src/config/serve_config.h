// Settings of `photoflux serve`: where it listens and keeps data, its credentials, the S3 API's
// policy (region, virtual-host domain, CORS, public buckets) and the limits that protect it from
// slow or hostile clients. Lists are comma-separated so every setting stays one value.
#pragma once

#include "config/bucket_notifications.h"
#include "config/notify_topics.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace pf::config {

// A person who may sign in to the web console with a name and password (serve.console.users).
struct ConsoleUserConfig {
    std::string name;
    std::string password;
};

struct ServeConfig {
    std::string listen = "127.0.0.1:9000";
    std::string data_dir = "photoflux-data";
    // Empty: taken from PHOTOFLUX_ACCESS_KEY_ID/PHOTOFLUX_SECRET_ACCESS_KEY, else generated on
    // first start and kept in <data_dir>/credentials.json (mode 0600).
    std::string access_key_id;
    std::string secret_access_key;
    std::string region = "us-east-1";
    // Base domains for virtual-hosted addressing: <bucket>.<domain>[:port].
    std::string virtual_host_domains = "localhost";
    std::string default_bucket = "photos";
    // Buckets anyone may read without credentials (objects and listings).
    std::string public_read_buckets;

    std::string cors_allowed_origins = "*";
    std::string cors_allowed_methods = "GET,PUT,POST,DELETE,HEAD";
    std::string cors_allowed_headers = "*";
    std::string cors_expose_headers =
        "ETag,x-amz-request-id,x-amz-id-2,x-amz-version-id,x-amz-checksum-crc32,"
        "x-amz-checksum-crc32c,x-amz-checksum-crc64nvme,x-amz-checksum-sha1,x-amz-checksum-sha256";
    int cors_max_age_seconds = 3600;

    std::uint64_t max_object_bytes = 5ull << 30;  // single PUT / POST / part, as on S3
    std::chrono::milliseconds max_clock_skew{15 * 60 * 1000};
    std::uint64_t min_free_disk_bytes = 64ull << 20;  // writes refused (503) below this

    int max_connections = 1024;
    std::chrono::milliseconds header_timeout{30'000};
    std::chrono::milliseconds idle_timeout{60'000};
    std::chrono::milliseconds body_timeout{60'000};
    std::chrono::milliseconds shutdown_grace{30'000};

    // TLS termination, both or neither: the certificate (PEM, intermediates after it) and its
    // unencrypted PEM key. Set, serve listens with https only.
    std::string tls_certificate_file;
    std::string tls_key_file;

    // Notifications (the SNS-compatible service).
    std::string notify_public_url;
    std::string notify_allowed_destinations;
    std::string notify_smtp_url;
    std::string notify_smtp_username;
    std::string notify_smtp_password;
    std::string notify_smtp_starttls = "try";
    std::string notify_smtp_from = "photoflux@localhost";
    // serve.notify.topics (file only): created at start, subscriptions already confirmed.
    std::vector<NotifyTopicConfig> notify_topics;

    // The function host and the photo function it runs (`photoflux function` worker processes).
    std::string function_name = "process-photo";
    int function_workers = 0;  // execution environments; 0: one per core
    int function_timeout_seconds = 60;
    int function_memory_mb = 1024;
    int function_max_retry_attempts = 2;  // as on AWS: 0..2
    int function_max_event_age_seconds = 21600;
    std::chrono::milliseconds function_retry_delay{60'000};  // before the 1st retry; 2nd: twice
    int function_reserved_concurrency = 0;                    // 0: no cap
    std::string function_recipe_file;  // empty: the built-in recipe
    std::string function_output_bucket;  // empty: the bucket of the photo
    std::string function_output_prefix = "processed/";
    std::string function_topic = "photo-events";  // empty: no messages
    bool function_delete_derivatives = true;
    // The rule installed when serve creates the default bucket: uploads under this prefix (and with
    // this suffix) trigger the function.
    std::string function_trigger_prefix = "uploads/";
    std::string function_trigger_suffix;

    // serve.notifications (file only): bucket notification rules put in place at every start.
    std::vector<BucketNotificationRule> notifications;

    // How serve reaches SQS for queue destinations (QueueConfiguration / notifications with
    // `queue:`). Empty endpoint: AWS's regional endpoint of the queue ARN's region. Empty region:
    // the queue ARN's (what requests are signed for). Empty key pair: the process's
    // AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.
    std::string sqs_endpoint_url;
    std::string sqs_region;
    std::string sqs_access_key_id;
    std::string sqs_secret_access_key;
    std::string sqs_session_token;

    // The web console at /_/console/ (docs/console.md). Anyone holding the API key pair may sign
    // in; serve.console.users (file only) adds people with a name and password.
    bool console_enabled = true;
    std::vector<ConsoleUserConfig> console_users;

    // Not a setting: the config file these settings were read from, as given on the command line
    // (empty: none). load_config() fills it in; the console's settings page shows it.
    std::string config_file;
};

}  // namespace pf::config
