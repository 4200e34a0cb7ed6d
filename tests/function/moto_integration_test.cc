// S3Client, SnsClient and SqsClient over HttpClientTransport against a real implementation: moto
// (`moto_server`, installed by scripts/setup.sh), started on a free loopback port for each test
// suite. Nothing here is faked: requests go over TCP, are parsed by moto, and the answers are
// parsed by our clients. If moto_server is not on PATH the tests FAIL (they never skip), because
// then the clients would ship unchecked against a real server.
#include "function/http_client_transport.h"

#include "aws/response_xml.h"
#include "aws/s3_client.h"
#include "aws/sigv4.h"
#include "aws/sns_client.h"
#include "aws/sqs_client.h"
#include "aws/uri_encoding.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace pf::function {
namespace {

using namespace std::chrono_literals;

std::optional<std::string> find_on_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path != nullptr ? path : "");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    return std::nullopt;
}

// A port nobody listens on right now (moto binds it a moment later; the race is harmless here).
int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        if (fd >= 0) {
            ::close(fd);
        }
        return -1;
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool port_answers(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (fd >= 0) {
        ::close(fd);
    }
    return ok;
}

// moto_server as a child in its own process group, stopped (the group, by its id) on destruction.
class MotoServer {
public:
    static Result<std::unique_ptr<MotoServer>> start() {
        const auto program = find_on_path("moto_server");
        if (!program) {
            return make_error(ErrorCode::Unavailable,
                              "moto_server is not on PATH; the S3/SNS integration tests need it "
                              "(run scripts/setup.sh, or `pip install 'moto[server]'`)");
        }
        auto server = std::unique_ptr<MotoServer>(new MotoServer());
        server->port_ = free_port();
        if (server->port_ <= 0) {
            return make_error(ErrorCode::Unavailable, "no free loopback port");
        }
        server->log_ = std::filesystem::temp_directory_path() /
                       ("pf-moto-" + std::to_string(::getpid()) + ".log");
        const std::string port = std::to_string(server->port_);
        std::vector<std::string> args = {*program, "-H", "127.0.0.1", "-p", port};
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, server->log_.c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&attr, 0);
        const int rc = ::posix_spawn(&server->pid_, program->c_str(), &actions, &attr,
                                     argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        if (rc != 0) {
            server->pid_ = -1;
            return make_error(ErrorCode::Unavailable,
                              "starting " + *program + " failed: " + std::strerror(rc));
        }
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        while (std::chrono::steady_clock::now() < deadline) {
            int status = 0;
            if (::waitpid(server->pid_, &status, WNOHANG) == server->pid_) {
                server->pid_ = -1;
                return make_error(ErrorCode::Unavailable,
                                  "moto_server exited during start-up: " + server->log_tail());
            }
            if (port_answers(server->port_)) {
                return server;
            }
            std::this_thread::sleep_for(100ms);
        }
        return make_error(ErrorCode::Timeout,
                          "moto_server did not answer on port " + port + " within 60 s: " +
                              server->log_tail());
    }

    ~MotoServer() {
        if (pid_ > 0) {
            ::kill(-pid_, SIGTERM);
            int status = 0;
            for (int i = 0; i < 50 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) {
                std::this_thread::sleep_for(100ms);
            }
            if (::waitpid(pid_, &status, WNOHANG) == 0) {
                ::kill(-pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
            }
        }
        std::error_code ec;
        std::filesystem::remove(log_, ec);
    }

    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::string authority() const { return "127.0.0.1:" + std::to_string(port_); }

private:
    MotoServer() = default;
    std::string log_tail() const {
        std::ifstream in(log_);
        std::stringstream text;
        text << in.rdbuf();
        const std::string all = text.str();
        return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
    }

    pid_t pid_ = -1;
    int port_ = 0;
    std::filesystem::path log_;
};

class StringSink final : public ByteSink {
public:
    Result<void> write(std::span<const char> bytes) override {
        text.append(bytes.data(), bytes.size());
        return {};
    }
    std::string text;
};

class StringSource final : public ByteSource {
public:
    explicit StringSource(const std::string& text) : text_(text) {}
    Result<std::size_t> read(std::span<char> out) override {
        const std::size_t n = std::min(out.size(), text_.size() - offset_);
        std::copy_n(text_.data() + offset_, n, out.data());
        offset_ += n;
        return n;
    }

private:
    const std::string& text_;
    std::size_t offset_ = 0;
};

std::string pattern(std::size_t length, unsigned seed) {
    std::string s(length, '\0');
    std::uint32_t x = seed * 2654435761u + 1;
    for (auto& c : s) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

const aws::SigningCredentials kCredentials{"AKIDMOTOTEST", "moto-secret", "moto-session-token"};

class MotoTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        auto server = MotoServer::start();
        if (server) {
            server_ = std::move(*server);
        } else {
            start_error_ = server.error().message;
        }
    }
    static void TearDownTestSuite() { server_.reset(); }

    void SetUp() override {
        if (!server_) {
            FAIL() << start_error_;
        }
    }

    aws::S3ClientOptions s3_options() const {
        aws::S3ClientOptions options;
        options.endpoint = {server_->endpoint(), true};
        options.credentials = kCredentials;
        options.path_style = true;
        options.retry.base_delay = 10ms;
        return options;
    }
    aws::SnsClientOptions sns_options() const {
        aws::SnsClientOptions options;
        options.endpoint = {server_->endpoint(), true};
        options.credentials = kCredentials;
        options.retry.base_delay = 10ms;
        return options;
    }

    // A signed request outside the clients' API (CreateBucket, CreateTopic, SQS), the way any
    // SDK would send it.
    aws::TransportResponse raw(const std::string& service, const std::string& method,
                               const std::string& path, const std::string& body = {},
                               const std::string& content_type = {}, aws::QueryParams query = {}) {
        aws::SignRequest sign;
        sign.method = method;
        sign.path = path;
        sign.query = query;
        sign.headers = {{"host", server_->authority()}};
        if (!content_type.empty()) {
            sign.headers.emplace_back("content-type", content_type);
        }
        sign.payload_hash = crypto::sha256_hex(body);
        sign.region = "us-east-1";
        sign.service = service;
        sign.now = std::chrono::system_clock::now();
        aws::TransportRequest request;
        request.method = method;
        request.url = server_->endpoint() + aws::uri_encode(path, true);
        for (std::size_t i = 0; i < query.size(); ++i) {
            request.url += (i == 0 ? "?" : "&") + aws::uri_encode(query[i].first, false);
            if (!query[i].second.empty()) {
                request.url += "=" + aws::uri_encode(query[i].second, false);
            }
        }
        request.headers = sign.headers;
        for (auto& header : aws::sign_request(sign, kCredentials)) {
            request.headers.push_back(header);
        }
        request.body = body;
        auto response = transport_.send(request);
        EXPECT_TRUE(response.has_value()) << response.error().message;
        return response ? *response : aws::TransportResponse{};
    }

    void create_bucket(const std::string& bucket) {
        const auto response = raw("s3", "PUT", "/" + bucket);
        ASSERT_EQ(response.status, 200) << response.body;
    }

    std::string query_action(const std::string& service, const std::string& form,
                             const std::string& element) {
        const auto response =
            raw(service, "POST", "/", form, "application/x-www-form-urlencoded; charset=utf-8");
        EXPECT_EQ(response.status, 200) << form << "\n" << response.body;
        auto doc = aws::XmlResponse::parse(response.body);
        EXPECT_TRUE(doc.has_value()) << response.body;
        if (!doc) {
            return {};
        }
        // <XResponse><XResult><element>...</element></XResult>...
        for (const char* result : {"CreateTopicResult", "CreateQueueResult", "SubscribeResult",
                                   "ReceiveMessageResult"}) {
            if (auto r = doc->root().child(result)) {
                if (element == "Body") {
                    auto message = r->child("Message");
                    return message ? message->child_text("Body") : std::string();
                }
                return r->child_text(element);
            }
        }
        return {};
    }

    HttpClientTransport transport_{[] {
        HttpClientTransportOptions options;
        options.timeout = 60s;
        return options;
    }()};

    static std::unique_ptr<MotoServer> server_;
    static std::string start_error_;
};

std::unique_ptr<MotoServer> MotoTest::server_;
std::string MotoTest::start_error_;

TEST_F(MotoTest, S3ObjectsRoundTripThroughTheClient) {
    create_bucket("photos-roundtrip");
    aws::S3Client s3(transport_, s3_options());
    const std::string key = "in/red flower+1 \xc3\xa9/x.jpg";
    const std::string body = pattern(70'000, 1);
    aws::S3PutRequest put;
    put.bucket = "photos-roundtrip";
    put.key = key;
    put.content_type = "image/jpeg";
    put.metadata = {{"Owner", "bob smith"}, {"recipe-version", "3"}};
    auto etag = s3.put_object(put, body);
    ASSERT_TRUE(etag.has_value()) << etag.error().message;
    EXPECT_EQ(*etag, crypto::hex_encode(crypto::md5(body)));

    auto head = s3.head_object("photos-roundtrip", key);
    ASSERT_TRUE(head.has_value()) << head.error().message;
    EXPECT_EQ(head->size, body.size());
    EXPECT_EQ(head->etag, *etag);
    EXPECT_EQ(head->content_type, "image/jpeg");
    EXPECT_EQ(head->metadata_value("owner"), "bob smith");
    EXPECT_EQ(head->metadata_value("recipe-version"), "3");

    StringSink whole;
    auto got = s3.get_object("photos-roundtrip", key, whole);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_EQ(whole.text, body);
    EXPECT_EQ(got->etag, *etag);
    EXPECT_EQ(got->metadata_value("owner"), "bob smith");

    StringSink matched;
    ASSERT_TRUE(s3.get_object("photos-roundtrip", key, matched, *etag));
    EXPECT_EQ(matched.text, body);

    StringSink mismatched;
    auto stale = s3.get_object("photos-roundtrip", key, mismatched, std::string("0123456789abcdef0123456789abcdef"));
    ASSERT_FALSE(stale.has_value());
    EXPECT_EQ(stale.error().code, ErrorCode::PreconditionFailed) << stale.error().message;
    EXPECT_TRUE(mismatched.text.empty());

    StringSink slice;
    auto ranged = s3.get_object(aws::S3GetRequest{"photos-roundtrip", key, std::nullopt, "bytes=10-19"}, slice);
    ASSERT_TRUE(ranged.has_value()) << ranged.error().message;
    EXPECT_EQ(slice.text, body.substr(10, 10));

    StringSink none;
    auto missing = s3.get_object("photos-roundtrip", "in/missing.jpg", none);
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
    EXPECT_EQ(missing.error().message.rfind("NoSuchKey: ", 0), 0u) << missing.error().message;

    auto no_bucket = s3.head_object("no-such-bucket-here", "k");
    ASSERT_FALSE(no_bucket.has_value());
    EXPECT_EQ(no_bucket.error().code, ErrorCode::NotFound);

    ASSERT_TRUE(s3.delete_object("photos-roundtrip", key));
    auto gone = s3.head_object("photos-roundtrip", key);
    ASSERT_FALSE(gone.has_value());
    EXPECT_EQ(gone.error().code, ErrorCode::NotFound);
    EXPECT_TRUE(s3.delete_object("photos-roundtrip", key)) << "deleting an absent key is fine";

    // A streamed body below the threshold: one UNSIGNED-PAYLOAD PUT.
    const std::string small = pattern(12'345, 2);
    StringSource source(small);
    auto streamed = s3.put_object(put, source, small.size());
    ASSERT_TRUE(streamed.has_value()) << streamed.error().message;
    EXPECT_EQ(*streamed, crypto::hex_encode(crypto::md5(small)));
}

TEST_F(MotoTest, S3MultipartUploadsAssembleTheObject) {
    create_bucket("photos-multipart");
    aws::S3ClientOptions options = s3_options();
    options.multipart_threshold = 6u << 20;
    options.part_size = 5u << 20;
    aws::S3Client s3(transport_, options);
    const std::string body = pattern((11u << 20) + 5, 3);
    aws::S3PutRequest put;
    put.bucket = "photos-multipart";
    put.key = "big/one.bin";
    put.metadata = {{"kind", "original"}};
    auto etag = s3.put_object(put, body);
    ASSERT_TRUE(etag.has_value()) << etag.error().message;
    // S3's multipart ETag: MD5 of the parts' binary MD5s, "-" part count.
    std::string digests;
    for (std::size_t offset = 0; offset < body.size(); offset += 5u << 20) {
        digests += crypto::as_bytes(crypto::md5(std::string_view(body).substr(offset, 5u << 20)));
    }
    EXPECT_EQ(*etag, crypto::hex_encode(crypto::md5(digests)) + "-3");

    StringSink sink;
    auto got = s3.get_object("photos-multipart", "big/one.bin", sink);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_EQ(got->size, body.size());
    EXPECT_TRUE(sink.text == body) << "the assembled object differs";
    EXPECT_EQ(got->metadata_value("kind"), "original");

    // The same through a stream: parts are read one at a time.
    put.key = "big/streamed.bin";
    StringSource source(body);
    auto streamed = s3.put_object(put, source, body.size());
    ASSERT_TRUE(streamed.has_value()) << streamed.error().message;
    EXPECT_EQ(*streamed, *etag);

    // Nothing is left behind by a failed upload: the source ends early, the upload is aborted.
    put.key = "big/short.bin";
    StringSource short_source(body);
    auto failed = s3.put_object(put, short_source, body.size() + 1000);
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error().code, ErrorCode::InvalidArgument);
    const auto uploads = raw("s3", "GET", "/photos-multipart", {}, {}, {{"uploads", ""}});
    ASSERT_EQ(uploads.status, 200) << uploads.body;
    auto uploads_doc = aws::XmlResponse::parse(uploads.body);
    ASSERT_TRUE(uploads_doc.has_value()) << uploads.body;
    EXPECT_EQ(uploads_doc->root().name(), "ListMultipartUploadsResult");
    EXPECT_TRUE(uploads_doc->root().children("Upload").empty()) << "the failed upload was aborted";
    auto listing = s3.list_objects("photos-multipart", "big/");
    ASSERT_TRUE(listing.has_value()) << listing.error().message;
    ASSERT_EQ(listing->size(), 2u);
}

TEST_F(MotoTest, S3ListingFollowsPages) {
    create_bucket("photos-list");
    aws::S3ClientOptions options = s3_options();
    options.list_page_size = 2;
    aws::S3Client s3(transport_, options);
    std::vector<std::string> keys;
    for (int i = 0; i < 7; ++i) {
        keys.push_back("list/" + std::to_string(i) + (i % 2 ? " odd+.jpg" : ".jpg"));
    }
    for (const auto& key : keys) {
        aws::S3PutRequest put;
        put.bucket = "photos-list";
        put.key = key;
        ASSERT_TRUE(s3.put_object(put, key + " body"));
    }
    for (const std::string other : {"other/a.jpg", "listing.txt"}) {
        aws::S3PutRequest put;
        put.bucket = "photos-list";
        put.key = other;
        ASSERT_TRUE(s3.put_object(put, "x"));
    }
    auto entries = s3.list_objects("photos-list", "list/");
    ASSERT_TRUE(entries.has_value()) << entries.error().message;
    ASSERT_EQ(entries->size(), keys.size());
    std::sort(keys.begin(), keys.end());
    for (std::size_t i = 0; i < keys.size(); ++i) {
        EXPECT_EQ((*entries)[i].key, keys[i]);
        EXPECT_EQ((*entries)[i].size, keys[i].size() + 5);
        EXPECT_EQ((*entries)[i].etag, crypto::hex_encode(crypto::md5(keys[i] + " body")));
    }
    auto everything = s3.list_objects("photos-list", "");
    ASSERT_TRUE(everything.has_value());
    EXPECT_EQ(everything->size(), 9u);
    auto nothing = s3.list_objects("photos-list", "nope/");
    ASSERT_TRUE(nothing.has_value());
    EXPECT_TRUE(nothing->empty());
}

TEST_F(MotoTest, SnsPublishDeliversMessageSubjectAndAttributes) {
    const std::string topic = query_action(
        "sns", "Action=CreateTopic&Version=2010-03-31&Name=photo-events", "TopicArn");
    ASSERT_FALSE(topic.empty());
    // An SQS queue subscribed to the topic shows what SNS made of the published form.
    const std::string queue_url = query_action(
        "sqs", "Action=CreateQueue&Version=2012-11-05&QueueName=photo-events-q", "QueueUrl");
    ASSERT_FALSE(queue_url.empty());
    const std::string queue_arn = "arn:aws:sqs:us-east-1:123456789012:photo-events-q";
    ASSERT_FALSE(query_action("sns",
                              "Action=Subscribe&Version=2010-03-31&TopicArn=" + aws::form_encode(topic) +
                                  "&Protocol=sqs&Endpoint=" + aws::form_encode(queue_arn),
                              "SubscriptionArn")
                     .empty());

    aws::SnsClient sns(transport_, sns_options());
    aws::SnsPublish publish;
    publish.topic_arn = topic;
    publish.subject = "Photo processed: caf\xc3\xa9 + more";
    publish.message = R"({"key":"in/red flower+1.jpg","derivatives":["thumb","preview"]})";
    publish.string_attributes = {{"kind", "thumb nail"}, {"status", "ok+fine"}};
    auto id = sns.publish(publish);
    ASSERT_TRUE(id.has_value()) << id.error().message;
    EXPECT_FALSE(id->empty());

    const std::string body = query_action(
        "sqs",
        "Action=ReceiveMessage&Version=2012-11-05&QueueUrl=" + aws::form_encode(queue_url) +
            "&MaxNumberOfMessages=1&WaitTimeSeconds=5",
        "Body");
    ASSERT_FALSE(body.empty()) << "no message reached the subscribed queue";
    const auto envelope = nlohmann::json::parse(body, nullptr, false);
    ASSERT_FALSE(envelope.is_discarded()) << body;
    EXPECT_EQ(envelope.value("Type", ""), "Notification");
    EXPECT_EQ(envelope.value("MessageId", ""), *id);
    EXPECT_EQ(envelope.value("TopicArn", ""), topic);
    EXPECT_EQ(envelope.value("Subject", ""), publish.subject);
    EXPECT_EQ(envelope.value("Message", ""), publish.message);
    ASSERT_TRUE(envelope.contains("MessageAttributes")) << body;
    EXPECT_EQ(envelope["MessageAttributes"]["kind"]["Value"], "thumb nail");
    EXPECT_EQ(envelope["MessageAttributes"]["kind"]["Type"], "String");
    EXPECT_EQ(envelope["MessageAttributes"]["status"]["Value"], "ok+fine");

    publish.topic_arn = "arn:aws:sns:us-east-1:123456789012:does-not-exist";
    auto missing = sns.publish(publish);
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ErrorCode::NotFound) << missing.error().message;
}


// ---- SqsClient: the JSON protocol against moto's SQS ------------------------------------------

class MotoSqsTest : public MotoTest {
protected:
    aws::SqsClientOptions sqs_options() const {
        aws::SqsClientOptions options;
        options.endpoint = {server_->endpoint(), true};
        options.credentials = kCredentials;
        options.retry.base_delay = 10ms;
        return options;
    }
    // CreateQueue over the Query API (not part of the client), with optional attributes.
    std::string create_queue(const std::string& name,
                             const std::vector<std::pair<std::string, std::string>>& attributes = {}) {
        std::string form = "Action=CreateQueue&Version=2012-11-05&QueueName=" + name;
        for (std::size_t i = 0; i < attributes.size(); ++i) {
            const std::string n = std::to_string(i + 1);
            form += "&Attribute." + n + ".Name=" + aws::form_encode(attributes[i].first) +
                    "&Attribute." + n + ".Value=" + aws::form_encode(attributes[i].second);
        }
        return query_action("sqs", form, "QueueUrl");
    }
};

TEST_F(MotoSqsTest, SendReceiveChangeVisibilityAndDelete) {
    const std::string queue = create_queue("pf-sqs-cycle");
    ASSERT_FALSE(queue.empty());
    aws::SqsClient sqs(transport_, sqs_options());

    auto url = sqs.queue_url("pf-sqs-cycle");
    ASSERT_TRUE(url.has_value()) << url.error().message;
    EXPECT_EQ(*url, queue);

    // The answer's MD5OfMessageBody is checked by send(): a body with quotes, UTF-8 and a newline.
    const std::string body = "{\"Records\":[],\"note\":\"caf\xc3\xa9 \\\"q\\\"\"}\n";
    auto id = sqs.send(queue, body);
    ASSERT_TRUE(id.has_value()) << id.error().message;
    EXPECT_FALSE(id->empty());

    auto first = sqs.receive({queue, 10, 5s, 30s});
    ASSERT_TRUE(first.has_value()) << first.error().message;
    ASSERT_EQ(first->size(), 1u);
    const aws::SqsMessage& m1 = (*first)[0];
    EXPECT_EQ(m1.message_id, *id);
    EXPECT_EQ(m1.body, body);
    EXPECT_EQ(m1.receive_count(), 1);
    EXPECT_TRUE(m1.attributes.contains("SentTimestamp"));
    EXPECT_FALSE(m1.receipt_handle.empty());

    // In flight for 30 s: a short poll sees nothing.
    auto hidden = sqs.receive({queue, 10, 0s, std::nullopt});
    ASSERT_TRUE(hidden.has_value()) << hidden.error().message;
    EXPECT_TRUE(hidden->empty());

    // Released at once: received again, counted twice.
    ASSERT_TRUE(sqs.change_visibility(queue, m1.receipt_handle, 0s).has_value());
    auto second = sqs.receive({queue, 10, 5s, 1s});
    ASSERT_TRUE(second.has_value()) << second.error().message;
    ASSERT_EQ(second->size(), 1u);
    EXPECT_EQ((*second)[0].message_id, *id);
    EXPECT_EQ((*second)[0].receive_count(), 2);

    // Deleted with the latest handle: gone even after its visibility timeout has passed.
    auto deleted = sqs.delete_message(queue, (*second)[0].receipt_handle);
    ASSERT_TRUE(deleted.has_value()) << deleted.error().message;
    std::this_thread::sleep_for(1500ms);
    auto after = sqs.receive({queue, 10, 1s, std::nullopt});
    ASSERT_TRUE(after.has_value()) << after.error().message;
    EXPECT_TRUE(after->empty());
}

TEST_F(MotoSqsTest, LongPollingWaitsForAMessageOrTheWait) {
    const std::string queue = create_queue("pf-sqs-longpoll");
    ASSERT_FALSE(queue.empty());
    aws::SqsClient sqs(transport_, sqs_options());
    const auto start = std::chrono::steady_clock::now();
    auto empty = sqs.receive({queue, 1, 2s, std::nullopt});
    const auto waited = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(empty.has_value()) << empty.error().message;
    EXPECT_TRUE(empty->empty());
    EXPECT_GE(waited, 1500ms) << "the server answered a 2 s long poll at once";

    // A message sent while a receive is waiting is returned before the wait is over.
    std::thread sender([&] {
        std::this_thread::sleep_for(500ms);
        aws::SqsClient other(transport_, sqs_options());
        EXPECT_TRUE(other.send(queue, "late").has_value());
    });
    const auto poll_start = std::chrono::steady_clock::now();
    auto got = sqs.receive({queue, 1, 10s, std::nullopt});
    const auto poll_time = std::chrono::steady_clock::now() - poll_start;
    sender.join();
    ASSERT_TRUE(got.has_value()) << got.error().message;
    ASSERT_EQ(got->size(), 1u);
    EXPECT_EQ((*got)[0].body, "late");
    EXPECT_LT(poll_time, 8s);
}

TEST_F(MotoSqsTest, UnknownQueuesAndStaleHandlesAreErrorsByKind) {
    aws::SqsClient sqs(transport_, sqs_options());
    const std::string missing = server_->endpoint() + "/123456789012/pf-sqs-no-such-queue";
    auto received = sqs.receive({missing, 1, 0s, std::nullopt});
    ASSERT_FALSE(received.has_value());
    EXPECT_EQ(received.error().code, ErrorCode::NotFound) << received.error().message;
    auto sent = sqs.send(missing, "x");
    ASSERT_FALSE(sent.has_value());
    EXPECT_EQ(sent.error().code, ErrorCode::NotFound) << sent.error().message;
    auto url = sqs.queue_url("pf-sqs-no-such-queue");
    ASSERT_FALSE(url.has_value());
    EXPECT_EQ(url.error().code, ErrorCode::NotFound) << url.error().message;

    const std::string queue = create_queue("pf-sqs-handles");
    ASSERT_FALSE(queue.empty());
    auto bad = sqs.delete_message(queue, "not-a-receipt-handle");
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code, ErrorCode::InvalidArgument) << bad.error().message;
}

TEST_F(MotoSqsTest, AMessageReceivedMoreThanMaxReceiveCountMovesToTheDeadLetterQueue) {
    const std::string dlq = create_queue("pf-sqs-dlq");
    ASSERT_FALSE(dlq.empty());
    const std::string policy =
        R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:pf-sqs-dlq","maxReceiveCount":"1"})";
    const std::string queue = create_queue("pf-sqs-work", {{"RedrivePolicy", policy}});
    ASSERT_FALSE(queue.empty());
    aws::SqsClient sqs(transport_, sqs_options());

    auto id = sqs.send(queue, "poison");
    ASSERT_TRUE(id.has_value()) << id.error().message;
    // First receive: handed out (count 1); the worker fails and releases it.
    auto first = sqs.receive({queue, 1, 2s, std::nullopt});
    ASSERT_TRUE(first.has_value()) << first.error().message;
    ASSERT_EQ(first->size(), 1u);
    EXPECT_EQ((*first)[0].receive_count(), 1);
    ASSERT_TRUE(sqs.change_visibility(queue, (*first)[0].receipt_handle, 0s).has_value());

    // The next receive would exceed maxReceiveCount: the queue moves it to the DLQ instead.
    auto second = sqs.receive({queue, 1, 1s, std::nullopt});
    ASSERT_TRUE(second.has_value()) << second.error().message;
    EXPECT_TRUE(second->empty()) << "received " << second->size() << " message(s) a second time";

    auto dead = sqs.receive({dlq, 1, 2s, std::nullopt});
    ASSERT_TRUE(dead.has_value()) << dead.error().message;
    ASSERT_EQ(dead->size(), 1u);
    EXPECT_EQ((*dead)[0].body, "poison");
    EXPECT_EQ((*dead)[0].message_id, *id);
}

}  // namespace
}  // namespace pf::function
