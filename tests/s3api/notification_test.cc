// S3 notifications through the real S3Service on a real DiskStore: the Put/GetBucketNotification
// round trip and its errors, and the event rows every kind of write leaves in the store's outbox
// (event names, request ids, client address, principal, trace ids). Requests are SigV4-signed as a
// client would sign them.
#include "aws/s3_event.h"
#include "aws/sigv4.h"
#include "aws/time_format.h"
#include "aws/uri_encoding.h"
#include "base/ascii.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "events/event_router.h"
#include "fake_http.h"
#include "s3api/change_cause.h"
#include "s3api/s3_service.h"
#include "storage/disk_store.h"
#include "support/temp_dir.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <pugixml.hpp>
#include <regex>

namespace pf::s3api {
namespace {

using nlohmann::json;

constexpr const char* kAccessKey = "AKIAIOSFODNN7EXAMPLE";
constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr const char* kLambdaArn = "arn:aws:lambda:us-east-1:123456789012:function:thumb";
constexpr const char* kTopicArn = "arn:aws:sns:us-east-1:123456789012:photo-events";
constexpr const char* kClient = "203.0.113.9:40112";

// What botocore sends (§3.1), trimmed to a Lambda rule on created .jpg under uploads/ and a topic
// for every removal (no Id: one is generated).
const std::string kConfig =
    R"(<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
    R"(<CloudFunctionConfiguration><Id>thumb</Id><CloudFunction>)" +
    std::string(kLambdaArn) +
    R"(</CloudFunction><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix)"
    R"(</Name><Value>uploads/</Value></FilterRule><FilterRule><Name>suffix</Name><Value>.jpg)"
    R"(</Value></FilterRule></S3Key></Filter></CloudFunctionConfiguration><TopicConfiguration>)"
    R"(<Topic>)" +
    std::string(kTopicArn) +
    R"(</Topic><Event>s3:ObjectRemoved:*</Event></TopicConfiguration></NotificationConfiguration>)";

class Credentials : public CredentialStore {
public:
    std::optional<std::string> secret_for(std::string_view id) const override {
        if (id == kAccessKey)
            return std::string(kSecret);
        return std::nullopt;
    }
};

class CapturedResponse : public http::Response {
public:
    Result<void> start(int s, std::vector<std::pair<std::string, std::string>> h,
                       std::optional<std::uint64_t>) override {
        status = s;
        headers = std::move(h);
        started_ = true;
        return {};
    }
    Result<void> write(std::span<const char> bytes) override {
        body.append(bytes.data(), bytes.size());
        return {};
    }
    Result<void> finish() override { return {}; }
    bool started() const override { return started_; }
    void close_after() override {}

    std::string header(std::string_view name) const {
        for (const auto& [n, v] : headers) {
            if (ascii_iequals(n, name))
                return v;
        }
        return {};
    }
    // Text of a top-level element of an XML body ("" when absent).
    std::string xml(const char* element) const {
        pugi::xml_document doc;
        doc.load_string(body.c_str());
        return doc.document_element().child_value(element);
    }

    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

private:
    bool started_ = false;
};

class NotificationApiTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::make_unique<pf::test::TempDir>("pf-s3-notify");
        storage::DiskStoreOptions o;
        o.root = dir_->path() / "store";
        o.min_free_bytes = 0;
        auto opened = storage::DiskStore::open(o);
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(*opened);
        // What app/ wires: the store's outbox router backed by events::EventRouter.
        store_->set_outbox_router(
            [this](const storage::ObjectChange& change,
                   std::string_view document) -> Result<std::vector<storage::OutboxRow>> {
                events::ObjectEvent e;
                e.bucket = change.bucket;
                e.key = change.key;
                e.event_name = change.cause.event_name;
                e.size = change.size;
                e.etag = change.etag;
                e.request_id = change.cause.request_id;
                e.host_id = change.cause.host_id;
                e.source_ip = change.cause.source_ip;
                e.principal_id = change.cause.principal_id;
                e.trace_id = change.cause.trace_id;
                e.event_time_ms = change.event_time_ms;
                e.sequencer = change.sequencer;
                e.region = change.region;
                auto messages = router_.route(e, document);
                if (!messages)
                    return messages.error();
                std::vector<storage::OutboxRow> rows;
                for (auto& m : *messages) {
                    rows.push_back({m.target_arn, std::move(m.payload), m.trace_id});
                }
                return rows;
            });
        S3Options options;
        options.min_part_bytes = 1;
        options.check_destination = [this](events::DestinationKind, const std::string& arn) {
            return !arn.ends_with(":missing");
        };
        options.notification_configured = [this](const std::string& bucket,
                                                 const events::NotificationConfiguration& config,
                                                 const std::string& request_id) {
            configured_.push_back({bucket, config.rules.size(), request_id});
        };
        service_ = std::make_unique<S3Service>(*store_, credentials_, options);
        ASSERT_TRUE(store_->create_bucket("photos", "us-east-1").has_value());
    }

    CapturedResponse send(const std::string& method, const std::string& target,
                          const std::string& body = {},
                          std::vector<std::pair<std::string, std::string>> extra = {},
                          bool sign = true) {
        http::Request request;
        request.method = method;
        request.target = target;
        request.remote_address = kClient;
        request.headers = {{"host", "127.0.0.1:9000"}};
        for (auto& h : extra)
            request.headers.push_back(std::move(h));
        request.content_length = body.size();
        if (sign) {
            aws::SignRequest s;
            s.method = method;
            auto q = target.find('?');
            s.path = *aws::percent_decode_path(target.substr(0, q));
            if (q != std::string::npos)
                s.query = *aws::parse_query(target.substr(q + 1));
            s.headers = request.headers;
            s.payload_hash = crypto::sha256_hex(body);
            s.region = "us-east-1";
            s.service = "s3";
            s.now = std::chrono::system_clock::now();
            for (auto& h : aws::sign_request(s, {kAccessKey, kSecret, ""})) {
                request.headers.push_back(std::move(h));
            }
        }
        testing::StringBody request_body(body);
        CapturedResponse response;
        service_->handle(request, request_body, response);
        return response;
    }

    std::vector<storage::OutboxEntry> outbox() {
        auto rows = store_->outbox_peek(0, 1000);
        EXPECT_TRUE(rows.has_value());
        return rows ? *rows : std::vector<storage::OutboxEntry>{};
    }
    void clear_outbox() {
        std::vector<std::int64_t> ids;
        for (const auto& row : outbox())
            ids.push_back(row.id);
        ASSERT_TRUE(store_->outbox_remove(ids).has_value());
    }
    static json record(const storage::OutboxEntry& row) {
        return json::parse(row.payload)["Records"][0];
    }

    std::unique_ptr<pf::test::TempDir> dir_;
    std::unique_ptr<storage::DiskStore> store_;
    events::EventRouter router_;
    Credentials credentials_;
    std::unique_ptr<S3Service> service_;
    struct Configured {
        std::string bucket;
        std::size_t rules = 0;
        std::string request_id;
    };
    std::vector<Configured> configured_;  // notification_configured calls
};

TEST_F(NotificationApiTest, PutThenGetReturnsTheCanonicalDocument) {
    auto empty = send("GET", "/photos?notification");
    EXPECT_EQ(empty.status, 200);
    EXPECT_NE(empty.body.find(
                  "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""),
              std::string::npos);
    EXPECT_EQ(empty.body.find("Configuration>"), std::string::npos) << "no rules: " << empty.body;

    auto put = send("PUT", "/photos?notification", kConfig);
    ASSERT_EQ(put.status, 200) << put.body;
    EXPECT_TRUE(put.body.empty());
    // The host hears of the stored configuration (it sends S3's test events from there).
    ASSERT_EQ(configured_.size(), 1u);
    EXPECT_EQ(configured_[0].bucket, "photos");
    EXPECT_EQ(configured_[0].rules, 2u);
    EXPECT_EQ(configured_[0].request_id, put.header("x-amz-request-id"));

    auto get = send("GET", "/photos?notification");
    ASSERT_EQ(get.status, 200);
    EXPECT_EQ(get.header("Content-Type"), "application/xml");
    auto parsed = events::parse_notification_configuration(get.body, {});
    ASSERT_TRUE(parsed) << get.body;
    ASSERT_EQ(parsed->rules.size(), 2u);
    EXPECT_EQ(parsed->rules[0].arn, kTopicArn);
    EXPECT_FALSE(parsed->rules[0].id.empty()) << "the generated Id is stored";
    EXPECT_EQ(parsed->rules[1].id, "thumb");
    EXPECT_NE(get.body.find("<Name>Prefix</Name>"), std::string::npos);

    // PUTting back what GET returned changes nothing, generated Ids included.
    ASSERT_EQ(send("PUT", "/photos?notification", get.body).status, 200);
    EXPECT_EQ(send("GET", "/photos?notification").body, get.body);

    // An empty configuration turns notifications off.
    ASSERT_EQ(
        send("PUT", "/photos?notification",
             R"(<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>)")
            .status,
        200);
    EXPECT_EQ(send("GET", "/photos?notification").body, empty.body);
    EXPECT_FALSE(*store_->get_bucket_config("photos", "notification"));
}

TEST_F(NotificationApiTest, ErrorsUseS3CodesAndWording) {
    auto malformed = send("PUT", "/photos?notification", "<NotificationConfiguration>");
    EXPECT_EQ(malformed.status, 400);
    EXPECT_EQ(malformed.xml("Code"), "MalformedXML");

    auto lambda_name = send("PUT", "/photos?notification",
                            "<NotificationConfiguration><LambdaFunctionConfiguration/>"
                            "</NotificationConfiguration>");
    EXPECT_EQ(lambda_name.xml("Code"), "MalformedXML");

    std::string bad_event = kConfig;
    bad_event.replace(bad_event.find("s3:ObjectRemoved:*"), 18, "s3:ObjectRemoved:Gone");
    auto event = send("PUT", "/photos?notification", bad_event);
    EXPECT_EQ(event.status, 400);
    EXPECT_EQ(event.xml("Code"), "InvalidArgument");
    EXPECT_EQ(event.xml("Message"), "The event is not supported for notifications");
    EXPECT_EQ(event.xml("ArgumentName"), "Event");
    EXPECT_EQ(event.xml("ArgumentValue"), "s3:ObjectRemoved:Gone") << event.body;

    std::string overlapping = kConfig;
    overlapping.replace(overlapping.find("s3:ObjectRemoved:*"), 18, "s3:ObjectCreated:Put");
    auto overlap = send("PUT", "/photos?notification", overlapping);
    EXPECT_EQ(overlap.xml("Code"), "InvalidArgument");
    EXPECT_EQ(overlap.xml("Message"),
              "Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules "
              "if the prefixes are overlapping for the same event type.");

    // A queue goes through the destination check like the others.
    auto queue = send("PUT", "/photos?notification",
                      "<NotificationConfiguration><QueueConfiguration><Queue>arn:aws:sqs:us-east-1:"
                      "1:missing</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration>"
                      "</NotificationConfiguration>");
    EXPECT_EQ(queue.xml("Code"), "InvalidArgument");
    EXPECT_EQ(queue.xml("Message"), "Unable to validate the following destination configurations");
    EXPECT_EQ(queue.xml("ArgumentName1"), "arn:aws:sqs:us-east-1:1:missing");

    std::string missing_destination = kConfig;
    missing_destination.replace(missing_destination.find(kTopicArn), std::strlen(kTopicArn),
                                "arn:aws:sns:us-east-1:123456789012:missing");
    auto destination = send("PUT", "/photos?notification", missing_destination);
    EXPECT_EQ(destination.status, 400);
    EXPECT_EQ(destination.xml("Code"), "InvalidArgument");
    EXPECT_EQ(destination.xml("Message"),
              "Unable to validate the following destination configurations");
    EXPECT_EQ(destination.xml("ArgumentName1"), "arn:aws:sns:us-east-1:123456789012:missing");
    EXPECT_FALSE(destination.xml("ArgumentValue1").empty());
    // Nothing was stored by the refused PUTs, and the host heard of none.
    EXPECT_FALSE(*store_->get_bucket_config("photos", "notification"));
    EXPECT_TRUE(configured_.empty());

    // The header S3 has for exactly this skips the check.
    auto skipped = send("PUT", "/photos?notification", missing_destination,
                        {{"x-amz-skip-destination-validation", "true"}});
    EXPECT_EQ(skipped.status, 200) << skipped.body;

    EXPECT_EQ(send("PUT", "/nosuchbucket?notification", kConfig).xml("Code"), "NoSuchBucket");
    EXPECT_EQ(send("GET", "/nosuchbucket?notification").xml("Code"), "NoSuchBucket");
    EXPECT_EQ(send("PUT", "/photos?notification", std::string(300 * 1024, ' ')).xml("Code"),
              "MaxMessageLengthExceeded");
    // Anonymous callers never touch the configuration.
    EXPECT_EQ(send("GET", "/photos?notification", "", {}, /*sign=*/false).status, 403);
}

TEST_F(NotificationApiTest, EveryWriteRecordsItsEventWithTheRequestsIdentity) {
    ASSERT_EQ(send("PUT", "/photos?notification", kConfig).status, 200);

    // PutObject, with the caller's trace header.
    const std::string trace =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    auto put =
        send("PUT", "/photos/uploads/red%20flower%2B1.jpg", "pixels", {{"x-amzn-trace-id", trace}});
    ASSERT_EQ(put.status, 200) << put.body;
    auto rows = outbox();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].target, kLambdaArn);
    EXPECT_EQ(rows[0].trace_id, trace);
    json r = record(rows[0]);
    EXPECT_EQ(r["eventName"], "ObjectCreated:Put");
    EXPECT_EQ(r["s3"]["configurationId"], "thumb");
    EXPECT_EQ(r["s3"]["object"]["key"], "uploads/red+flower%2B1.jpg");
    EXPECT_EQ(r["s3"]["object"]["size"], 6);
    EXPECT_EQ("\"" + r["s3"]["object"]["eTag"].get<std::string>() + "\"", put.header("ETag"));
    EXPECT_EQ(r["responseElements"]["x-amz-request-id"], put.header("x-amz-request-id"));
    EXPECT_EQ(r["responseElements"]["x-amz-id-2"], put.header("x-amz-id-2"));
    EXPECT_FALSE(put.header("x-amz-request-id").empty());
    EXPECT_EQ(r["requestParameters"]["sourceIPAddress"], "203.0.113.9");
    EXPECT_EQ(r["userIdentity"]["principalId"], std::string("AWS:") + kAccessKey);
    EXPECT_EQ(r["awsRegion"], "us-east-1");
    auto parsed = aws::parse_s3_event(rows[0].payload);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->records[0].key, "uploads/red flower+1.jpg");
    clear_outbox();

    // Not under the filter: the object is stored, no event.
    ASSERT_EQ(send("PUT", "/photos/thumbs/a.jpg", "x").status, 200);
    EXPECT_TRUE(outbox().empty());

    // CopyObject.
    auto copy = send("PUT", "/photos/uploads/copy.jpg", "",
                     {{"x-amz-copy-source", "photos/uploads/red%20flower%2B1.jpg"}});
    ASSERT_EQ(copy.status, 200) << copy.body;
    rows = outbox();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(record(rows[0])["eventName"], "ObjectCreated:Copy");
    EXPECT_EQ(record(rows[0])["responseElements"]["x-amz-request-id"],
              copy.header("x-amz-request-id"));
    clear_outbox();

    // Multipart upload: only the completion is an event.
    auto created = send("POST", "/photos/uploads/big.jpg?uploads");
    ASSERT_EQ(created.status, 200) << created.body;
    std::string upload_id = created.xml("UploadId");
    auto part = send("PUT", "/photos/uploads/big.jpg?partNumber=1&uploadId=" + upload_id, "part");
    ASSERT_EQ(part.status, 200) << part.body;
    EXPECT_TRUE(outbox().empty());
    auto done = send("POST", "/photos/uploads/big.jpg?uploadId=" + upload_id,
                     "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" +
                         part.header("ETag") + "</ETag></Part></CompleteMultipartUpload>");
    ASSERT_EQ(done.status, 200) << done.body;
    rows = outbox();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(record(rows[0])["eventName"], "ObjectCreated:CompleteMultipartUpload");
    EXPECT_TRUE(record(rows[0])["s3"]["object"]["eTag"].get<std::string>().ends_with("-1"));
    clear_outbox();

    // DeleteObject: an event for what was removed, none for a key that was not there.
    auto deleted = send("DELETE", "/photos/uploads/copy.jpg");
    EXPECT_EQ(deleted.status, 204);
    EXPECT_EQ(send("DELETE", "/photos/uploads/never-existed.jpg").status, 204);
    rows = outbox();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].target, kTopicArn);
    json removal = record(rows[0]);
    EXPECT_EQ(removal["eventName"], "ObjectRemoved:Delete");
    EXPECT_EQ(removal["s3"]["object"]["key"], "uploads/copy.jpg");
    EXPECT_FALSE(removal["s3"]["object"].contains("size"));
    EXPECT_EQ(removal["responseElements"]["x-amz-request-id"], deleted.header("x-amz-request-id"));
    clear_outbox();

    // DeleteObjects: one event per key removed, all with the request's ids.
    auto batch = send("POST", "/photos?delete",
                      "<Delete><Object><Key>uploads/big.jpg</Key></Object><Object><Key>absent</Key>"
                      "</Object><Object><Key>thumbs/a.jpg</Key></Object></Delete>");
    ASSERT_EQ(batch.status, 200) << batch.body;
    rows = outbox();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(record(rows[0])["s3"]["object"]["key"], "uploads/big.jpg");
    EXPECT_EQ(record(rows[1])["s3"]["object"]["key"], "thumbs/a.jpg");
    for (const auto& row : rows) {
        EXPECT_EQ(record(row)["eventName"], "ObjectRemoved:Delete");
        EXPECT_EQ(record(row)["responseElements"]["x-amz-request-id"],
                  batch.header("x-amz-request-id"));
    }
}

TEST_F(NotificationApiTest, BrowserPostUploadsArePostEvents) {
    ASSERT_EQ(send("PUT", "/photos?notification", kConfig).status, 200);
    auto now = std::chrono::system_clock::now();
    std::string amz_date = aws::format_amz_date(now);
    aws::CredentialScope scope{amz_date.substr(0, 8), "us-east-1", "s3"};
    std::string credential = std::string(kAccessKey) + "/" + scope.to_string();
    std::string policy_json =
        R"({"expiration":")" + aws::format_iso8601_millis(now + std::chrono::hours(1)) +
        R"(","conditions":[{"bucket":"photos"},["starts-with","$key","uploads/"],)"
        R"({"x-amz-algorithm":"AWS4-HMAC-SHA256"},{"x-amz-credential":")" +
        credential + R"("},{"x-amz-date":")" + amz_date + R"("}]})";
    std::string policy = crypto::base64_encode(policy_json);
    std::string signature = aws::post_policy_signature(kSecret, scope, policy);
    const std::string boundary = "----pfboundary";
    std::string form;
    auto field = [&](const std::string& name, const std::string& value) {
        form += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name +
                "\"\r\n\r\n" + value + "\r\n";
    };
    field("key", "uploads/${filename}");
    field("policy", policy);
    field("x-amz-algorithm", "AWS4-HMAC-SHA256");
    field("x-amz-credential", credential);
    field("x-amz-date", amz_date);
    field("x-amz-signature", signature);
    form += "--" + boundary +
            "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"dog.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\njpegbytes\r\n--" +
            boundary + "--\r\n";
    auto posted = send("POST", "/photos", form,
                       {{"content-type", "multipart/form-data; boundary=" + boundary}},
                       /*sign=*/false);
    ASSERT_EQ(posted.status, 204) << posted.body;
    auto rows = outbox();
    ASSERT_EQ(rows.size(), 1u);
    json r = record(rows[0]);
    EXPECT_EQ(r["eventName"], "ObjectCreated:Post");
    EXPECT_EQ(r["s3"]["object"]["key"], "uploads/dog.jpg");
    EXPECT_EQ(r["userIdentity"]["principalId"], std::string("AWS:") + kAccessKey);
    EXPECT_EQ(r["responseElements"]["x-amz-request-id"], posted.header("x-amz-request-id"));
}

TEST_F(NotificationApiTest, TraceIdsAreGeneratedWhenMissingOrUnusable) {
    ASSERT_EQ(send("PUT", "/photos?notification", kConfig).status, 200);
    const std::regex generated("Root=1-[0-9a-f]{8}-[0-9a-f]{24}");
    for (const auto& header : std::vector<std::vector<std::pair<std::string, std::string>>>{
             {},
             {{"x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793 Sampled=1"}},
             {{"x-amzn-trace-id", "Root=1-" + std::string(300, 'a')}},
             {{"x-amzn-trace-id", "Self=1-5759e988-bd862e3fe1be46a994272793"}}}) {
        clear_outbox();
        auto put = send("PUT", "/photos/uploads/t.jpg", "x", header);
        ASSERT_EQ(put.status, 200);
        auto rows = outbox();
        ASSERT_EQ(rows.size(), 1u);
        EXPECT_TRUE(std::regex_match(rows[0].trace_id, generated)) << rows[0].trace_id;
        // Its unique part starts with the request id, so a log search for either finds both.
        std::string request_id = put.header("x-amz-request-id");
        std::string lowered;
        for (char c : request_id)
            lowered += ascii_lower(c);
        EXPECT_EQ(rows[0].trace_id.substr(16, lowered.size()), lowered);
    }
}

TEST(ChangeCause, ClientIpWithoutPort) {
    EXPECT_EQ(client_ip("127.0.0.1:53122"), "127.0.0.1");
    EXPECT_EQ(client_ip("[::1]:8080"), "::1");
    EXPECT_EQ(client_ip("[2001:db8::7]:443"), "2001:db8::7");
    EXPECT_EQ(client_ip("2001:db8::7"), "2001:db8::7");
    EXPECT_EQ(client_ip("unknown"), "unknown");
}

TEST(ChangeCause, TraceHeaderValidation) {
    EXPECT_TRUE(valid_trace_header("Root=1-5759e988-bd862e3fe1be46a994272793"));
    EXPECT_TRUE(
        valid_trace_header("Parent=53995c3f42cd8ad8;Root=1-5759e988-bd862e3fe1be46a994272793"));
    EXPECT_TRUE(valid_trace_header("Root=" + std::string(kMaxTraceIdBytes - 5, 'a')));
    EXPECT_FALSE(valid_trace_header("Root=" + std::string(kMaxTraceIdBytes - 4, 'a')));
    EXPECT_FALSE(valid_trace_header(""));
    EXPECT_FALSE(valid_trace_header("Root=1-a b"));
    EXPECT_FALSE(valid_trace_header("Root=1-a\"b"));
    EXPECT_FALSE(valid_trace_header("Root=1-\x01"));
    EXPECT_FALSE(valid_trace_header("NoRoot=1"));
}

TEST(ChangeCause, NewTraceIdShape) {
    auto t = std::chrono::system_clock::time_point(std::chrono::seconds(0x5759e988));
    std::string from_request = new_trace_id("0A1B2C3D00000001", t);
    EXPECT_TRUE(from_request.starts_with("Root=1-5759e988-0a1b2c3d00000001")) << from_request;
    EXPECT_TRUE(std::regex_match(from_request, std::regex("Root=1-5759e988-[0-9a-f]{24}")));
    std::string id = new_trace_id("", t);
    EXPECT_TRUE(std::regex_match(id, std::regex("Root=1-5759e988-[0-9a-f]{24}"))) << id;
    EXPECT_NE(new_trace_id("", t), new_trace_id("", t)) << "random when there is no request id";
}

}  // namespace
}  // namespace pf::s3api
