// SnsService driven with real SigV4-signed requests (aws::sign_request, service "sns", the body's
// SHA-256) through in-memory Request / RequestBody / Response, responses checked with pugixml.
#include "aws/sigv4.h"
#include "aws/uri_encoding.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "crypto/random.h"
#include "notify/sns_service.h"
#include "notify/sns_xml.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <pugixml.hpp>

namespace pf::notify {
namespace {

namespace fs = std::filesystem;
using Params = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kAccessKey = "AKIDSNSTEST";
constexpr const char* kSecret = "sns-secret-key";
constexpr const char* kHost = "sns.test:9000";
constexpr const char* kPrefixArn = "arn:aws:sns:us-east-1:000000000000:";

class StringBody : public http::RequestBody {
public:
    explicit StringBody(std::string data) : data_(std::move(data)) {}
    Result<std::size_t> read(std::span<char> out) override {
        std::size_t n = std::min(out.size(), data_.size() - pos_);
        std::memcpy(out.data(), data_.data() + pos_, n);
        pos_ += n;
        return n;
    }
    std::uint64_t bytes_read() const override { return pos_; }
    bool finished() const override { return pos_ == data_.size(); }

private:
    std::string data_;
    std::size_t pos_ = 0;
};

class FakeResponse : public http::Response {
public:
    Result<void> start(int status, std::vector<std::pair<std::string, std::string>> headers,
                       std::optional<std::uint64_t> content_length) override {
        status_ = status;
        headers_ = std::move(headers);
        content_length_ = content_length;
        started_ = true;
        return {};
    }
    Result<void> write(std::span<const char> bytes) override {
        body_.append(bytes.data(), bytes.size());
        return {};
    }
    Result<void> finish() override {
        finished_ = true;
        return {};
    }
    bool started() const override { return started_; }
    void close_after() override { close_after_ = true; }

    int status_ = 0;
    std::vector<std::pair<std::string, std::string>> headers_;
    std::optional<std::uint64_t> content_length_;
    std::string body_;
    bool started_ = false;
    bool finished_ = false;
    bool close_after_ = false;
};

struct FakeSink : PublishSink {
    Result<void> on_subscribe_pending(const Subscription& subscription,
                                      const ConfirmationRequest& confirmation) override {
        pending.emplace_back(subscription, confirmation);
        return {};
    }
    void on_confirmed(const Subscription& subscription) override {
        confirmed.push_back(subscription);
    }
    void on_unsubscribed(const Subscription& subscription, bool topic_deleted) override {
        unsubscribed.emplace_back(subscription, topic_deleted);
    }
    Result<void> publish(const Topic& topic, const PublishedMessage& message) override {
        if (fail_publish) {
            return make_error(ErrorCode::Unavailable, "queue down");
        }
        published.emplace_back(topic, message);
        return {};
    }
    std::vector<std::pair<Subscription, ConfirmationRequest>> pending;
    std::vector<Subscription> confirmed;
    std::vector<std::pair<Subscription, bool>> unsubscribed;
    std::vector<std::pair<Topic, PublishedMessage>> published;
    bool fail_publish = false;
};

struct Reply {
    int status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::shared_ptr<pugi::xml_document> doc = std::make_shared<pugi::xml_document>();

    std::string text(const std::string& xpath) const {
        return doc->select_node(xpath.c_str()).node().text().get();
    }
    bool has(const std::string& xpath) const { return bool(doc->select_node(xpath.c_str())); }
    std::size_t count(const std::string& xpath) const {
        return doc->select_nodes(xpath.c_str()).size();
    }
    std::string code() const { return text("/ErrorResponse/Error/Code"); }
    std::string message() const { return text("/ErrorResponse/Error/Message"); }
    std::map<std::string, std::string> map(const std::string& xpath) const {
        std::map<std::string, std::string> out;
        for (auto entry : doc->select_nodes((xpath + "/entry").c_str())) {
            out[entry.node().child("key").text().get()] = entry.node().child("value").text().get();
        }
        return out;
    }
};

std::string form_body(const Params& params) {
    std::string body;
    for (const auto& [name, value] : params) {
        if (!body.empty()) {
            body.push_back('&');
        }
        body += aws::form_encode(name) + "=" + aws::form_encode(value);
    }
    return body;
}

class SnsServiceTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("pf-sns-service-" + crypto::random_hex(8));
        auto opened = SqliteNotifyStore::open(dir_ / "notify.sqlite");
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(*opened);
        now_ = std::chrono::system_clock::now();
        make_service({});
    }
    void TearDown() override {
        service_.reset();
        store_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    void make_service(std::function<void(SnsService::Options&)> tweak) {
        SnsService::Options options;
        options.secret_for = [](std::string_view key) -> std::optional<std::string> {
            if (key == kAccessKey) {
                return std::string(kSecret);
            }
            return std::nullopt;
        };
        options.public_base_url = [] { return std::string("http://sns.test:9000"); };
        options.now = [this] { return now_; };
        if (tweak) {
            tweak(options);
        }
        service_ = std::make_unique<SnsService>(std::move(options), *store_, sink_);
    }

    struct Signing {
        std::string method = "POST";
        std::string secret = kSecret;
        std::string access_key = kAccessKey;
        std::string service = "sns";
        std::chrono::system_clock::time_point time{};
        std::string query;  // raw query string for GET
    };

    http::Request signed_request(const std::string& body, const Signing& s) {
        aws::SignRequest sr;
        sr.method = s.method;
        sr.path = "/";
        sr.query = aws::parse_query(s.query).value_or(aws::QueryParams{});
        sr.headers = {{"host", kHost}};
        if (s.method == "POST") {
            sr.headers.emplace_back("content-type",
                                    "application/x-www-form-urlencoded; charset=utf-8");
        }
        sr.payload_hash = crypto::sha256_hex(body);
        sr.region = "us-east-1";
        sr.service = s.service;
        sr.now = s.time == std::chrono::system_clock::time_point{} ? now_ : s.time;
        auto added = aws::sign_request(sr, {s.access_key, s.secret, ""});
        http::Request r;
        r.method = s.method;
        r.target = s.query.empty() ? "/" : "/?" + s.query;
        r.headers = sr.headers;
        r.headers.insert(r.headers.end(), added.begin(), added.end());
        r.content_length = body.size();
        return r;
    }

    Reply send(const http::Request& request, const std::string& body) {
        StringBody source(body);
        FakeResponse response;
        service_->handle(request, source, response);
        Reply reply;
        reply.status = response.status_;
        reply.body = response.body_;
        reply.headers = response.headers_;
        EXPECT_TRUE(response.finished_);
        EXPECT_EQ(response.content_length_.value_or(0), response.body_.size());
        auto parsed = reply.doc->load_string(reply.body.c_str());
        EXPECT_TRUE(parsed) << reply.body;
        return reply;
    }

    Reply call(const std::string& action, Params params = {}) {
        params.insert(params.begin(), {"Version", "2010-03-31"});
        params.insert(params.begin(), {"Action", action});
        std::string body = form_body(params);
        return send(signed_request(body, {}), body);
    }

    static void expect_ok(const Reply& r, const std::string& action) {
        EXPECT_EQ(r.status, 200) << r.body;
        EXPECT_TRUE(r.has("/" + action + "Response/ResponseMetadata/RequestId")) << r.body;
        EXPECT_EQ(std::string(r.doc->document_element().attribute("xmlns").value()),
                  "http://sns.amazonaws.com/doc/2010-03-31/");
    }
    static void expect_error(const Reply& r, int status, const std::string& code,
                             const std::string& message_part = {}) {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_EQ(r.code(), code) << r.body;
        EXPECT_FALSE(r.text("/ErrorResponse/RequestId").empty()) << r.body;
        EXPECT_EQ(r.text("/ErrorResponse/Error/Type"), status >= 500 ? "Receiver" : "Sender");
        if (!message_part.empty()) {
            EXPECT_NE(r.message().find(message_part), std::string::npos) << r.message();
        }
    }

    std::string create_topic(const std::string& name, Params extra = {}) {
        extra.insert(extra.begin(), {"Name", name});
        auto r = call("CreateTopic", extra);
        expect_ok(r, "CreateTopic");
        return r.text("/CreateTopicResponse/CreateTopicResult/TopicArn");
    }
    // Subscribes and confirms with the token the sink received; returns the subscription ARN.
    std::string subscribe_confirmed(const std::string& topic, const std::string& endpoint,
                                    Params extra = {}) {
        extra.insert(extra.begin(),
                     {{"TopicArn", topic}, {"Protocol", "https"}, {"Endpoint", endpoint}});
        auto r = call("Subscribe", extra);
        expect_ok(r, "Subscribe");
        EXPECT_FALSE(sink_.pending.empty());
        auto c = call("ConfirmSubscription",
                      {{"TopicArn", topic}, {"Token", sink_.pending.back().second.token}});
        expect_ok(c, "ConfirmSubscription");
        return c.text("/ConfirmSubscriptionResponse/ConfirmSubscriptionResult/SubscriptionArn");
    }

    fs::path dir_;
    std::unique_ptr<SqliteNotifyStore> store_;
    FakeSink sink_;
    std::unique_ptr<SnsService> service_;
    std::chrono::system_clock::time_point now_;
};

// --- Envelope, errors, auth ---

TEST_F(SnsServiceTest, SuccessEnvelopeHasSnsShape) {
    auto r = call("CreateTopic", {{"Name", "photos"}});
    expect_ok(r, "CreateTopic");
    EXPECT_EQ(r.text("/CreateTopicResponse/CreateTopicResult/TopicArn"),
              std::string(kPrefixArn) + "photos");
    auto content_type = std::find_if(r.headers.begin(), r.headers.end(),
                                     [](const auto& h) { return h.first == "Content-Type"; });
    ASSERT_NE(content_type, r.headers.end());
    EXPECT_EQ(content_type->second, "text/xml");
    EXPECT_NE(std::find_if(r.headers.begin(), r.headers.end(),
                           [&](const auto& h) {
                               return h.first == "x-amzn-RequestId" &&
                                      h.second ==
                                          r.text("/CreateTopicResponse/ResponseMetadata/RequestId");
                           }),
              r.headers.end());
}

TEST_F(SnsServiceTest, ActionWithoutOutputOmitsResultElement) {
    std::string arn = create_topic("photos");
    auto r = call("DeleteTopic", {{"TopicArn", arn}});
    expect_ok(r, "DeleteTopic");
    EXPECT_FALSE(r.has("/DeleteTopicResponse/DeleteTopicResult"));
}

TEST_F(SnsServiceTest, UnknownAndMissingAction) {
    expect_error(call("FlyToTheMoon"), 400, "InvalidAction", "FlyToTheMoon");
    std::string body = form_body({{"Version", "2010-03-31"}});
    expect_error(send(signed_request(body, {}), body), 400, "InvalidAction", "Action");
    std::string future =
        form_body({{"Action", "CreateTopic"}, {"Version", "2099-01-01"}, {"Name", "x"}});
    expect_error(send(signed_request(future, {}), future), 400, "InvalidAction", "2099-01-01");
}

TEST_F(SnsServiceTest, UnsignedRequestIsRefused) {
    std::string body = form_body({{"Action", "ListTopics"}});
    http::Request r;
    r.method = "POST";
    r.target = "/";
    r.headers = {{"host", kHost}};
    expect_error(send(r, body), 403, "MissingAuthenticationToken");
}

TEST_F(SnsServiceTest, OneByteChangeToTheBodyIsRefused) {
    std::string body = form_body({{"Action", "CreateTopic"}, {"Name", "photos"}});
    http::Request request = signed_request(body, {});
    std::string tampered = body;
    tampered.back() = 't';  // photos -> photot
    auto r = send(request, tampered);
    expect_error(r, 403, "SignatureDoesNotMatch", "signature we calculated");
    auto topics = store_->list_topics(0, 10);
    ASSERT_TRUE(topics);
    EXPECT_TRUE(topics->items.empty());
    // The untouched body passes.
    expect_ok(send(request, body), "CreateTopic");
}

TEST_F(SnsServiceTest, WrongSecretUnknownKeyWrongServiceAndSkewAreRefused) {
    std::string body = form_body({{"Action", "ListTopics"}});
    Signing wrong_secret;
    wrong_secret.secret = "not-the-secret";
    expect_error(send(signed_request(body, wrong_secret), body), 403, "SignatureDoesNotMatch");

    Signing unknown;
    unknown.access_key = "AKIDUNKNOWN";
    expect_error(send(signed_request(body, unknown), body), 403, "InvalidClientTokenId");

    Signing s3;
    s3.service = "s3";
    expect_error(send(signed_request(body, s3), body), 403, "SignatureDoesNotMatch", "'sns'");

    Signing old;
    old.time = now_ - std::chrono::minutes(16);
    expect_error(send(signed_request(body, old), body), 403, "SignatureDoesNotMatch",
                 "Signature expired");
    Signing future;
    future.time = now_ + std::chrono::minutes(16);
    expect_error(send(signed_request(body, future), body), 403, "SignatureDoesNotMatch",
                 "not yet current");
    Signing slightly_off;
    slightly_off.time = now_ - std::chrono::minutes(14);
    expect_ok(send(signed_request(body, slightly_off), body), "ListTopics");
}

TEST_F(SnsServiceTest, MalformedAuthorizationIsIncompleteSignature) {
    std::string body = form_body({{"Action", "ListTopics"}});
    http::Request r = signed_request(body, {});
    for (auto& [name, value] : r.headers) {
        if (name == "authorization") {
            value = "AWS4-HMAC-SHA256 Credential=garbage";
        }
    }
    expect_error(send(r, body), 400, "IncompleteSignature");
}

TEST_F(SnsServiceTest, SignedGetWithQueryParameters) {
    create_topic("photos");
    std::string query = "Action=ListTopics&Version=2010-03-31";
    Signing get;
    get.method = "GET";
    get.query = query;
    auto r = send(signed_request("", get), "");
    expect_ok(r, "ListTopics");
    EXPECT_EQ(r.count("/ListTopicsResponse/ListTopicsResult/Topics/member"), 1u);
}

TEST_F(SnsServiceTest, OversizedBodyIs413) {
    make_service([](SnsService::Options& o) { o.max_body_bytes = 1000; });
    std::string body = form_body({{"Action", "Publish"}, {"Message", std::string(2000, 'x')}});
    http::Request r = signed_request(body, {});
    auto reply = send(r, body);
    expect_error(reply, 413, "RequestEntityTooLarge");
    // Also without a Content-Length (chunked): the limit applies while reading.
    r.content_length.reset();
    r.chunked = true;
    expect_error(send(r, body), 413, "RequestEntityTooLarge");
}

TEST_F(SnsServiceTest, DefaultBodyLimitFitsAFullMessageButNotMore) {
    std::string arn = create_topic("photos");
    // 256 KiB of a character that percent-encodes to 3 bytes still fits.
    auto ok = call("Publish", {{"TopicArn", arn}, {"Message", std::string(262144, '%')}});
    expect_ok(ok, "Publish");
    std::string body = form_body({{"Action", "Publish"}, {"Message", std::string(900000, 'x')}});
    expect_error(send(signed_request(body, {}), body), 413, "RequestEntityTooLarge");
}

// --- Topics ---

TEST_F(SnsServiceTest, CreateTopicIsIdempotentWithSameAttributes) {
    Params attrs = {{"Attributes.entry.1.key", "DisplayName"},
                    {"Attributes.entry.1.value", "Photos"}};
    std::string first = create_topic("photos", attrs);
    std::string second = create_topic("photos", attrs);
    std::string third = create_topic("photos");  // no attributes: same topic
    EXPECT_EQ(first, second);
    EXPECT_EQ(first, third);
    auto topics = store_->list_topics(0, 10);
    ASSERT_TRUE(topics);
    EXPECT_EQ(topics->items.size(), 1u);
}

TEST_F(SnsServiceTest, CreateTopicWithConflictingAttributesIsInvalidParameter) {
    create_topic("photos", {{"Attributes.entry.1.key", "DisplayName"},
                            {"Attributes.entry.1.value", "Photos"}});
    auto r = call("CreateTopic", {{"Name", "photos"},
                                  {"Attributes.entry.1.key", "DisplayName"},
                                  {"Attributes.entry.1.value", "Other"}});
    expect_error(r, 400, "InvalidParameter", "different attributes");
    auto tags =
        call("CreateTopic",
             {{"Name", "photos"}, {"Tags.member.1.Key", "team"}, {"Tags.member.1.Value", "x"}});
    expect_error(tags, 400, "InvalidParameter", "different tags");
}

TEST_F(SnsServiceTest, CreateTopicNameRules) {
    expect_error(call("CreateTopic", {}), 400, "InvalidParameter", "Name");
    expect_error(call("CreateTopic", {{"Name", ""}}), 400, "InvalidParameter", "Topic Name");
    expect_error(call("CreateTopic", {{"Name", std::string(257, 'a')}}), 400, "InvalidParameter",
                 "Topic Name");
    expect_error(call("CreateTopic", {{"Name", "has space"}}), 400, "InvalidParameter");
    expect_error(call("CreateTopic", {{"Name", "dots.are.bad"}}), 400, "InvalidParameter");
    expect_error(call("CreateTopic", {{"Name", "orders.fifo"}}), 400, "InvalidParameter",
                 "FIFO topics");
    expect_error(call("CreateTopic", {{"Name", "x"},
                                      {"Attributes.entry.1.key", "FifoTopic"},
                                      {"Attributes.entry.1.value", "true"}}),
                 400, "InvalidParameter", "FIFO topics");
    create_topic(std::string(256, 'a'));
    create_topic("Valid_name-1");
}

TEST_F(SnsServiceTest, CreateTopicAttributeValidation) {
    auto attr = [&](const std::string& key, const std::string& value) {
        return call(
            "CreateTopic",
            {{"Name", "t"}, {"Attributes.entry.1.key", key}, {"Attributes.entry.1.value", value}});
    };
    expect_error(attr("KmsMasterKeyId", "k"), 400, "InvalidParameter", "KmsMasterKeyId");
    expect_error(attr("SignatureVersion", "3"), 400, "InvalidParameter", "SignatureVersion");
    expect_error(attr("DisplayName", std::string(101, 'd')), 400, "InvalidParameter");
    expect_error(attr("Policy", "not json"), 400, "InvalidParameter", "Policy");
    expect_error(
        attr("DeliveryPolicy", "{\"http\":{\"defaultHealthyRetryPolicy\":{\"numRetries\":500}}}"),
        400, "InvalidParameter", "DeliveryPolicy");
    expect_ok(attr("SignatureVersion", "2"), "CreateTopic");
}

TEST_F(SnsServiceTest, CreateTopicAcceptsTheFourAttributesAndTags) {
    std::string policy =
        R"({"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":5,"maxDelayTarget":10,"numRetries":4}}})";
    std::string arn =
        create_topic("photos", {{"Attributes.entry.1.key", "DisplayName"},
                                {"Attributes.entry.1.value", "My Photos"},
                                {"Attributes.entry.2.key", "DeliveryPolicy"},
                                {"Attributes.entry.2.value", policy},
                                {"Attributes.entry.3.key", "SignatureVersion"},
                                {"Attributes.entry.3.value", "2"},
                                {"Attributes.entry.4.key", "Policy"},
                                {"Attributes.entry.4.value", "{\"Version\":\"2012-10-17\"}"},
                                {"Tags.member.1.Key", "team"},
                                {"Tags.member.1.Value", "imaging"}});
    auto r = call("GetTopicAttributes", {{"TopicArn", arn}});
    expect_ok(r, "GetTopicAttributes");
    auto attrs = r.map("/GetTopicAttributesResponse/GetTopicAttributesResult/Attributes");
    EXPECT_EQ(attrs["DisplayName"], "My Photos");
    EXPECT_EQ(attrs["DeliveryPolicy"], policy);
    EXPECT_EQ(attrs["SignatureVersion"], "2");
    EXPECT_EQ(attrs["Policy"], "{\"Version\":\"2012-10-17\"}");
    EXPECT_NE(attrs["EffectiveDeliveryPolicy"].find("\"numRetries\":4"), std::string::npos)
        << attrs["EffectiveDeliveryPolicy"];
    auto tags = call("ListTagsForResource", {{"ResourceArn", arn}});
    expect_ok(tags, "ListTagsForResource");
    EXPECT_EQ(tags.text("/ListTagsForResourceResponse/ListTagsForResourceResult/Tags/member/Key"),
              "team");
}

TEST_F(SnsServiceTest, GetTopicAttributesDefaultsAndCounts) {
    std::string arn = create_topic("photos");
    subscribe_confirmed(arn, "https://a.example.com/hook");
    std::string to_delete = subscribe_confirmed(arn, "https://b.example.com/hook");
    expect_ok(call("Subscribe",
                   {{"TopicArn", arn}, {"Protocol", "email"}, {"Endpoint", "someone@example.com"}}),
              "Subscribe");
    expect_ok(call("Unsubscribe", {{"SubscriptionArn", to_delete}}), "Unsubscribe");

    auto r = call("GetTopicAttributes", {{"TopicArn", arn}});
    expect_ok(r, "GetTopicAttributes");
    auto attrs = r.map("/GetTopicAttributesResponse/GetTopicAttributesResult/Attributes");
    EXPECT_EQ(attrs["TopicArn"], arn);
    EXPECT_EQ(attrs["Owner"], "000000000000");
    EXPECT_EQ(attrs["DisplayName"], "");
    EXPECT_EQ(attrs["SubscriptionsConfirmed"], "1");
    EXPECT_EQ(attrs["SubscriptionsPending"], "1");
    EXPECT_EQ(attrs["SubscriptionsDeleted"], "1");
    EXPECT_EQ(attrs["SignatureVersion"], "1");
    EXPECT_EQ(attrs.count("DeliveryPolicy"), 0u);
    EXPECT_NE(attrs["Policy"].find("__default_policy_ID"), std::string::npos);
    EXPECT_NE(attrs["Policy"].find(arn), std::string::npos);
    EXPECT_NE(attrs["EffectiveDeliveryPolicy"].find("defaultHealthyRetryPolicy"),
              std::string::npos);
}

TEST_F(SnsServiceTest, TopicArnErrors) {
    expect_error(call("GetTopicAttributes", {}), 400, "InvalidParameter", "TopicArn");
    expect_error(call("GetTopicAttributes", {{"TopicArn", "photos"}}), 400, "InvalidParameter",
                 "at least 6 elements");
    expect_error(
        call("GetTopicAttributes", {{"TopicArn", "arn:aws:sns:eu-west-1:000000000000:photos"}}),
        400, "InvalidParameter");
    expect_error(call("GetTopicAttributes", {{"TopicArn", std::string(kPrefixArn) + "nope"}}), 404,
                 "NotFound", "Topic does not exist");
}

TEST_F(SnsServiceTest, SetTopicAttributes) {
    std::string arn = create_topic("photos");
    expect_ok(
        call("SetTopicAttributes",
             {{"TopicArn", arn}, {"AttributeName", "DisplayName"}, {"AttributeValue", "Renamed"}}),
        "SetTopicAttributes");
    expect_ok(
        call(
            "SetTopicAttributes",
            {{"TopicArn", arn},
             {"AttributeName", "DeliveryPolicy"},
             {"AttributeValue",
              R"({"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":2,"numRetries":1}}})"}}),
        "SetTopicAttributes");
    auto attrs = call("GetTopicAttributes", {{"TopicArn", arn}})
                     .map("/GetTopicAttributesResponse/GetTopicAttributesResult/Attributes");
    EXPECT_EQ(attrs["DisplayName"], "Renamed");
    EXPECT_EQ(attrs.count("DeliveryPolicy"), 1u);
    // Empty value clears a policy.
    expect_ok(
        call("SetTopicAttributes",
             {{"TopicArn", arn}, {"AttributeName", "DeliveryPolicy"}, {"AttributeValue", ""}}),
        "SetTopicAttributes");
    attrs = call("GetTopicAttributes", {{"TopicArn", arn}})
                .map("/GetTopicAttributesResponse/GetTopicAttributesResult/Attributes");
    EXPECT_EQ(attrs.count("DeliveryPolicy"), 0u);

    expect_error(
        call("SetTopicAttributes",
             {{"TopicArn", arn}, {"AttributeName", "FifoTopic"}, {"AttributeValue", "true"}}),
        400, "InvalidParameter", "AttributeName");
    expect_error(call("SetTopicAttributes", {{"TopicArn", arn}, {"AttributeValue", "x"}}), 400,
                 "InvalidParameter", "AttributeName");
    expect_error(
        call("SetTopicAttributes",
             {{"TopicArn", arn}, {"AttributeName", "SignatureVersion"}, {"AttributeValue", "5"}}),
        400, "InvalidParameter");
    expect_error(call("SetTopicAttributes", {{"TopicArn", std::string(kPrefixArn) + "gone"},
                                             {"AttributeName", "DisplayName"},
                                             {"AttributeValue", "x"}}),
                 404, "NotFound");
}

TEST_F(SnsServiceTest, DeleteTopicRemovesSubscriptionsAndIsIdempotent) {
    std::string arn = create_topic("photos");
    std::string sub = subscribe_confirmed(arn, "https://a.example.com/");
    expect_ok(call("DeleteTopic", {{"TopicArn", arn}}), "DeleteTopic");
    ASSERT_EQ(sink_.unsubscribed.size(), 1u);
    EXPECT_EQ(sink_.unsubscribed[0].first.arn, sub);
    EXPECT_TRUE(sink_.unsubscribed[0].second);
    expect_error(call("GetTopicAttributes", {{"TopicArn", arn}}), 404, "NotFound");
    expect_error(call("GetSubscriptionAttributes", {{"SubscriptionArn", sub}}), 404, "NotFound");
    expect_ok(call("DeleteTopic", {{"TopicArn", arn}}), "DeleteTopic");
    expect_error(call("DeleteTopic", {}), 400, "InvalidParameter");
}

TEST_F(SnsServiceTest, ListTopicsPaginatesByHundred) {
    for (int i = 0; i < 205; ++i) {
        ASSERT_TRUE(store_->create_topic(Topic{0,
                                               "t" + std::to_string(i),
                                               std::string(kPrefixArn) + "t" + std::to_string(i),
                                               {},
                                               {},
                                               0,
                                               0}));
    }
    std::vector<std::string> arns;
    std::string token;
    int pages = 0;
    do {
        Params p;
        if (!token.empty()) {
            p.emplace_back("NextToken", token);
        }
        auto r = call("ListTopics", p);
        expect_ok(r, "ListTopics");
        for (auto n :
             r.doc->select_nodes("/ListTopicsResponse/ListTopicsResult/Topics/member/TopicArn")) {
            arns.emplace_back(n.node().text().get());
        }
        token = r.text("/ListTopicsResponse/ListTopicsResult/NextToken");
        EXPECT_EQ(r.has("/ListTopicsResponse/ListTopicsResult/NextToken"), !token.empty());
        ++pages;
    } while (!token.empty() && pages < 10);
    EXPECT_EQ(pages, 3);
    ASSERT_EQ(arns.size(), 205u);
    EXPECT_EQ(arns.front(), std::string(kPrefixArn) + "t0");
    EXPECT_EQ(arns.back(), std::string(kPrefixArn) + "t204");
    expect_error(call("ListTopics", {{"NextToken", "garbage!"}}), 400, "InvalidParameter",
                 "NextToken");
}

// --- Subscriptions ---

TEST_F(SnsServiceTest, SubscribeHttpsIsPendingUntilConfirmed) {
    std::string arn = create_topic("photos");
    auto r = call(
        "Subscribe",
        {{"TopicArn", arn}, {"Protocol", "https"}, {"Endpoint", "https://hooks.example.com/sns"}});
    expect_ok(r, "Subscribe");
    EXPECT_EQ(r.text("/SubscribeResponse/SubscribeResult/SubscriptionArn"), "pending confirmation");
    ASSERT_EQ(sink_.pending.size(), 1u);
    const auto& [sub, confirmation] = sink_.pending[0];
    EXPECT_TRUE(sub.pending);
    EXPECT_EQ(sub.endpoint, "https://hooks.example.com/sns");
    EXPECT_TRUE(sub.arn.starts_with(arn + ":"));
    EXPECT_EQ(sub.arn.size(), arn.size() + 1 + 36);  // uuid
    EXPECT_GE(confirmation.token.size(), 64u);
    EXPECT_EQ(confirmation.subscribe_url,
              "http://sns.test:9000/_/sns/confirm?Action=ConfirmSubscription&TopicArn=" +
                  aws::uri_encode(arn, false) + "&Token=" + confirmation.token);
    EXPECT_EQ(confirmation.message_id.size(), 36u);

    expect_error(call("ConfirmSubscription", {{"TopicArn", arn}, {"Token", "wrong"}}), 400,
                 "InvalidParameter", "Token");
    expect_error(call("ConfirmSubscription", {{"TopicArn", arn}}), 400, "InvalidParameter",
                 "Token");
    expect_error(call("ConfirmSubscription", {{"TopicArn", std::string(kPrefixArn) + "gone"},
                                              {"Token", confirmation.token}}),
                 404, "NotFound");

    auto c = call("ConfirmSubscription", {{"TopicArn", arn}, {"Token", confirmation.token}});
    expect_ok(c, "ConfirmSubscription");
    EXPECT_EQ(c.text("/ConfirmSubscriptionResponse/ConfirmSubscriptionResult/SubscriptionArn"),
              sub.arn);
    ASSERT_EQ(sink_.confirmed.size(), 1u);
    // Confirming again returns the same ARN and notifies nobody.
    auto again = call("ConfirmSubscription", {{"TopicArn", arn}, {"Token", confirmation.token}});
    expect_ok(again, "ConfirmSubscription");
    EXPECT_EQ(sink_.confirmed.size(), 1u);

    auto attrs =
        call("GetSubscriptionAttributes", {{"SubscriptionArn", sub.arn}})
            .map("/GetSubscriptionAttributesResponse/GetSubscriptionAttributesResult/Attributes");
    EXPECT_EQ(attrs["PendingConfirmation"], "false");
    EXPECT_EQ(attrs["ConfirmationWasAuthenticated"], "true");
    // Subscribing the same endpoint again returns the confirmed ARN.
    auto resub = call(
        "Subscribe",
        {{"TopicArn", arn}, {"Protocol", "https"}, {"Endpoint", "https://hooks.example.com/sns"}});
    EXPECT_EQ(resub.text("/SubscribeResponse/SubscribeResult/SubscriptionArn"), sub.arn);
    EXPECT_EQ(sink_.pending.size(), 1u);
}

TEST_F(SnsServiceTest, ConfirmationTokenExpiresAfterThreeDays) {
    std::string arn = create_topic("photos");
    expect_ok(
        call("Subscribe",
             {{"TopicArn", arn}, {"Protocol", "http"}, {"Endpoint", "http://hooks.example.com/"}}),
        "Subscribe");
    std::string token = sink_.pending.back().second.token;
    now_ += std::chrono::hours(73);
    expect_error(call("ConfirmSubscription", {{"TopicArn", arn}, {"Token", token}}), 400,
                 "InvalidParameter", "Token");
}

TEST_F(SnsServiceTest, ResubscribingPendingEndpointSendsANewConfirmation) {
    std::string arn = create_topic("photos");
    Params p = {{"TopicArn", arn}, {"Protocol", "email"}, {"Endpoint", "a@example.com"}};
    expect_ok(call("Subscribe", p), "Subscribe");
    expect_ok(call("Subscribe", p), "Subscribe");
    ASSERT_EQ(sink_.pending.size(), 2u);
    EXPECT_EQ(sink_.pending[0].first.arn, sink_.pending[1].first.arn);
    EXPECT_NE(sink_.pending[0].second.token, sink_.pending[1].second.token);
    // The first token still works.
    expect_ok(
        call("ConfirmSubscription", {{"TopicArn", arn}, {"Token", sink_.pending[0].second.token}}),
        "ConfirmSubscription");
}

TEST_F(SnsServiceTest, ReturnSubscriptionArnAndSseNeedsNoConfirmation) {
    std::string arn = create_topic("photos");
    auto r = call("Subscribe", {{"TopicArn", arn},
                                {"Protocol", "email-json"},
                                {"Endpoint", "ops@example.com"},
                                {"ReturnSubscriptionArn", "true"}});
    expect_ok(r, "Subscribe");
    std::string sub_arn = r.text("/SubscribeResponse/SubscribeResult/SubscriptionArn");
    EXPECT_TRUE(sub_arn.starts_with(arn + ":"));
    auto attrs =
        call("GetSubscriptionAttributes", {{"SubscriptionArn", sub_arn}})
            .map("/GetSubscriptionAttributesResponse/GetSubscriptionAttributesResult/Attributes");
    EXPECT_EQ(attrs["PendingConfirmation"], "true");

    auto sse = call("Subscribe", {{"TopicArn", arn}, {"Protocol", "sse"}, {"Endpoint", "console"}});
    expect_ok(sse, "Subscribe");
    std::string sse_arn = sse.text("/SubscribeResponse/SubscribeResult/SubscriptionArn");
    EXPECT_TRUE(sse_arn.starts_with(arn + ":"));
    ASSERT_EQ(sink_.confirmed.size(), 1u);
    EXPECT_EQ(sink_.confirmed[0].protocol, "sse");
    EXPECT_EQ(sink_.pending.size(), 1u);  // only the email-json one
    expect_error(call("Subscribe", {{"TopicArn", arn},
                                    {"Protocol", "sse"},
                                    {"Endpoint", "x"},
                                    {"ReturnSubscriptionArn", "maybe"}}),
                 400, "InvalidParameter", "ReturnSubscriptionArn");
}

TEST_F(SnsServiceTest, SubscribeProtocolAndEndpointValidation) {
    std::string arn = create_topic("photos");
    auto sub = [&](const std::string& protocol, const std::string& endpoint) {
        return call("Subscribe",
                    {{"TopicArn", arn}, {"Protocol", protocol}, {"Endpoint", endpoint}});
    };
    expect_error(sub("sqs", "arn:aws:sqs:us-east-1:000000000000:q"), 400, "InvalidParameter",
                 "not supported");
    expect_error(sub("lambda", "arn:aws:lambda:us-east-1:000000000000:function:f"), 400,
                 "InvalidParameter", "not supported");
    expect_error(sub("carrier-pigeon", "x"), 400, "InvalidParameter", "protocol");
    expect_error(sub("http", "https://example.com/"), 400, "InvalidParameter", "Endpoint");
    expect_error(sub("https", "http://example.com/"), 400, "InvalidParameter", "Endpoint");
    expect_error(sub("https", "https:///nohost"), 400, "InvalidParameter", "Endpoint");
    expect_error(sub("https", "https://example.com:99999/"), 400, "InvalidParameter", "port");
    expect_error(sub("https", "https://exa mple.com/"), 400, "InvalidParameter");
    expect_error(sub("email", "not-an-address"), 400, "InvalidParameter", "e-mail");
    expect_error(sub("email", "a@nodot"), 400, "InvalidParameter");
    expect_error(sub("email-json", "a b@example.com"), 400, "InvalidParameter");
    expect_error(sub("sse", ""), 400, "InvalidParameter");
    expect_error(call("Subscribe", {{"TopicArn", arn}, {"Endpoint", "https://x.com"}}), 400,
                 "InvalidParameter", "Protocol");
    expect_error(call("Subscribe", {{"Protocol", "https"}, {"Endpoint", "https://x.com"}}), 400,
                 "InvalidParameter", "TopicArn");
    expect_error(call("Subscribe", {{"TopicArn", std::string(kPrefixArn) + "gone"},
                                    {"Protocol", "https"},
                                    {"Endpoint", "https://x.com"}}),
                 404, "NotFound");
    expect_ok(sub("https", "https://[::1]:8443/hook?x=1"), "Subscribe");
    expect_ok(sub("HTTP", "http://example.com"), "Subscribe");
}

TEST_F(SnsServiceTest, EndpointPolicyHookCanRefuse) {
    make_service([](SnsService::Options& o) {
        o.endpoint_policy = [](std::string_view,
                               std::string_view endpoint) -> std::optional<std::string> {
            if (endpoint.find("127.0.0.1") != std::string_view::npos) {
                return std::string("loopback destinations are not allowed");
            }
            return std::nullopt;
        };
    });
    std::string arn = create_topic("photos");
    expect_error(
        call("Subscribe",
             {{"TopicArn", arn}, {"Protocol", "http"}, {"Endpoint", "http://127.0.0.1/hook"}}),
        400, "InvalidParameter", "loopback");
}

TEST_F(SnsServiceTest, SubscribeWithAttributesAndConflictingResubscribe) {
    std::string arn = create_topic("photos");
    Params p = {{"TopicArn", arn},
                {"Protocol", "https"},
                {"Endpoint", "https://a.example.com/"},
                {"ReturnSubscriptionArn", "true"},
                {"Attributes.entry.1.key", "RawMessageDelivery"},
                {"Attributes.entry.1.value", "TRUE"},
                {"Attributes.entry.2.key", "FilterPolicy"},
                {"Attributes.entry.2.value", R"({"kind":["thumb"]})"}};
    auto r = call("Subscribe", p);
    expect_ok(r, "Subscribe");
    std::string sub = r.text("/SubscribeResponse/SubscribeResult/SubscriptionArn");
    auto attrs =
        call("GetSubscriptionAttributes", {{"SubscriptionArn", sub}})
            .map("/GetSubscriptionAttributesResponse/GetSubscriptionAttributesResult/Attributes");
    EXPECT_EQ(attrs["RawMessageDelivery"], "true");
    EXPECT_EQ(attrs["FilterPolicy"], R"({"kind":["thumb"]})");
    EXPECT_EQ(attrs["FilterPolicyScope"], "MessageAttributes");
    // Same attributes: same subscription.
    EXPECT_EQ(call("Subscribe", p).text("/SubscribeResponse/SubscribeResult/SubscriptionArn"), sub);
    p[5].second = "false";
    expect_error(call("Subscribe", p), 400, "InvalidParameter", "different attributes");

    Params bad = {{"TopicArn", arn},
                  {"Protocol", "https"},
                  {"Endpoint", "https://b.example.com/"},
                  {"Attributes.entry.1.key", "Bogus"},
                  {"Attributes.entry.1.value", "1"}};
    expect_error(call("Subscribe", bad), 400, "InvalidParameter", "Bogus");
    bad[3].second = "FilterPolicy";
    bad[4].second = "{not json";
    expect_error(call("Subscribe", bad), 400, "InvalidParameter", "FilterPolicy");
    bad[3].second = "RawMessageDelivery";
    bad[4].second = "true";
    bad[1].second = "email";
    bad[2].second = "x@example.com";
    expect_error(call("Subscribe", bad), 400, "InvalidParameter", "raw message delivery");
}

TEST_F(SnsServiceTest, GetSubscriptionAttributesLists) {
    std::string arn = create_topic("photos");
    std::string sub = subscribe_confirmed(arn, "https://a.example.com/");
    auto r = call("GetSubscriptionAttributes", {{"SubscriptionArn", sub}});
    expect_ok(r, "GetSubscriptionAttributes");
    auto attrs =
        r.map("/GetSubscriptionAttributesResponse/GetSubscriptionAttributesResult/Attributes");
    EXPECT_EQ(attrs["SubscriptionArn"], sub);
    EXPECT_EQ(attrs["TopicArn"], arn);
    EXPECT_EQ(attrs["Owner"], "000000000000");
    EXPECT_EQ(attrs["Protocol"], "https");
    EXPECT_EQ(attrs["Endpoint"], "https://a.example.com/");
    EXPECT_EQ(attrs["PendingConfirmation"], "false");
    EXPECT_EQ(attrs["ConfirmationWasAuthenticated"], "true");
    EXPECT_EQ(attrs["RawMessageDelivery"], "false");
    EXPECT_NE(attrs["EffectiveDeliveryPolicy"].find("healthyRetryPolicy"), std::string::npos);
    EXPECT_EQ(attrs.count("FilterPolicy"), 0u);
    EXPECT_EQ(attrs.count("RedrivePolicy"), 0u);
    expect_error(call("GetSubscriptionAttributes", {}), 400, "InvalidParameter");
    expect_error(call("GetSubscriptionAttributes", {{"SubscriptionArn", "pending confirmation"}}),
                 400, "InvalidParameter");
    expect_error(call("GetSubscriptionAttributes", {{"SubscriptionArn", arn + ":nope"}}), 404,
                 "NotFound");
}

TEST_F(SnsServiceTest, SetSubscriptionAttributesEachNameAndValidation) {
    std::string arn = create_topic("photos");
    std::string sub = subscribe_confirmed(arn, "https://a.example.com/");
    auto set = [&](const std::string& name, const std::string& value) {
        return call("SetSubscriptionAttributes",
                    {{"SubscriptionArn", sub}, {"AttributeName", name}, {"AttributeValue", value}});
    };
    auto get = [&] {
        return call("GetSubscriptionAttributes", {{"SubscriptionArn", sub}})
            .map("/GetSubscriptionAttributesResponse/GetSubscriptionAttributesResult/Attributes");
    };
    expect_ok(set("RawMessageDelivery", "true"), "SetSubscriptionAttributes");
    expect_ok(set("FilterPolicy", R"({"size":[{"numeric":[">",100]}]})"),
              "SetSubscriptionAttributes");
    expect_ok(set("FilterPolicyScope", "MessageBody"), "SetSubscriptionAttributes");
    expect_ok(
        set("DeliveryPolicy",
            R"({"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":5,"numRetries":2}})"),
        "SetSubscriptionAttributes");
    expect_ok(
        set("RedrivePolicy", R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq"})"),
        "SetSubscriptionAttributes");
    auto attrs = get();
    EXPECT_EQ(attrs["RawMessageDelivery"], "true");
    EXPECT_EQ(attrs["FilterPolicyScope"], "MessageBody");
    EXPECT_EQ(attrs["FilterPolicy"], R"({"size":[{"numeric":[">",100]}]})");
    EXPECT_NE(attrs["DeliveryPolicy"].find("\"numRetries\":2"), std::string::npos);
    EXPECT_NE(attrs["EffectiveDeliveryPolicy"].find("\"numRetries\":2"), std::string::npos)
        << attrs["EffectiveDeliveryPolicy"];
    EXPECT_NE(attrs["RedrivePolicy"].find("dlq"), std::string::npos);

    expect_error(set("RawMessageDelivery", "maybe"), 400, "InvalidParameter", "RawMessageDelivery");
    expect_error(set("FilterPolicy", "[1,2]"), 400, "InvalidParameter", "FilterPolicy");
    expect_error(set("FilterPolicyScope", "Everything"), 400, "InvalidParameter");
    expect_error(set("DeliveryPolicy", R"({"healthyRetryPolicy":{"numRetries":1000}})"), 400,
                 "InvalidParameter", "DeliveryPolicy");
    expect_error(set("RedrivePolicy", R"({"deadLetterTargetArn":"nope"})"), 400, "InvalidParameter",
                 "RedrivePolicy");
    expect_error(set("Endpoint", "https://evil.example.com/"), 400, "InvalidParameter",
                 "AttributeName");
    expect_error(call("SetSubscriptionAttributes", {{"SubscriptionArn", sub}}), 400,
                 "InvalidParameter", "AttributeName");
    // A MessageAttributes-scope policy that nests is refused when the scope changes back.
    expect_ok(set("FilterPolicy", R"({"a":{"b":["c"]}})"), "SetSubscriptionAttributes");
    expect_error(set("FilterPolicyScope", "MessageAttributes"), 400, "InvalidParameter");
    // Clearing.
    expect_ok(set("FilterPolicy", ""), "SetSubscriptionAttributes");
    expect_ok(set("RedrivePolicy", ""), "SetSubscriptionAttributes");
    attrs = get();
    EXPECT_EQ(attrs.count("FilterPolicy"), 0u);
    EXPECT_EQ(attrs.count("RedrivePolicy"), 0u);
}

TEST_F(SnsServiceTest, ValidatorSeamIsUsed) {
    make_service([](SnsService::Options& o) {
        o.validators.filter_policy = [](std::string_view,
                                        std::string_view) -> std::optional<std::string> {
            return std::string("Invalid parameter: FilterPolicy: refused by the seam");
        };
    });
    std::string arn = create_topic("photos");
    expect_error(call("Subscribe", {{"TopicArn", arn},
                                    {"Protocol", "sse"},
                                    {"Endpoint", "ui"},
                                    {"Attributes.entry.1.key", "FilterPolicy"},
                                    {"Attributes.entry.1.value", R"({"a":["b"]})"}}),
                 400, "InvalidParameter", "refused by the seam");
}

TEST_F(SnsServiceTest, UnsubscribeApi) {
    std::string arn = create_topic("photos");
    std::string sub = subscribe_confirmed(arn, "https://a.example.com/");
    expect_ok(call("Unsubscribe", {{"SubscriptionArn", sub}}), "Unsubscribe");
    ASSERT_EQ(sink_.unsubscribed.size(), 1u);
    EXPECT_FALSE(sink_.unsubscribed[0].second);
    expect_error(call("Unsubscribe", {{"SubscriptionArn", sub}}), 404, "NotFound");
    expect_error(call("Unsubscribe", {}), 400, "InvalidParameter");
}

TEST_F(SnsServiceTest, ConfirmAndUnsubscribeByLink) {
    std::string arn = create_topic("photos");
    expect_ok(
        call("Subscribe",
             {{"TopicArn", arn}, {"Protocol", "https"}, {"Endpoint", "https://a.example.com/"}}),
        "Subscribe");
    const auto confirmation = sink_.pending.back().second;
    SnsReply bad = service_->confirm_by_token(arn, "forged");
    EXPECT_EQ(bad.status, 400);
    SnsReply ok = service_->confirm_by_token(arn, confirmation.token);
    ASSERT_EQ(ok.status, 200) << ok.body;
    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_string(ok.body.c_str()));
    std::string sub_arn =
        doc.select_node("/ConfirmSubscriptionResponse/ConfirmSubscriptionResult/SubscriptionArn")
            .node()
            .text()
            .get();
    ASSERT_TRUE(sub_arn.starts_with(arn + ":"));
    auto attrs =
        call("GetSubscriptionAttributes", {{"SubscriptionArn", sub_arn}})
            .map("/GetSubscriptionAttributesResponse/GetSubscriptionAttributesResult/Attributes");
    EXPECT_EQ(attrs["ConfirmationWasAuthenticated"], "false");

    auto stored = store_->get_subscription(sub_arn);
    ASSERT_TRUE(stored && *stored);
    std::string url = service_->unsubscribe_url(**stored);
    EXPECT_TRUE(url.starts_with(
        "http://sns.test:9000/_/sns/unsubscribe?Action=Unsubscribe&SubscriptionArn="));
    EXPECT_NE(url.find("&Token=" + (*stored)->unsubscribe_token), std::string::npos);

    SnsReply forged = service_->unsubscribe_by_link(sub_arn, "wrong");
    EXPECT_EQ(forged.status, 403);
    SnsReply gone = service_->unsubscribe_by_link(sub_arn, (*stored)->unsubscribe_token);
    ASSERT_EQ(gone.status, 200) << gone.body;
    EXPECT_NE(gone.body.find("<UnsubscribeResponse"), std::string::npos);
    EXPECT_EQ(sink_.unsubscribed.size(), 1u);
    EXPECT_EQ(service_->unsubscribe_by_link(sub_arn, (*stored)->unsubscribe_token).status, 404);
}

TEST_F(SnsServiceTest, AuthenticateOnUnsubscribeBlocksTheLink) {
    std::string arn = create_topic("photos");
    expect_ok(
        call("Subscribe",
             {{"TopicArn", arn}, {"Protocol", "https"}, {"Endpoint", "https://a.example.com/"}}),
        "Subscribe");
    auto c = call("ConfirmSubscription", {{"TopicArn", arn},
                                          {"Token", sink_.pending.back().second.token},
                                          {"AuthenticateOnUnsubscribe", "true"}});
    expect_ok(c, "ConfirmSubscription");
    std::string sub =
        c.text("/ConfirmSubscriptionResponse/ConfirmSubscriptionResult/SubscriptionArn");
    auto stored = store_->get_subscription(sub);
    ASSERT_TRUE(stored && *stored);
    SnsReply refused = service_->unsubscribe_by_link(sub, (*stored)->unsubscribe_token);
    EXPECT_EQ(refused.status, 403);
    EXPECT_NE(refused.body.find("AuthorizationError"), std::string::npos);
    expect_ok(call("Unsubscribe", {{"SubscriptionArn", sub}}), "Unsubscribe");
    expect_error(call("ConfirmSubscription",
                      {{"TopicArn", arn}, {"Token", "t"}, {"AuthenticateOnUnsubscribe", "yes"}}),
                 400, "InvalidParameter", "AuthenticateOnUnsubscribe");
}

TEST_F(SnsServiceTest, ListSubscriptionsAndByTopicPaginate) {
    std::string a = create_topic("a");
    std::string b = create_topic("b");
    for (int i = 0; i < 120; ++i) {
        Subscription s;
        s.arn = a + ":" + new_uuid();
        s.topic_arn = a;
        s.protocol = "https";
        s.endpoint = "https://h" + std::to_string(i) + ".example.com/";
        s.owner = "000000000000";
        s.pending = false;
        ASSERT_TRUE(store_->subscribe(s, std::nullopt));
    }
    expect_ok(
        call("Subscribe", {{"TopicArn", b}, {"Protocol", "email"}, {"Endpoint", "x@example.com"}}),
        "Subscribe");

    auto page1 = call("ListSubscriptions");
    expect_ok(page1, "ListSubscriptions");
    EXPECT_EQ(
        page1.count("/ListSubscriptionsResponse/ListSubscriptionsResult/Subscriptions/member"),
        100u);
    std::string token = page1.text("/ListSubscriptionsResponse/ListSubscriptionsResult/NextToken");
    ASSERT_FALSE(token.empty());
    auto page2 = call("ListSubscriptions", {{"NextToken", token}});
    EXPECT_EQ(
        page2.count("/ListSubscriptionsResponse/ListSubscriptionsResult/Subscriptions/member"),
        21u);
    EXPECT_FALSE(page2.has("/ListSubscriptionsResponse/ListSubscriptionsResult/NextToken"));
    auto last =
        page2.doc
            ->select_node(
                "/ListSubscriptionsResponse/ListSubscriptionsResult/Subscriptions/member[21]")
            .node();
    EXPECT_EQ(std::string(last.child("SubscriptionArn").text().get()), "PendingConfirmation");
    EXPECT_EQ(std::string(last.child("Protocol").text().get()), "email");
    EXPECT_EQ(std::string(last.child("Endpoint").text().get()), "x@example.com");
    EXPECT_EQ(std::string(last.child("TopicArn").text().get()), b);
    EXPECT_EQ(std::string(last.child("Owner").text().get()), "000000000000");

    auto by_a = call("ListSubscriptionsByTopic", {{"TopicArn", a}});
    expect_ok(by_a, "ListSubscriptionsByTopic");
    EXPECT_EQ(by_a.count("/ListSubscriptionsByTopicResponse/ListSubscriptionsByTopicResult/"
                         "Subscriptions/member"),
              100u);
    std::string t2 =
        by_a.text("/ListSubscriptionsByTopicResponse/ListSubscriptionsByTopicResult/NextToken");
    auto by_a2 = call("ListSubscriptionsByTopic", {{"TopicArn", a}, {"NextToken", t2}});
    EXPECT_EQ(by_a2.count("/ListSubscriptionsByTopicResponse/ListSubscriptionsByTopicResult/"
                          "Subscriptions/member"),
              20u);
    EXPECT_FALSE(
        by_a2.has("/ListSubscriptionsByTopicResponse/ListSubscriptionsByTopicResult/NextToken"));
    auto by_b = call("ListSubscriptionsByTopic", {{"TopicArn", b}});
    EXPECT_EQ(by_b.count("/ListSubscriptionsByTopicResponse/ListSubscriptionsByTopicResult/"
                         "Subscriptions/member"),
              1u);
    // A token of one listing is not valid for the other.
    expect_error(call("ListSubscriptionsByTopic", {{"TopicArn", a}, {"NextToken", token}}), 400,
                 "InvalidParameter", "NextToken");
    expect_error(call("ListSubscriptionsByTopic", {{"TopicArn", std::string(kPrefixArn) + "zzz"}}),
                 404, "NotFound");
}

// --- Publish ---

TEST_F(SnsServiceTest, PublishHandsTheValidatedMessageToTheSink) {
    std::string arn = create_topic("photos");
    auto r = call("Publish",
                  {{"TopicArn", arn},
                   {"Message", "{\"kind\": [\"thumb\"]} + more"},
                   {"Subject", "Photo processed"},
                   {"MessageAttributes.entry.1.Name", "kind"},
                   {"MessageAttributes.entry.1.Value.DataType", "String"},
                   {"MessageAttributes.entry.1.Value.StringValue", "thumb"},
                   {"MessageAttributes.entry.2.Name", "size"},
                   {"MessageAttributes.entry.2.Value.DataType", "Number.int"},
                   {"MessageAttributes.entry.2.Value.StringValue", "-12.5e3"},
                   {"MessageAttributes.entry.3.Name", "raw"},
                   {"MessageAttributes.entry.3.Value.DataType", "Binary"},
                   {"MessageAttributes.entry.3.Value.BinaryValue",
                    crypto::base64_encode(std::string("\x00\x01\xff", 3))},
                   {"MessageAttributes.entry.4.Name", "tags"},
                   {"MessageAttributes.entry.4.Value.DataType", "String.Array"},
                   {"MessageAttributes.entry.4.Value.StringValue", R"(["a", 1, true, null])"}});
    expect_ok(r, "Publish");
    std::string id = r.text("/PublishResponse/PublishResult/MessageId");
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '4');  // uuid v4
    ASSERT_EQ(sink_.published.size(), 1u);
    const auto& [topic, m] = sink_.published[0];
    EXPECT_EQ(topic.arn, arn);
    EXPECT_EQ(m.message_id, id);
    EXPECT_EQ(m.topic_arn, arn);
    EXPECT_EQ(m.message, "{\"kind\": [\"thumb\"]} + more");  // '+' and spaces decoded right
    EXPECT_EQ(m.subject.value_or(""), "Photo processed");
    EXPECT_FALSE(m.json_structure);
    ASSERT_EQ(m.attributes.size(), 4u);
    EXPECT_EQ(m.attributes[0].name, "kind");
    EXPECT_EQ(m.attributes[1].data_type, "Number.int");
    EXPECT_EQ(m.attributes[2].binary_value, std::string("\x00\x01\xff", 3));
    EXPECT_TRUE(m.attributes[2].is_binary());
    EXPECT_EQ(m.attributes[3].string_value, R"(["a", 1, true, null])");
    ASSERT_EQ(m.timestamp.size(), 24u);
    EXPECT_EQ(m.timestamp.back(), 'Z');
}

TEST_F(SnsServiceTest, PublishTargets) {
    std::string arn = create_topic("photos");
    expect_ok(call("Publish", {{"TargetArn", arn}, {"Message", "hi"}}), "Publish");
    expect_error(call("Publish", {{"TopicArn", arn}, {"TargetArn", arn}, {"Message", "hi"}}), 400,
                 "InvalidParameter", "TopicArn or TargetArn");
    expect_error(call("Publish", {{"Message", "hi"}}), 400, "InvalidParameter",
                 "TopicArn or TargetArn Reason: no value for required parameter");
    expect_error(call("Publish", {{"PhoneNumber", "+15555550100"}, {"Message", "hi"}}), 400,
                 "InvalidParameter", "PhoneNumber");
    expect_error(
        call("Publish", {{"TopicArn", std::string(kPrefixArn) + "gone"}, {"Message", "hi"}}), 404,
        "NotFound", "Topic does not exist");
    expect_error(call("Publish", {{"TopicArn", arn}, {"Message", "hi"}, {"MessageGroupId", "g"}}),
                 400, "InvalidParameter", "MessageGroupId");
    expect_error(
        call("Publish", {{"TopicArn", arn}, {"Message", "hi"}, {"MessageDeduplicationId", "d"}}),
        400, "InvalidParameter", "MessageDeduplicationId");
}

TEST_F(SnsServiceTest, PublishMessageRules) {
    std::string arn = create_topic("photos");
    expect_error(call("Publish", {{"TopicArn", arn}}), 400, "InvalidParameter", "Message");
    expect_error(call("Publish", {{"TopicArn", arn}, {"Message", ""}}), 400, "InvalidParameter",
                 "Empty message");
    expect_ok(call("Publish", {{"TopicArn", arn}, {"Message", std::string(262144, 'm')}}),
              "Publish");
    expect_error(call("Publish", {{"TopicArn", arn}, {"Message", std::string(262145, 'm')}}), 400,
                 "InvalidParameter", "Message too long");
    // Attributes count against the limit.
    expect_error(call("Publish", {{"TopicArn", arn},
                                  {"Message", std::string(262140, 'm')},
                                  {"MessageAttributes.entry.1.Name", "k"},
                                  {"MessageAttributes.entry.1.Value.DataType", "String"},
                                  {"MessageAttributes.entry.1.Value.StringValue", "v"}}),
                 400, "InvalidParameter", "Message too long");
    // Multi-byte UTF-8 is counted in bytes.
    std::string euro;
    for (int i = 0; i < 87382; ++i) {
        euro += "\xE2\x82\xAC";
    }
    expect_error(call("Publish", {{"TopicArn", arn}, {"Message", euro}}), 400, "InvalidParameter",
                 "Message too long");
    // Not UTF-8 at all.
    expect_error(call("Publish", {{"TopicArn", arn}, {"Message", "bad \xff byte"}}), 400,
                 "InvalidParameter", "UTF-8");
}

TEST_F(SnsServiceTest, PublishSubjectRules) {
    std::string arn = create_topic("photos");
    auto with_subject = [&](const std::string& subject) {
        return call("Publish", {{"TopicArn", arn}, {"Message", "m"}, {"Subject", subject}});
    };
    expect_ok(with_subject(std::string(99, 's')), "Publish");
    expect_ok(with_subject("Photo: cat.jpg (done!)"), "Publish");
    expect_error(with_subject(""), 400, "InvalidParameter", "Subject");
    expect_error(with_subject(std::string(100, 's')), 400, "InvalidParameter", "Subject");
    expect_error(with_subject("two\nlines"), 400, "InvalidParameter", "Subject");
    expect_error(with_subject("carriage\rreturn"), 400, "InvalidParameter", "Subject");
    expect_error(with_subject("tab\there"), 400, "InvalidParameter", "Subject");
    expect_error(with_subject("caf\xC3\xA9"), 400, "InvalidParameter", "Subject");
    expect_error(with_subject(" leading space"), 400, "InvalidParameter", "Subject");
}

TEST_F(SnsServiceTest, PublishMessageStructureJson) {
    std::string arn = create_topic("photos");
    auto with = [&](const std::string& message, const std::string& structure = "json") {
        return call("Publish",
                    {{"TopicArn", arn}, {"Message", message}, {"MessageStructure", structure}});
    };
    expect_ok(with(R"({"default":"d","https":"h","email":"e"})"), "Publish");
    EXPECT_TRUE(sink_.published.back().second.json_structure);
    expect_error(with("not json"), 400, "InvalidParameter", "failed to parse");
    expect_error(with("[\"default\"]"), 400, "InvalidParameter", "failed to parse");
    expect_error(with(R"({"http":"h"})"), 400, "InvalidParameter", "No default entry");
    expect_error(with(R"({"default":1})"), 400, "InvalidParameter", "No default entry");
    expect_error(with(R"({"default":"d","http":{"x":1}})"), 400, "InvalidParameter", "http");
    expect_error(with(R"({"default":"d"})", "xml"), 400, "InvalidParameter", "MessageStructure");
}

TEST_F(SnsServiceTest, PublishMessageAttributeRules) {
    std::string arn = create_topic("photos");
    auto one = [&](const std::string& name, const std::string& type, const std::string& field,
                   const std::string& value) {
        Params p = {{"TopicArn", arn}, {"Message", "m"}, {"MessageAttributes.entry.1.Name", name}};
        if (!type.empty()) {
            p.emplace_back("MessageAttributes.entry.1.Value.DataType", type);
        }
        if (!field.empty()) {
            p.emplace_back("MessageAttributes.entry.1.Value." + field, value);
        }
        return call("Publish", p);
    };
    // Names.
    expect_error(one("AWS.reserved", "String", "StringValue", "v"), 400, "InvalidParameter",
                 "reserved");
    expect_error(one("amazon.x", "String", "StringValue", "v"), 400, "InvalidParameter",
                 "reserved");
    expect_error(one(".start", "String", "StringValue", "v"), 400, "InvalidParameter");
    expect_error(one("end.", "String", "StringValue", "v"), 400, "InvalidParameter");
    expect_error(one("a..b", "String", "StringValue", "v"), 400, "InvalidParameter");
    expect_error(one("sp ace", "String", "StringValue", "v"), 400, "InvalidParameter");
    expect_error(one(std::string(257, 'n'), "String", "StringValue", "v"), 400, "InvalidParameter");
    expect_ok(one("a.b-c_d", "String", "StringValue", "v"), "Publish");
    // Types.
    expect_error(one("k", "", "StringValue", "v"), 400, "InvalidParameter", "DataType");
    expect_error(one("k", "Integer", "StringValue", "1"), 400, "InvalidParameter", "type");
    expect_error(one("k", "String.", "StringValue", "1"), 400, "InvalidParameter");
    expect_ok(one("k", "String.custom_1", "StringValue", "x"), "Publish");
    expect_ok(one("k", "String.Array.custom", "StringValue", "[]"), "Publish");
    // Values.
    expect_error(one("k", "String", "StringValue", ""), 400, "InvalidParameter", "non-empty");
    expect_error(one("k", "String", "", ""), 400, "InvalidParameter", "non-empty");
    expect_error(one("k", "String", "BinaryValue", "AAAA"), 400, "InvalidParameter", "'String'");
    expect_error(one("k", "Binary", "StringValue", "x"), 400, "InvalidParameter", "'Binary'");
    expect_error(one("k", "Binary", "BinaryValue", "!!notbase64"), 400, "InvalidParameter",
                 "base64");
    expect_error(one("k", "Number", "StringValue", "twelve"), 400, "InvalidParameter", "number");
    expect_error(one("k", "Number", "StringValue", "1e200"), 400, "InvalidParameter", "number");
    expect_error(one("k", "Number", "StringValue", "1e-200"), 400, "InvalidParameter", "number");
    expect_error(one("k", "Number", "StringValue", std::string(39, '9')), 400, "InvalidParameter");
    expect_error(one("k", "Number", "StringValue", "1.2.3"), 400, "InvalidParameter");
    expect_ok(one("k", "Number", "StringValue", std::string(38, '9')), "Publish");
    expect_ok(one("k", "Number", "StringValue", "-0.00001"), "Publish");
    expect_ok(one("k", "Number", "StringValue", "0"), "Publish");
    expect_error(one("k", "String.Array", "StringValue", "not an array"), 400, "InvalidParameter",
                 "String.Array");
    expect_error(one("k", "String.Array", "StringValue", R"({"a":1})"), 400, "InvalidParameter");
    expect_error(one("k", "String.Array", "StringValue", R"([{"a":1}])"), 400, "InvalidParameter");
    // Count and duplicates.
    Params many = {{"TopicArn", arn}, {"Message", "m"}};
    for (int i = 1; i <= 11; ++i) {
        std::string base = "MessageAttributes.entry." + std::to_string(i) + ".";
        many.emplace_back(base + "Name", "a" + std::to_string(i));
        many.emplace_back(base + "Value.DataType", "String");
        many.emplace_back(base + "Value.StringValue", "v");
    }
    expect_error(call("Publish", many), 400, "InvalidParameter",
                 "[11] exceeds the allowed maximum [10]");
    many.resize(2 + 30);
    expect_ok(call("Publish", many), "Publish");
    expect_error(call("Publish", {{"TopicArn", arn},
                                  {"Message", "m"},
                                  {"MessageAttributes.entry.1.Name", "k"},
                                  {"MessageAttributes.entry.1.Value.DataType", "String"},
                                  {"MessageAttributes.entry.1.Value.StringValue", "v"},
                                  {"MessageAttributes.entry.2.Name", "k"},
                                  {"MessageAttributes.entry.2.Value.DataType", "String"},
                                  {"MessageAttributes.entry.2.Value.StringValue", "w"}}),
                 400, "InvalidParameter", "twice");
    expect_error(
        call("Publish",
             {{"TopicArn", arn}, {"Message", "m"}, {"MessageAttributes.entry.x.Name", "k"}}),
        400, "InvalidParameter");
}

TEST_F(SnsServiceTest, PublishSinkFailureIsInternalError) {
    std::string arn = create_topic("photos");
    sink_.fail_publish = true;
    auto r = call("Publish", {{"TopicArn", arn}, {"Message", "m"}});
    expect_error(r, 500, "InternalError");
    EXPECT_EQ(r.message().find("queue down"), std::string::npos);  // details stay in the log
}

// --- PublishBatch ---

Params batch_entry(int n, const std::string& id, const std::string& message) {
    std::string base = "PublishBatchRequestEntries.member." + std::to_string(n) + ".";
    return {{base + "Id", id}, {base + "Message", message}};
}

TEST_F(SnsServiceTest, PublishBatchReportsEachEntry) {
    std::string arn = create_topic("photos");
    Params p = {{"TopicArn", arn}};
    for (auto& e : batch_entry(1, "first", "one"))
        p.push_back(e);
    for (auto& e : batch_entry(2, "second", ""))
        p.push_back(e);  // empty message fails
    for (auto& e : batch_entry(3, "third", "three"))
        p.push_back(e);
    p.emplace_back("PublishBatchRequestEntries.member.3.Subject", "S");
    p.emplace_back("PublishBatchRequestEntries.member.3.MessageAttributes.entry.1.Name", "kind");
    p.emplace_back("PublishBatchRequestEntries.member.3.MessageAttributes.entry.1.Value.DataType",
                   "String");
    p.emplace_back(
        "PublishBatchRequestEntries.member.3.MessageAttributes.entry.1.Value.StringValue", "thumb");
    for (auto& e : batch_entry(4, "fourth", "four"))
        p.push_back(e);
    p.emplace_back("PublishBatchRequestEntries.member.4.Subject", "bad\nsubject");
    auto r = call("PublishBatch", p);
    expect_ok(r, "PublishBatch");
    const std::string base = "/PublishBatchResponse/PublishBatchResult/";
    ASSERT_EQ(r.count(base + "Successful/member"), 2u) << r.body;
    EXPECT_EQ(r.text(base + "Successful/member[1]/Id"), "first");
    EXPECT_EQ(r.text(base + "Successful/member[1]/MessageId").size(), 36u);
    EXPECT_EQ(r.text(base + "Successful/member[2]/Id"), "third");
    ASSERT_EQ(r.count(base + "Failed/member"), 2u);
    EXPECT_EQ(r.text(base + "Failed/member[1]/Id"), "second");
    EXPECT_EQ(r.text(base + "Failed/member[1]/Code"), "InvalidParameter");
    EXPECT_EQ(r.text(base + "Failed/member[1]/SenderFault"), "true");
    EXPECT_NE(r.text(base + "Failed/member[1]/Message").find("Empty message"), std::string::npos);
    EXPECT_EQ(r.text(base + "Failed/member[2]/Id"), "fourth");

    ASSERT_EQ(sink_.published.size(), 2u);
    EXPECT_EQ(sink_.published[1].second.subject.value_or(""), "S");
    ASSERT_EQ(sink_.published[1].second.attributes.size(), 1u);
    EXPECT_NE(sink_.published[0].second.message_id, sink_.published[1].second.message_id);
}

TEST_F(SnsServiceTest, PublishBatchRequestLevelErrors) {
    std::string arn = create_topic("photos");
    expect_error(call("PublishBatch", {{"TopicArn", arn}}), 400, "EmptyBatchRequest");
    Params many = {{"TopicArn", arn}};
    for (int i = 1; i <= 11; ++i) {
        for (auto& e : batch_entry(i, "id" + std::to_string(i), "m"))
            many.push_back(e);
    }
    expect_error(call("PublishBatch", many), 400, "TooManyEntriesInBatchRequest");
    Params dup = {{"TopicArn", arn}};
    for (auto& e : batch_entry(1, "same", "m"))
        dup.push_back(e);
    for (auto& e : batch_entry(2, "same", "m"))
        dup.push_back(e);
    expect_error(call("PublishBatch", dup), 400, "BatchEntryIdsNotDistinct");
    Params bad_id = {{"TopicArn", arn}};
    for (auto& e : batch_entry(1, "no spaces allowed", "m"))
        bad_id.push_back(e);
    expect_error(call("PublishBatch", bad_id), 400, "InvalidBatchEntryId");
    Params no_id = {{"TopicArn", arn}, {"PublishBatchRequestEntries.member.1.Message", "m"}};
    expect_error(call("PublishBatch", no_id), 400, "InvalidBatchEntryId");
    Params big = {{"TopicArn", arn}};
    for (int i = 1; i <= 3; ++i) {
        for (auto& e : batch_entry(i, "b" + std::to_string(i), std::string(100000, 'x')))
            big.push_back(e);
    }
    expect_error(call("PublishBatch", big), 400, "BatchRequestTooLong");
    Params missing_topic;
    for (auto& e : batch_entry(1, "a", "m"))
        missing_topic.push_back(e);
    expect_error(call("PublishBatch", missing_topic), 400, "InvalidParameter", "TopicArn");
    Params gone = {{"TopicArn", std::string(kPrefixArn) + "gone"}};
    for (auto& e : batch_entry(1, "a", "m"))
        gone.push_back(e);
    expect_error(call("PublishBatch", gone), 404, "NotFound");
    EXPECT_TRUE(sink_.published.empty());
}

TEST_F(SnsServiceTest, PublishBatchOfTenSucceeds) {
    std::string arn = create_topic("photos");
    Params p = {{"TopicArn", arn}};
    for (int i = 1; i <= 10; ++i) {
        for (auto& e : batch_entry(i, "id-" + std::to_string(i), "m" + std::to_string(i)))
            p.push_back(e);
    }
    auto r = call("PublishBatch", p);
    expect_ok(r, "PublishBatch");
    EXPECT_EQ(r.count("/PublishBatchResponse/PublishBatchResult/Successful/member"), 10u);
    EXPECT_TRUE(r.has("/PublishBatchResponse/PublishBatchResult/Failed"));
    EXPECT_EQ(r.count("/PublishBatchResponse/PublishBatchResult/Failed/member"), 0u);
    ASSERT_EQ(sink_.published.size(), 10u);
    EXPECT_EQ(sink_.published[9].second.message, "m10");  // N order, not text order
}

// --- Helpers ---

TEST(SnsXmlTest, EscapesAndReplacesWhatXmlCannotCarry) {
    EXPECT_EQ(SnsXml::escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
    EXPECT_EQ(SnsXml::escape(std::string("x\x01y", 3)), "x\xEF\xBF\xBDy");
    EXPECT_EQ(SnsXml::escape("bad\xff"), "bad\xEF\xBF\xBD");
    EXPECT_EQ(SnsXml::escape("caf\xC3\xA9"), "caf\xC3\xA9");
}

TEST(SnsErrorTest, TableHasSnsStatuses) {
    EXPECT_EQ(sns_error_info(SnsErrorCode::InvalidParameter).status, 400);
    EXPECT_EQ(sns_error_info(SnsErrorCode::NotFound).status, 404);
    EXPECT_EQ(sns_error_info(SnsErrorCode::AuthorizationError).status, 403);
    EXPECT_EQ(sns_error_info(SnsErrorCode::Throttled).status, 429);
    EXPECT_EQ(sns_error_info(SnsErrorCode::InternalError).status, 500);
    EXPECT_FALSE(sns_error_info(SnsErrorCode::InternalError).sender);
    std::string xml = error_response_xml(invalid_parameter("Subject"), "req-1");
    EXPECT_EQ(
        xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender"
             "</Type><Code>InvalidParameter</Code><Message>Invalid parameter: Subject</Message>"
             "</Error><RequestId>req-1</RequestId></ErrorResponse>");
}

TEST(NewUuidTest, IsVersion4) {
    std::string a = new_uuid();
    ASSERT_EQ(a.size(), 36u);
    EXPECT_EQ(a[8], '-');
    EXPECT_EQ(a[14], '4');
    EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos);
    EXPECT_NE(a, new_uuid());
}

// --- Dead letters (Photoflux extensions) ---

class SnsDeadLetterTest : public SnsServiceTest {
protected:
    void SetUp() override {
        SnsServiceTest::SetUp();
        make_service([this](SnsService::Options& o) { o.on_replayed = [this] { ++wakes_; }; });
        topic_ = create_topic("photos");
        sub_a_ = subscribe_confirmed(topic_, "https://a.example.com/hook");
        sub_b_ = subscribe_confirmed(topic_, "https://b.example.com/hook?token=x");
    }

    // Queues a delivery for `subscription` and moves it to the dead letters at `dead_at_ms`.
    void dead(const std::string& id, const std::string& subscription, std::int64_t dead_at_ms,
              const std::string& type = "Notification") {
        Delivery d;
        d.id = id;
        d.message_id = "mid-" + id;
        d.topic_arn = topic_;
        d.subscription_arn = subscription;
        d.protocol = "https";
        d.endpoint = subscription == sub_b_ ? "https://b.example.com/hook?token=x"
                                            : "https://a.example.com/hook";
        d.message_type = type;
        d.body = "{\"Message\":\"" + id + "\"}";
        d.created_ms = dead_at_ms - 5'000;
        ASSERT_TRUE(store_->enqueue({d}));
        ASSERT_TRUE(store_->reschedule(id, 2, dead_at_ms - 1'000, "HTTP 500"));
        ASSERT_TRUE(store_->dead_letter(id, 3, dead_at_ms, "policy exhausted: HTTP 500"));
    }

    std::vector<std::string> listed_ids(const Reply& r) {
        std::vector<std::string> out;
        for (auto m : r.doc->select_nodes(
                 "/ListDeadLettersResponse/ListDeadLettersResult/DeadLetters/member/DeliveryId")) {
            out.emplace_back(m.node().text().get());
        }
        return out;
    }

    // Ids queued and due now (replayed ones are due at once).
    std::vector<std::string> queued_ids() {
        auto due = store_->due(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   now_.time_since_epoch())
                                   .count(),
                               100, {});
        EXPECT_TRUE(due);
        std::vector<std::string> out;
        for (const auto& d : *due) {
            out.push_back(d.id);
            EXPECT_EQ(d.attempts, 0) << d.id;  // a replay starts the policy over
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    std::vector<std::string> dead_ids() {
        auto letters = store_->dead_letters(std::nullopt, 100);
        EXPECT_TRUE(letters);
        std::vector<std::string> out;
        for (const auto& l : *letters) {
            out.push_back(l.delivery.id);
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    std::string topic_, sub_a_, sub_b_;
    int wakes_ = 0;
};

TEST_F(SnsDeadLetterTest, ListShowsEveryFieldNewestFirst) {
    dead("d1", sub_a_, 1'700'000'000'000);
    dead("d2", sub_b_, 1'700'000'060'000);
    dead("c1", "", 1'700'000'030'000, "SubscriptionConfirmation");
    auto r = call("ListDeadLetters");
    expect_ok(r, "ListDeadLetters");
    EXPECT_EQ(listed_ids(r), (std::vector<std::string>{"d2", "c1", "d1"}));
    const std::string m = "/ListDeadLettersResponse/ListDeadLettersResult/DeadLetters/member[1]/";
    EXPECT_EQ(r.text(m + "MessageId"), "mid-d2");
    EXPECT_EQ(r.text(m + "MessageType"), "Notification");
    EXPECT_EQ(r.text(m + "TopicArn"), topic_);
    EXPECT_EQ(r.text(m + "SubscriptionArn"), sub_b_);
    EXPECT_EQ(r.text(m + "Protocol"), "https");
    EXPECT_EQ(r.text(m + "Endpoint"), "https://b.example.com/hook?token=x");
    EXPECT_EQ(r.text(m + "Attempts"), "3");
    EXPECT_EQ(r.text(m + "DeadAt"), "2023-11-14T22:14:20.000Z");
    EXPECT_EQ(r.text(m + "Reason"), "policy exhausted: HTTP 500");
    const std::string c = "/ListDeadLettersResponse/ListDeadLettersResult/DeadLetters/member[2]/";
    EXPECT_EQ(r.text(c + "MessageType"), "SubscriptionConfirmation");
    EXPECT_EQ(r.text(c + "SubscriptionArn"), "");
    EXPECT_EQ(r.text("/ListDeadLettersResponse/ListDeadLettersResult/IsTruncated"), "false");

    auto one = call("ListDeadLetters", {{"MaxItems", "1"}});
    expect_ok(one, "ListDeadLetters");
    EXPECT_EQ(listed_ids(one), (std::vector<std::string>{"d2"}));
    EXPECT_EQ(one.text("/ListDeadLettersResponse/ListDeadLettersResult/IsTruncated"), "true");
    auto three = call("ListDeadLetters", {{"MaxItems", "3"}});
    EXPECT_EQ(three.text("/ListDeadLettersResponse/ListDeadLettersResult/IsTruncated"), "false");

    auto of_a = call("ListDeadLetters", {{"SubscriptionArn", sub_a_}});
    expect_ok(of_a, "ListDeadLetters");
    EXPECT_EQ(listed_ids(of_a), (std::vector<std::string>{"d1"}));

    // Dead letters outlive their subscription and stay listable.
    expect_ok(call("Unsubscribe", {{"SubscriptionArn", sub_a_}}), "Unsubscribe");
    EXPECT_EQ(listed_ids(call("ListDeadLetters", {{"SubscriptionArn", sub_a_}})),
              (std::vector<std::string>{"d1"}));
    // Listing changes nothing.
    EXPECT_EQ(dead_ids(), (std::vector<std::string>{"c1", "d1", "d2"}));
    EXPECT_EQ(wakes_, 0);
}

TEST_F(SnsDeadLetterTest, ListParameterRulesAndAuth) {
    for (const char* bad : {"0", "1001", "ten", "-1", "5x"}) {
        expect_error(call("ListDeadLetters", {{"MaxItems", bad}}), 400, "InvalidParameter",
                     "MaxItems");
    }
    expect_ok(call("ListDeadLetters", {{"MaxItems", "1000"}}), "ListDeadLetters");
    expect_error(call("ListDeadLetters", {{"SubscriptionArn", topic_}}), 400, "InvalidParameter",
                 "SubscriptionArn");
    expect_error(call("ListDeadLetters", {{"SubscriptionArn", "arn:aws:s3:::bucket:x:y"}}), 400,
                 "InvalidParameter", "SubscriptionArn");
    // An unknown (well-formed) subscription has no dead letters: not an error.
    auto none = call("ListDeadLetters", {{"SubscriptionArn", topic_ + ":no-such-subscription"}});
    expect_ok(none, "ListDeadLetters");
    EXPECT_TRUE(listed_ids(none).empty());

    std::string body = form_body({{"Action", "ListDeadLetters"}});
    http::Request unsigned_request;
    unsigned_request.method = "POST";
    unsigned_request.target = "/";
    unsigned_request.headers = {{"host", kHost}};
    expect_error(send(unsigned_request, body), 403, "MissingAuthenticationToken");
    Signing wrong;
    wrong.secret = "not-the-secret";
    std::string replay = form_body({{"Action", "ReplayDeadLetters"}, {"All", "true"}});
    expect_error(send(signed_request(replay, wrong), replay), 403, "SignatureDoesNotMatch");
}

TEST_F(SnsDeadLetterTest, ReplayBySubscriptionMovesOnlyItsOwnAndWakes) {
    dead("a1", sub_a_, 1'000);
    dead("a2", sub_a_, 2'000);
    dead("b1", sub_b_, 3'000);
    auto r = call("ReplayDeadLetters", {{"SubscriptionArn", sub_a_}});
    expect_ok(r, "ReplayDeadLetters");
    EXPECT_EQ(r.text("/ReplayDeadLettersResponse/ReplayDeadLettersResult/Replayed"), "2");
    EXPECT_EQ(r.count("/ReplayDeadLettersResponse/ReplayDeadLettersResult/Skipped/member"), 0u);
    EXPECT_EQ(queued_ids(), (std::vector<std::string>{"a1", "a2"}));
    EXPECT_EQ(dead_ids(), (std::vector<std::string>{"b1"}));
    EXPECT_EQ(wakes_, 1);

    // Again: nothing left for it, and the dispatcher is not woken for nothing.
    auto again = call("ReplayDeadLetters", {{"SubscriptionArn", sub_a_}});
    EXPECT_EQ(again.text("/ReplayDeadLettersResponse/ReplayDeadLettersResult/Replayed"), "0");
    EXPECT_EQ(wakes_, 1);
}

TEST_F(SnsDeadLetterTest, ReplayByIdsReportsWhatItSkipped) {
    dead("a1", sub_a_, 1'000);
    dead("a2", sub_a_, 2'000);
    dead("b1", sub_b_, 3'000);
    auto r = call("ReplayDeadLetters", {{"DeliveryIds.member.1", "a2"},
                                        {"DeliveryIds.member.2", "nope"},
                                        {"DeliveryIds.member.3", "b1"},
                                        {"DeliveryIds.member.4", "a2"}});
    expect_ok(r, "ReplayDeadLetters");
    const std::string result = "/ReplayDeadLettersResponse/ReplayDeadLettersResult/";
    EXPECT_EQ(r.text(result + "Replayed"), "2");
    ASSERT_EQ(r.count(result + "Skipped/member"), 1u);
    EXPECT_EQ(r.text(result + "Skipped/member/DeliveryId"), "nope");
    EXPECT_NE(r.text(result + "Skipped/member/Reason").find("not a dead letter"),
              std::string::npos);
    EXPECT_EQ(queued_ids(), (std::vector<std::string>{"a2", "b1"}));
    EXPECT_EQ(dead_ids(), (std::vector<std::string>{"a1"}));
    EXPECT_EQ(wakes_, 1);

    // Ids and a subscription: only the ids of that subscription.
    dead("b2", sub_b_, 4'000);
    auto both = call("ReplayDeadLetters", {{"SubscriptionArn", sub_b_},
                                           {"DeliveryIds.member.1", "a1"},
                                           {"DeliveryIds.member.2", "b2"}});
    expect_ok(both, "ReplayDeadLetters");
    EXPECT_EQ(both.text(result + "Replayed"), "1");
    EXPECT_EQ(both.text(result + "Skipped/member/DeliveryId"), "a1");
    EXPECT_EQ(both.text(result + "Skipped/member/SubscriptionArn"), sub_a_);
    EXPECT_EQ(dead_ids(), (std::vector<std::string>{"a1"}));
    EXPECT_EQ(wakes_, 2);
}

TEST_F(SnsDeadLetterTest, ReplayAllKeepsTheDeadLettersOfDeletedSubscriptions) {
    dead("a1", sub_a_, 1'000);
    dead("b1", sub_b_, 2'000);
    dead("c1", "", 3'000, "SubscriptionConfirmation");
    expect_ok(call("Unsubscribe", {{"SubscriptionArn", sub_b_}}), "Unsubscribe");

    // Named directly, or by the subscription: refused too.
    auto by_id = call("ReplayDeadLetters", {{"DeliveryIds.member.1", "b1"}});
    const std::string result = "/ReplayDeadLettersResponse/ReplayDeadLettersResult/";
    EXPECT_EQ(by_id.text(result + "Replayed"), "0");
    EXPECT_NE(by_id.text(result + "Skipped/member/Reason").find("deleted"), std::string::npos);
    expect_error(call("ReplayDeadLetters", {{"SubscriptionArn", sub_b_}}), 404, "NotFound",
                 "deleted");
    EXPECT_EQ(wakes_, 0);

    auto all = call("ReplayDeadLetters", {{"All", "true"}});
    expect_ok(all, "ReplayDeadLetters");
    EXPECT_EQ(all.text(result + "Replayed"), "2");
    ASSERT_EQ(all.count(result + "Skipped/member"), 1u);
    EXPECT_EQ(all.text(result + "Skipped/member/SubscriptionArn"), sub_b_);
    EXPECT_EQ(queued_ids(), (std::vector<std::string>{"a1", "c1"}));
    EXPECT_EQ(dead_ids(), (std::vector<std::string>{"b1"}));
    EXPECT_EQ(wakes_, 1);
}

TEST_F(SnsDeadLetterTest, ReplayParameterRules) {
    dead("a1", sub_a_, 1'000);
    expect_error(call("ReplayDeadLetters"), 400, "InvalidParameter", "All=true");
    expect_error(call("ReplayDeadLetters", {{"All", "false"}}), 400, "InvalidParameter");
    expect_error(call("ReplayDeadLetters", {{"All", "yes"}}), 400, "InvalidParameter", "All");
    expect_error(call("ReplayDeadLetters", {{"All", "true"}, {"SubscriptionArn", sub_a_}}), 400,
                 "InvalidParameter", "cannot be combined");
    expect_error(call("ReplayDeadLetters", {{"All", "true"}, {"DeliveryIds.member.1", "a1"}}),
                 400, "InvalidParameter", "cannot be combined");
    expect_error(call("ReplayDeadLetters", {{"DeliveryIds.member.1", ""}}), 400,
                 "InvalidParameter", "DeliveryIds");
    expect_error(call("ReplayDeadLetters", {{"DeliveryIds.member.1001", "a1"}}), 400,
                 "InvalidParameter");
    expect_error(call("ReplayDeadLetters", {{"SubscriptionArn", "not-an-arn"}}), 400,
                 "InvalidParameter", "SubscriptionArn");
    EXPECT_EQ(dead_ids(), (std::vector<std::string>{"a1"}));
    EXPECT_EQ(wakes_, 0);
}

// --- Declared topics and subscriptions (config) ---

class SnsDeclaredTest : public SnsServiceTest {
protected:
    using Declared = SnsService::DeclaredTopic;
    using DeclaredSub = SnsService::DeclaredSubscription;

    static Declared photos_done() {
        Declared t;
        t.label = "topics[0]";
        t.name = "photos-done";
        t.attributes = {{"DisplayName", "Photos"}, {"SignatureVersion", "2"}};
        t.subscriptions = {
            DeclaredSub{"topics[0].subscriptions[0]", "HTTPS", "https://hooks.example.com/pf",
                        {{"RawMessageDelivery", "false"}, {"FilterPolicy", R"({"kind":["thumb"]})"}}},
            DeclaredSub{"topics[0].subscriptions[1]", "email", "ops@example.com", {}}};
        return t;
    }

    std::vector<Subscription> subscriptions_of(const std::string& topic) {
        auto page = store_->list_subscriptions(topic, 0, 100);
        EXPECT_TRUE(page);
        return page->items;
    }
};

TEST_F(SnsDeclaredTest, CreatesTopicsAndConfirmedSubscriptions) {
    auto applied = service_->apply_declared({photos_done()});
    ASSERT_TRUE(applied) << applied.error().message;
    EXPECT_EQ(applied->topics_created, 1u);
    EXPECT_EQ(applied->subscriptions_created, 2u);
    const std::string arn = std::string(kPrefixArn) + "photos-done";
    auto topic = store_->get_topic(arn);
    ASSERT_TRUE(topic && *topic);
    EXPECT_EQ((*topic)->attributes.at("DisplayName"), "Photos");
    EXPECT_EQ((*topic)->attributes.at("SignatureVersion"), "2");

    auto subs = subscriptions_of(arn);
    ASSERT_EQ(subs.size(), 2u);
    for (const auto& s : subs) {
        EXPECT_FALSE(s.pending) << s.endpoint;
        EXPECT_TRUE(s.confirmed_by_config) << s.endpoint;
        EXPECT_GT(s.confirmed_ms, 0);
        EXPECT_FALSE(s.unsubscribe_token.empty());
    }
    EXPECT_EQ(subs[0].protocol, "https");  // lowercased, as Subscribe does
    EXPECT_EQ(subs[0].attributes.at("FilterPolicy"), R"({"kind":["thumb"]})");
    EXPECT_EQ(subs[0].attributes.at("RawMessageDelivery"), "false");
    EXPECT_EQ(subs[1].protocol, "email");
    // Active at once: the fan-out is told, no confirmation is sent.
    EXPECT_EQ(sink_.confirmed.size(), 2u);
    EXPECT_TRUE(sink_.pending.empty());
    auto confirmed = store_->confirmed_subscriptions(arn);
    ASSERT_TRUE(confirmed);
    EXPECT_EQ(confirmed->size(), 2u);

    // The API sees them like any other.
    auto attrs = call("GetSubscriptionAttributes", {{"SubscriptionArn", subs[0].arn}});
    expect_ok(attrs, "GetSubscriptionAttributes");
    EXPECT_EQ(attrs.map("/GetSubscriptionAttributesResponse/GetSubscriptionAttributesResult/"
                        "Attributes")["PendingConfirmation"],
              "false");
}

TEST_F(SnsDeclaredTest, ApplyingAgainKeepsArnsAndAppliesChangedAttributes) {
    ASSERT_TRUE(service_->apply_declared({photos_done()}));
    const std::string arn = std::string(kPrefixArn) + "photos-done";
    auto before = subscriptions_of(arn);
    sink_.confirmed.clear();

    // Changed in the API meanwhile: an attribute the config declares, and one it does not.
    ASSERT_TRUE(store_->set_subscription_attribute(before[0].arn, "FilterPolicy",
                                                   std::string(R"({"kind":["preview"]})")));
    ASSERT_TRUE(store_->set_subscription_attribute(before[0].arn, "DeliveryPolicy",
                                                   std::string(R"({"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":5,"numRetries":2}})")));
    Declared changed = photos_done();
    changed.attributes["DisplayName"] = "Photos, processed";
    auto again = service_->apply_declared({changed});
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(again->topics_created, 0u);
    EXPECT_EQ(again->subscriptions_created, 0u);
    EXPECT_EQ(again->attributes_updated, 2u);  // DisplayName and FilterPolicy
    auto after = subscriptions_of(arn);
    ASSERT_EQ(after.size(), 2u);
    EXPECT_EQ(after[0].arn, before[0].arn);
    EXPECT_EQ(after[1].arn, before[1].arn);
    EXPECT_EQ(after[0].attributes.at("FilterPolicy"), R"({"kind":["thumb"]})");
    EXPECT_EQ(after[0].attributes.count("DeliveryPolicy"), 1u);  // not declared: kept
    auto topic = store_->get_topic(arn);
    ASSERT_TRUE(topic && *topic);
    EXPECT_EQ((*topic)->attributes.at("DisplayName"), "Photos, processed");
    EXPECT_TRUE(sink_.confirmed.empty());  // nothing newly active
}

TEST_F(SnsDeclaredTest, ConfirmsAPendingSubscriptionOfTheSameEndpoint) {
    std::string arn = create_topic("photos-done");
    expect_ok(call("Subscribe", {{"TopicArn", arn},
                                 {"Protocol", "https"},
                                 {"Endpoint", "https://hooks.example.com/pf"}}),
              "Subscribe");
    auto pending = subscriptions_of(arn);
    ASSERT_EQ(pending.size(), 1u);
    ASSERT_TRUE(pending[0].pending);
    const std::string token = sink_.pending.back().second.token;

    auto applied = service_->apply_declared({photos_done()});
    ASSERT_TRUE(applied) << applied.error().message;
    EXPECT_EQ(applied->subscriptions_confirmed, 1u);
    EXPECT_EQ(applied->subscriptions_created, 1u);  // the e-mail one
    auto subs = subscriptions_of(arn);
    ASSERT_EQ(subs.size(), 2u);
    EXPECT_EQ(subs[0].arn, pending[0].arn);
    EXPECT_FALSE(subs[0].pending);
    EXPECT_TRUE(subs[0].confirmed_by_config);
    // Its old confirmation token is gone with the pending state.
    expect_error(call("ConfirmSubscription", {{"TopicArn", arn}, {"Token", token}}), 400,
                 "InvalidParameter", "Token");
}

TEST_F(SnsDeclaredTest, EveryInvalidDeclarationIsReportedAndNothingIsCreated) {
    make_service([](SnsService::Options& o) {
        o.endpoint_policy = [](std::string_view protocol,
                               std::string_view) -> std::optional<std::string> {
            if (protocol == "email") {
                return "e-mail subscriptions need an SMTP server";
            }
            return std::nullopt;
        };
    });
    Declared good = photos_done();
    Declared bad;
    bad.label = "topics[1]";
    bad.name = "bad.fifo";
    bad.attributes = {{"DeliveryPolicy", R"({"http":{"defaultHealthyRetryPolicy":{"numRetries":-4}}})"},
                      {"SignatureVersion", "3"},
                      {"Colour", "blue"}};
    bad.subscriptions = {
        DeclaredSub{"topics[1].subscriptions[0]", "https", "https://x.example.com/",
                    {{"FilterPolicy", "{not json"}}},
        DeclaredSub{"topics[1].subscriptions[1]", "http", "ftp://x.example.com/", {}},
        DeclaredSub{"topics[1].subscriptions[2]", "sse", "console", {}},
        DeclaredSub{"topics[1].subscriptions[3]", "https", "https://y.example.com/",
                    {{"DeliveryPolicy", R"({"healthyRetryPolicy":{"minDelayTarget":"soon"}})"}}}};
    auto applied = service_->apply_declared({good, bad});
    ASSERT_FALSE(applied);
    EXPECT_EQ(applied.error().code, ErrorCode::InvalidArgument);
    const std::string& m = applied.error().message;
    for (const char* expected :
         {"topics[0].subscriptions[1].endpoint: e-mail subscriptions need an SMTP server",
          "topics[1].name:", "topics[1].attributes.DeliveryPolicy:",
          "topics[1].attributes.SignatureVersion:", "topics[1].attributes.Colour:",
          "topics[1].subscriptions[0]: ", "FilterPolicy", "topics[1].subscriptions[1]: ",
          "topics[1].subscriptions[2].protocol: sse", "topics[1].subscriptions[3]: "}) {
        EXPECT_NE(m.find(expected), std::string::npos) << expected << "\n" << m;
    }
    auto topics = store_->list_topics(0, 10);
    ASSERT_TRUE(topics);
    EXPECT_TRUE(topics->items.empty());
    EXPECT_TRUE(sink_.confirmed.empty());
}

}  // namespace
}  // namespace pf::notify

namespace pf::notify {
namespace {

// The SubscribeURL of an UnsubscribeConfirmation restores the subscription; nothing is stored for
// it, so the link itself must be unforgeable and must expire.
TEST_F(SnsServiceTest, ResubscribeLinkRestoresAndRefusesForgeriesAndExpiry) {
    make_service([](SnsService::Options& o) { o.link_secret = "link-secret-for-tests"; });
    std::string arn = create_topic("photos");
    Subscription removed;
    removed.topic_arn = arn;
    removed.protocol = "https";
    removed.endpoint = "https://a.example.com/hook?x=1&y=2";
    std::string token;
    std::string url = service_->resubscribe_url(removed, &token);
    ASSERT_TRUE(url.starts_with("http://sns.test:9000/_/sns/resubscribe?Action=Subscribe&TopicArn="));
    ASSERT_EQ(token.size(), 64u);
    auto expires_at = url.find("&Expires=");
    ASSERT_NE(expires_at, std::string::npos);
    std::string expires = url.substr(expires_at + 9, url.find('&', expires_at + 1) - expires_at - 9);

    EXPECT_EQ(service_->resubscribe_by_link(arn, "https", "https://evil.example.com/", expires, token)
                  .status,
              403)
        << "another endpoint with the same token";
    EXPECT_EQ(service_->resubscribe_by_link(arn, "https", removed.endpoint, expires, "00" + token.substr(2))
                  .status,
              403);
    SnsReply restored =
        service_->resubscribe_by_link(arn, "https", removed.endpoint, expires, token);
    ASSERT_EQ(restored.status, 200) << restored.body;
    auto subs = store_->confirmed_subscriptions(arn);
    ASSERT_TRUE(subs.has_value());
    ASSERT_EQ(subs->size(), 1u);
    EXPECT_EQ((*subs)[0].endpoint, removed.endpoint);
    EXPECT_FALSE((*subs)[0].pending);

    now_ += std::chrono::hours(73);  // past the 3-day confirmation TTL
    EXPECT_EQ(service_->resubscribe_by_link(arn, "https", removed.endpoint, expires, token).status,
              403);
}

// --- handle_trusted: the web console's already-authenticated caller ---

class SnsTrustedTest : public SnsServiceTest {
protected:
    Reply trusted(const std::string& action, Params params = {}) {
        params.insert(params.begin(), {"Version", "2010-03-31"});
        params.insert(params.begin(), {"Action", action});
        return trusted_raw(form_body(params));
    }
    Reply trusted_raw(const std::string& body) {
        auto answer = service_->handle_trusted(body);
        Reply reply;
        reply.status = answer.status;
        reply.body = answer.body;
        EXPECT_FALSE(answer.request_id.empty());
        auto parsed = reply.doc->load_string(reply.body.c_str());
        EXPECT_TRUE(parsed) << reply.body;
        return reply;
    }
};

TEST_F(SnsTrustedTest, RunsActionsWithoutASignature) {
    auto created = trusted("CreateTopic", {{"Name", "console-topic"}});
    expect_ok(created, "CreateTopic");
    std::string topic = created.text("/CreateTopicResponse/CreateTopicResult/TopicArn");
    EXPECT_EQ(topic, std::string(kPrefixArn) + "console-topic");

    auto subscribed = trusted("Subscribe", {{"TopicArn", topic},
                                            {"Protocol", "https"},
                                            {"Endpoint", "https://hooks.example.com/x"}});
    expect_ok(subscribed, "Subscribe");
    EXPECT_EQ(subscribed.text("/SubscribeResponse/SubscribeResult/SubscriptionArn"),
              "pending confirmation");
    ASSERT_EQ(sink_.pending.size(), 1u);

    auto listed = trusted("ListSubscriptionsByTopic", {{"TopicArn", topic}});
    expect_ok(listed, "ListSubscriptionsByTopic");
    const std::string member =
        "/ListSubscriptionsByTopicResponse/ListSubscriptionsByTopicResult/Subscriptions/member";
    ASSERT_EQ(listed.count(member), 1u) << listed.body;
    EXPECT_EQ(listed.text(member + "/Endpoint"), "https://hooks.example.com/x");
    EXPECT_EQ(listed.text(member + "/SubscriptionArn"), "PendingConfirmation");

    // What the console did is what a signed client sees.
    auto signed_list = call("ListSubscriptionsByTopic", {{"TopicArn", topic}});
    EXPECT_EQ(signed_list.count(member), 1u);
}

TEST_F(SnsTrustedTest, PublishReachesTheSink) {
    std::string topic = create_topic("console-publish");
    auto r = trusted("Publish", {{"TopicArn", topic}, {"Subject", "hi"}, {"Message", "hello"}});
    expect_ok(r, "Publish");
    ASSERT_EQ(sink_.published.size(), 1u);
    EXPECT_EQ(sink_.published[0].second.message, "hello");
    EXPECT_EQ(sink_.published[0].second.subject.value_or(""), "hi");
    EXPECT_EQ(r.text("/PublishResponse/PublishResult/MessageId"),
              sink_.published[0].second.message_id);
}

TEST_F(SnsTrustedTest, ValidationAndErrorsAreTheService) {
    // The same validation as a signed request: a bad endpoint, an unknown topic.
    std::string topic = create_topic("console-errors");
    expect_error(trusted("Subscribe", {{"TopicArn", topic},
                                       {"Protocol", "https"},
                                       {"Endpoint", "not a url"}}),
                 400, "InvalidParameter");
    expect_error(trusted("ListSubscriptionsByTopic",
                         {{"TopicArn", std::string(kPrefixArn) + "missing"}}),
                 404, "NotFound");
    expect_error(trusted("NoSuchAction"), 400, "InvalidAction", "NoSuchAction");
    expect_error(trusted_raw("Version=2010-03-31"), 400, "InvalidAction", "Action");
    expect_error(trusted_raw("Action=ListTopics&Version=2009-01-01"), 400, "InvalidAction");
    EXPECT_TRUE(sink_.pending.empty());
}

TEST_F(SnsTrustedTest, MalformedFormGivesSnsErrorXml) {
    auto bad_escape = trusted_raw("Action=ListTopics&Name=%G1");
    expect_error(bad_escape, 400, "InvalidParameter", "percent-encoding");
    EXPECT_TRUE(bad_escape.has("/ErrorResponse/Error/Message"));
    auto bad_utf8 = trusted_raw("Action=CreateTopic&Name=%FF%FE");
    expect_error(bad_utf8, 400, "InvalidParameter");
    EXPECT_TRUE(store_->list_topics(0, 10).value().items.empty());
}

TEST_F(SnsTrustedTest, BodyLimitIsTheApiLimit) {
    make_service([](SnsService::Options& o) { o.max_body_bytes = 64; });
    std::string body = "Action=CreateTopic&Version=2010-03-31&Name=" + std::string(64, 'a');
    expect_error(trusted_raw(body), 413, "RequestEntityTooLarge", "64 bytes");
    expect_ok(trusted("CreateTopic", {{"Name", "short"}}), "CreateTopic");
}

}  // namespace
}  // namespace pf::notify
