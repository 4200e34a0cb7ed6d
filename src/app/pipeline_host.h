// The event pipeline of `photoflux serve`, wired: S3 event notifications (the bucket rules, the
// EventRouter installed as the store's outbox router), the outbox pump that hands each event to
// its destination (the function host's async queue, or a topic of the notification service), and
// the function host running `photoflux function` worker processes, with its Lambda API and
// metrics.
//
// Life of an event: a write commits its object and, in the same transaction, one outbox row per
// matching rule (storage/outbox.h). The listener wakes the pump, which invokes the function
// (durable in <data>/lambda/lambda.sqlite), publishes to the topic (durable in the notify
// store) or sends the event to an SQS queue (serve.sqs: AWS or a compatible server), and only
// then removes the row. A crash between the two gives a duplicate, never a loss; a queue that
// cannot be reached keeps its rows for the pump's backoff.
#pragma once

#include "app/notify_host.h"
#include "aws/sigv4.h"
#include "aws/sqs_client.h"
#include "base/metrics.h"
#include "config/imaging_config.h"
#include "config/serve_config.h"
#include "events/event_router.h"
#include "events/notification_config.h"
#include "function/http_client_transport.h"
#include "http/server.h"
#include "lambda/function_host.h"
#include "lambda/lambda_api.h"
#include "storage/disk_store.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace pf::app {

class PipelineHost {
public:
    struct Inputs {
        const config::ServeConfig* serve = nullptr;
        const config::ImagingConfig* imaging = nullptr;  // handed to the workers (PF_IMAGING_*)
        std::filesystem::path data_dir;
        storage::DiskStore* store = nullptr;
        NotifyHost* notify = nullptr;
        MetricsRegistry* metrics = nullptr;
        std::string executable;  // the photoflux binary the workers run
        // The key pair the function's workers sign with (its own, renewed at every start).
        aws::SigningCredentials function_credentials;
        // serve's API keys: the Lambda API accepts them (and the function's).
        std::function<std::optional<std::string>(std::string_view)> secret_for;
    };

    // Installs the outbox router on the store and puts the config file's bucket rules in place
    // (serve.notifications; when `default_bucket_created`, the zero-config rule on the default
    // bucket). InvalidArgument naming the rule when one is unusable.
    static Result<std::unique_ptr<PipelineHost>> open(Inputs inputs, bool default_bucket_created);
    ~PipelineHost();

    // The rules in effect on a bucket, one line each, for the start-up banner:
    // "s3://photos/uploads/* -> function process-photo".
    std::vector<std::string> describe_rules(const std::string& bucket) const;

    // PutBucketNotificationConfiguration's check: the function or topic exists here; a queue
    // exists on its SQS endpoint (GetQueueUrl answers). Blocks for the SQS round trip.
    bool destination_exists(events::DestinationKind kind, const std::string& arn) const;

    // A configuration was put through the S3 API: as S3 does, an s3:TestEvent goes to each of its
    // queues (best effort, logged; sent from the pump thread, so this returns at once).
    void notification_configured(const std::string& bucket,
                                 const events::NotificationConfiguration& configuration,
                                 const std::string& request_id);

    // Once the server listens (the workers are pointed at `url`): starts the function host and
    // the pump. Events written before (a previous run's too) are delivered now.
    Result<void> start(const std::string& url);
    // Stops taking events, then stops the host (running invocations get their grace). Called on
    // SIGTERM while the API still serves, so running invocations can finish their writes; again
    // after the server stopped (then it returns at once). Thread-safe.
    void stop();

    // What the web console learns of the function's work. `processing`: an S3 event of a created
    // object was handed to the function host (once per event, not per attempt; again when a
    // dead letter is replayed). `dead_lettered`: the invocation of such an event became a dead
    // letter; `reason` is readable ("failed 3 times: ...", "not a photo: ..."). Called from the
    // pump and the function host's threads, never under a lock of this class: both must be
    // thread-safe and quick. Either may be empty.
    struct PhotoObserver {
        std::function<void(const std::string& bucket, const std::string& key,
                           const std::string& etag)>
            processing;
        std::function<void(const std::string& bucket, const std::string& key,
                           const std::string& etag, const std::string& reason)>
            dead_lettered;
    };
    // Replaces any previous observer; thread-safe.
    void set_photo_observer(PhotoObserver observer);

    // The function's dead letters, newest first (at most `limit`); Unavailable before start().
    Result<std::vector<lambda::StoredDeadLetter>> function_dead_letters(std::size_t limit = 1000);
    // Replays the function's dead letters with these request ids (none: all of them); returns how
    // many went back into the queue. Their photos are reported `processing` again.
    Result<std::size_t> replay_function_dead_letters(const std::vector<std::string>& request_ids);

    static bool is_lambda_request(const http::Request& request) {
        return lambda::LambdaApi::is_lambda_request(request);
    }
    void handle_lambda_api(const http::Request& request, http::RequestBody& body,
                           http::Response& response);

private:
    explicit PipelineHost(Inputs inputs);
    Result<void> declare_rules(bool default_bucket_created);
    lambda::FunctionSettings function_settings(const std::string& url) const;
    void register_metrics();
    void on_completion(const lambda::Completion& completion);
    void pump();
    // Hands one outbox row to its destination. Ok: delivered (or dropped for good, logged).
    // An error: retry later.
    Result<void> dispatch(const storage::OutboxEntry& entry);

    // Queue destinations. The queue URL comes from GetQueueUrl (name + owner account of the ARN),
    // asked once per ARN and cached: it works with AWS and with any compatible server whatever
    // its URL scheme. NotFound: the queue does not exist.
    aws::SqsClient sqs_client(const std::string& arn_region) const;
    Result<std::string> queue_url(const std::string& arn, bool refresh) const;
    // Ok: sent. NotFound: the queue does not exist (drop). InvalidArgument / TooLarge: refused
    // for good (drop). Anything else: try again later.
    Result<std::string> send_to_queue(const std::string& arn, const std::string& body);
    void count_queue_send(const char* outcome);
    void send_test_events();

    std::unique_ptr<function::HttpClientTransport> sqs_transport_;
    std::optional<aws::SigningCredentials> sqs_credentials_;  // nullopt: none configured
    mutable std::mutex queue_urls_mutex_;
    mutable std::map<std::string, std::string> queue_urls_;  // queue ARN -> URL
    struct TestEvent {
        std::string queue_arn;
        std::string body;
    };
    static constexpr std::size_t kMaxPendingTestEvents = 1000;
    std::deque<TestEvent> test_events_;  // under mutex_

    // The photos (created objects) an S3 event payload names; empty when it names none.
    struct PhotoRef {
        std::string bucket;
        std::string key;
        std::string etag;
    };
    static std::vector<PhotoRef> photos_of(const std::string& payload);
    // Remembers the photos of an invocation handed to the function host and reports them
    // `processing`, unless it already completed (a fast failure, a recursion stop).
    void invocation_started(const std::string& request_id, std::vector<PhotoRef> photos);
    // The photos of a finished invocation (forgotten now); for a dead letter not remembered (an
    // earlier run's, or one that finished before invocation_started), read from the dead letters.
    std::vector<PhotoRef> invocation_finished(const std::string& request_id, bool dead_lettered);
    std::shared_ptr<const PhotoObserver> photo_observer() const;

    Inputs in_;
    std::string function_arn_;
    std::shared_ptr<events::EventRouter> router_;
    std::unique_ptr<lambda::FunctionHost> host_;
    std::atomic<lambda::FunctionHost*> running_host_{nullptr};  // host_ once started
    std::unique_ptr<lambda::LambdaApi> api_;

    std::mutex lifecycle_mutex_;  // start() and stop() one at a time
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    bool pending_ = false;  // the listener fired since the pump last looked
    std::thread pump_thread_;

    // The console's view of invocations: request id -> the photos of its event, for invocations
    // not finished yet. Bounded: the oldest are forgotten first (their dead letter, if any, is
    // then read back from the store).
    static constexpr std::size_t kMaxRemembered = 10'000;
    mutable std::mutex photos_mutex_;
    std::shared_ptr<const PhotoObserver> observer_;
    struct Remembered {
        std::uint64_t seq = 0;
        std::vector<PhotoRef> photos;
    };
    std::unordered_map<std::string, Remembered> remembered_;
    std::deque<std::pair<std::string, std::uint64_t>> remembered_order_;  // oldest first
    std::uint64_t remembered_seq_ = 0;
    std::size_t dispatching_ = 0;  // invokes / replays whose invocation_started() is still due
    // Invocations that finished before invocation_started() saw them (bounded likewise).
    std::unordered_set<std::string> finished_early_;
};

}  // namespace pf::app
