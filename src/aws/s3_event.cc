#include "aws/s3_event.h"

#include "aws/uri_encoding.h"
#include "base/json_depth.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>

namespace pf::aws {
namespace {

constexpr std::size_t kMaxEventBytes = 1u << 20;  // S3 caps messages at 64 KB; room to spare
constexpr std::size_t kMaxDepth = 16;             // the message nests 5 deep
constexpr std::size_t kMaxKeyBytes = 1024;

using ordered_json = nlohmann::ordered_json;
using json = nlohmann::json;

// S3's form encoding with '/' kept literal, as real S3 events show keys ("photos/2024/a.jpg").
// form_encode writes '%' itself as %25, so every "%2F" in its output came from a '/'.
std::string encode_key(std::string_view key) {
    const std::string encoded = form_encode(key);
    std::string out;
    out.reserve(encoded.size());
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        if (encoded.compare(i, 3, "%2F") == 0) {
            out.push_back('/');
            i += 2;
        } else {
            out.push_back(encoded[i]);
        }
    }
    return out;
}

Error invalid(const std::string& what) {
    return make_error(ErrorCode::InvalidArgument, "S3 event: " + what);
}

// Reads optional fields, keeping the first type error: absent (or null) fields read as empty,
// a field of the wrong type is an error naming its path.
class FieldReader {
public:
    std::string text(const json& object, const char* name, const std::string& where) {
        const auto it = object.find(name);
        if (it == object.end() || it->is_null()) {
            return {};
        }
        if (!it->is_string()) {
            fail(where + name + " is not a string");
            return {};
        }
        return it->get<std::string>();
    }
    const json& object(const json& parent, const char* name, const std::string& where) {
        static const json kEmpty = json::object();
        const auto it = parent.find(name);
        if (it == parent.end() || it->is_null()) {
            return kEmpty;
        }
        if (!it->is_object()) {
            fail(where + name + " is not an object");
            return kEmpty;
        }
        return *it;
    }
    void fail(const std::string& what) {
        if (!error) {
            error = invalid(what);
        }
    }
    std::optional<Error> error;
};

Result<S3EventRecord> parse_record(const json& record, std::size_t index) {
    const std::string at = "Records[" + std::to_string(index) + "]";
    if (!record.is_object()) {
        return invalid(at + " is not an object");
    }
    const std::string where = at + ".";
    FieldReader read;
    S3EventRecord r;
    r.event_version = read.text(record, "eventVersion", where);
    // Consumers require major version 2 and ignore the minor (2.1 ... 2.6 exist).
    if (!read.error && r.event_version.substr(0, r.event_version.find('.')) != "2") {
        return invalid(where + "eventVersion \"" + r.event_version.substr(0, 16) +
                       "\" is not 2.x");
    }
    r.event_source = read.text(record, "eventSource", where);
    r.aws_region = read.text(record, "awsRegion", where);
    r.event_time = read.text(record, "eventTime", where);
    r.event_name = read.text(record, "eventName", where);
    r.principal_id = read.text(read.object(record, "userIdentity", where), "principalId",
                               where + "userIdentity.");
    r.source_ip = read.text(read.object(record, "requestParameters", where), "sourceIPAddress",
                            where + "requestParameters.");
    const json& response_elements = read.object(record, "responseElements", where);
    r.request_id = read.text(response_elements, "x-amz-request-id", where + "responseElements.");
    r.host_id = read.text(response_elements, "x-amz-id-2", where + "responseElements.");

    const auto s3_it = record.find("s3");
    if (s3_it == record.end() || !s3_it->is_object()) {
        return invalid(where + "s3 is missing or not an object");
    }
    const json& s3 = *s3_it;
    const std::string s3_where = where + "s3.";
    r.configuration_id = read.text(s3, "configurationId", s3_where);
    const json& bucket = read.object(s3, "bucket", s3_where);
    r.bucket = read.text(bucket, "name", s3_where + "bucket.");
    r.bucket_owner = read.text(read.object(bucket, "ownerIdentity", s3_where + "bucket."),
                               "principalId", s3_where + "bucket.ownerIdentity.");
    const std::string object_where = s3_where + "object.";
    const json& object = read.object(s3, "object", s3_where);
    const std::string encoded_key = read.text(object, "key", object_where);
    r.etag = read.text(object, "eTag", object_where);
    r.version_id = read.text(object, "versionId", object_where);
    r.sequencer = read.text(object, "sequencer", object_where);
    if (read.error) {
        return *read.error;
    }
    if (r.bucket.empty()) {
        return invalid(s3_where + "bucket.name is missing");
    }
    if (encoded_key.empty()) {
        return invalid(object_where + "key is missing");
    }
    auto key = form_decode(encoded_key);
    if (!key) {
        return invalid(object_where + "key has a malformed %-escape");
    }
    if (key->size() > kMaxKeyBytes) {
        return invalid(object_where + "key is longer than 1024 bytes");
    }
    r.key = std::move(*key);
    if (const auto size = object.find("size"); size != object.end() && !size->is_null()) {
        if (!size->is_number_unsigned()) {  // nlohmann keeps non-negative integers unsigned
            return invalid(object_where + "size is not a non-negative integer");
        }
        r.size = size->get<std::uint64_t>();
    }
    return r;
}

}  // namespace

std::string to_event_json(const std::vector<S3EventRecord>& records) {
    ordered_json list = ordered_json::array();
    for (const S3EventRecord& r : records) {
        // Field order as S3 writes it (§3.3); consumers must not care, people reading logs do.
        ordered_json object;
        object["key"] = encode_key(r.key);
        if (r.size) {
            object["size"] = *r.size;
        }
        if (!r.etag.empty()) {
            object["eTag"] = r.etag;
        }
        if (!r.version_id.empty()) {
            object["versionId"] = r.version_id;
        }
        if (!r.sequencer.empty()) {
            object["sequencer"] = r.sequencer;
        }
        ordered_json record;
        record["eventVersion"] = r.event_version;
        record["eventSource"] = r.event_source;
        record["awsRegion"] = r.aws_region;
        record["eventTime"] = r.event_time;
        record["eventName"] = r.event_name;
        record["userIdentity"] = {{"principalId", r.principal_id}};
        record["requestParameters"] = {{"sourceIPAddress", r.source_ip}};
        record["responseElements"] = {{"x-amz-request-id", r.request_id},
                                      {"x-amz-id-2", r.host_id}};
        ordered_json s3;
        s3["s3SchemaVersion"] = "1.0";
        s3["configurationId"] = r.configuration_id;
        s3["bucket"] = {{"name", r.bucket},
                        {"ownerIdentity", {{"principalId", r.bucket_owner}}},
                        {"arn", "arn:aws:s3:::" + r.bucket}};
        s3["object"] = std::move(object);
        record["s3"] = std::move(s3);
        list.push_back(std::move(record));
    }
    ordered_json message;
    message["Records"] = std::move(list);
    // Invalid UTF-8 in a key is already %-escaped; replace guards the other strings.
    return message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<ParsedS3Event> parse_s3_event(const std::string& text) {
    if (text.size() > kMaxEventBytes) {
        return invalid("message of " + std::to_string(text.size()) +
                       " bytes is over the 1 MiB limit");
    }
    if (json_nesting_exceeds(text, kMaxDepth)) {
        return invalid("message nests deeper than 16 levels");
    }
    const json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (document.is_discarded()) {
        return invalid("message is not valid JSON");
    }
    if (!document.is_object()) {
        return invalid("message is not a JSON object");
    }
    ParsedS3Event parsed;
    const auto records = document.find("Records");
    if (records == document.end()) {
        // S3 sends {"Service":"Amazon S3","Event":"s3:TestEvent",...} when a configuration is
        // saved; it carries no records and is to be dropped.
        const auto event = document.find("Event");
        if (event != document.end() && event->is_string() && *event == "s3:TestEvent") {
            parsed.test_event = true;
            return parsed;
        }
        return invalid("message has no Records (and is not an s3:TestEvent)");
    }
    if (!records->is_array()) {
        return invalid("Records is not an array");
    }
    for (std::size_t i = 0; i < records->size(); ++i) {
        auto record = parse_record((*records)[i], i);
        if (!record) {
            return record.error();
        }
        parsed.records.push_back(std::move(*record));
    }
    return parsed;
}

std::string next_sequencer() {
    // Nanoseconds since the epoch need 61 bits until 2262, so 16 hex digits hold them; the bump
    // keeps two calls in the same nanosecond (or after a clock step back) strictly increasing.
    static std::atomic<std::uint64_t> last{0};
    const auto now = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count());
    std::uint64_t previous = last.load();
    std::uint64_t next = 0;
    do {
        next = now > previous ? now : previous + 1;
    } while (!last.compare_exchange_weak(previous, next));
    char text[17];
    std::snprintf(text, sizeof text, "%016llX", static_cast<unsigned long long>(next));
    return text;
}

}  // namespace pf::aws
