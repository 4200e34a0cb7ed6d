// The S3 REST API over an ObjectStore: addressing, authentication, CORS, dispatch to the
// operation handlers, and S3's response conventions (request ids, XML, quoted ETags, error
// documents). serve mounts handle() on the HTTP server for every path outside /_/.
#pragma once

#include "events/notification_config.h"
#include "http/server.h"
#include "s3api/authenticator.h"
#include "s3api/cors.h"
#include "s3api/s3_request.h"
#include "storage/object_store.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace pf::s3api {

struct S3Options {
    std::string region = "us-east-1";
    AddressingOptions addressing;
    CorsPolicy cors;
    std::set<std::string> public_read_buckets;  // from config; the API can add more (x-amz-acl)
    std::uint64_t max_object_bytes = 5ull << 30;
    std::uint64_t min_part_bytes = 5ull << 20;  // every part but the last, checked at Complete
    AuthOptions auth;
    // PutBucketNotificationConfiguration: whether a destination exists and accepts this bucket's
    // events ("Unable to validate the following destination configurations" otherwise). Empty:
    // every destination is accepted. Skipped when the request sends
    // x-amz-skip-destination-validation: true.
    events::DestinationCheck check_destination;
    // Called once a PutBucketNotificationConfiguration is stored, with the request's id: S3 then
    // sends an s3:TestEvent to the configuration's queues. Must not block. Empty: nothing.
    std::function<void(const std::string& bucket, const events::NotificationConfiguration&,
                       const std::string& request_id)>
        notification_configured;
};

class S3Service {
public:
    S3Service(storage::ObjectStore& store, const CredentialStore& credentials, S3Options options);

    // `operation`, when given, receives the S3 operation the request asked for ("PutObject",
    // operation_name.h; "Invalid" when its address does not parse), for metrics.
    void handle(const http::Request& request, http::RequestBody& body, http::Response& response,
                std::string_view* operation = nullptr);

private:
    struct Exchange;
    void dispatch(Exchange& x);

    // service and buckets (bucket_handlers.cc)
    void list_buckets(Exchange& x);
    void create_bucket(Exchange& x);
    void head_bucket(Exchange& x);
    void delete_bucket(Exchange& x);
    void get_bucket_location(Exchange& x);
    void put_bucket_notification(Exchange& x);
    void get_bucket_notification(Exchange& x);
    void put_bucket_acl(Exchange& x);
    void get_bucket_acl(Exchange& x);
    void get_bucket_versioning(Exchange& x);
    // objects (object_handlers.cc)
    void put_object(Exchange& x);
    void copy_object(Exchange& x);
    void get_object(Exchange& x, bool head);
    void delete_object(Exchange& x);
    void delete_objects(Exchange& x);
    void get_object_acl(Exchange& x);
    // listings (list_handlers.cc)
    void list_objects(Exchange& x, int version);
    void list_object_versions(Exchange& x);
    // multipart (multipart_handlers.cc)
    void create_multipart(Exchange& x);
    void upload_part(Exchange& x);
    void upload_part_copy(Exchange& x);
    void complete_multipart(Exchange& x);
    void abort_multipart(Exchange& x);
    void list_parts(Exchange& x);
    void list_multipart_uploads(Exchange& x);
    // browser uploads (post_object.cc)
    void post_object(Exchange& x);

    bool is_public_read(const std::string& bucket);
    std::string next_request_id();

    storage::ObjectStore& store_;
    Authenticator authenticator_;
    S3Options options_;
    std::string id_prefix_;
    std::atomic<std::uint64_t> id_counter_{0};
};

}  // namespace pf::s3api
