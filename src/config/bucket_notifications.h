// Bucket notification rules declared in the config file (serve.notifications). At every start
// `photoflux serve` makes each named bucket's notification configuration exactly the rules listed
// for it (the file wins over PutBucketNotificationConfiguration for those buckets; buckets not
// named keep what the API set). Only in the file: a list has no environment variable.
//
//   serve:
//     notifications:
//       - bucket: photos
//         id: thumbnails                       # optional: generated when absent
//         function: process-photo              # or  topic: photo-uploads
//                                              # or  queue: arn:aws:sqs:us-east-1:111122223333:jobs
//         events: ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
//         prefix: uploads/
//         suffix: .jpg
//
// The loader checks the shape (names, one target, event names' form); overlap and whether the
// target exists are checked at start by the same validation the S3 API uses.
#pragma once

#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace pf::config {

struct BucketNotificationRule {
    std::string bucket;
    std::string id;
    std::string function;  // a function name of this serve (exactly one of function/topic/queue)
    std::string topic;     // a topic name of this serve
    std::string queue;     // an SQS queue ARN (serve.sqs says how it is reached)
    std::vector<std::string> events;
    std::string prefix;
    std::string suffix;
};

// Reads the list at `path` into `out`, one line per problem in `problems`.
void parse_bucket_notifications(const YAML::Node& node, const std::string& path,
                                std::vector<BucketNotificationRule>& out,
                                std::vector<std::string>& problems);

// One line for `photoflux config`: "2 rules: photos (process-photo), photos (topic audit)".
std::string summarize_bucket_notifications(const std::vector<BucketNotificationRule>& rules);

}  // namespace pf::config
