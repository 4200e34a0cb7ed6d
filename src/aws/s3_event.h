// The S3 event notification message (aws-protocols.md §3.3/§3.4), both sides: serve writes it,
// the function and the SQS worker read it. Keys are form-encoded in the message (space '+',
// literal '+' %2B, '/' kept literal) and form-decoded when read.
#pragma once

#include "base/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pf::aws {

struct S3EventRecord {
    std::string event_version = "2.1";
    std::string event_source = "aws:s3";
    std::string aws_region = "us-east-1";
    std::string event_time;   // "2026-11-29T11:57:44.123Z"
    std::string event_name;   // "ObjectCreated:Put" (no "s3:" prefix)
    std::string principal_id; // userIdentity.principalId
    std::string source_ip;    // requestParameters.sourceIPAddress
    std::string request_id;   // responseElements.x-amz-request-id
    std::string host_id;      // responseElements.x-amz-id-2
    std::string configuration_id;
    std::string bucket;
    std::string bucket_owner;  // bucket.ownerIdentity.principalId
    std::string key;           // DECODED (the JSON holds it form-encoded)
    std::optional<std::uint64_t> size;  // absent on ObjectRemoved
    std::string etag;          // unquoted; empty on ObjectRemoved
    std::string version_id;    // empty: not written
    std::string sequencer;     // fixed-width uppercase hex
};

// {"Records":[...]} exactly as S3 writes it.
std::string to_event_json(const std::vector<S3EventRecord>& records);

struct ParsedS3Event {
    bool test_event = false;  // s3:TestEvent (no Records): drop it
    std::vector<S3EventRecord> records;
};
// Accepts the S3 message; keys are form-decoded. InvalidArgument for anything else (not JSON,
// no Records, a record without bucket/key, eventVersion major != 2), with a message saying what.
Result<ParsedS3Event> parse_s3_event(const std::string& json);

// A fixed-width (16 digits) uppercase hex sequencer, strictly increasing within this process:
// from a nanosecond clock, bumped past the previous value.
std::string next_sequencer();

}  // namespace pf::aws
