// The photo handler end to end against a real `photoflux serve` (PF_BINARY): real photos uploaded
// over S3, S3 event JSON as S3 writes it, the handler called directly, its outputs read back over
// S3 and decoded with libvips, its notifications received from serve's SNS topic over a live
// server-sent-event stream.
#include "aws/s3_client.h"
#include "aws/s3_event.h"
#include "aws/sigv4.h"
#include "aws/uri_encoding.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "function/function_config.h"
#include "function/http_client_transport.h"
#include "function/photo_handler.h"
#include "function/photo_messages.h"
#include "function/serve_process.h"
#include "imaging/vips_runtime.h"
#include "support/temp_dir.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vips/vips8>

#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>

namespace pf::function {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kAccessKey = "AKIAFUNCTIONE2ETEST0";
constexpr const char* kSecretKey = "function-e2e-secret-key-0123456789abcdef";
constexpr const char* kBucket = "photos";
constexpr const char* kTraceId = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";

std::string read_file_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::filesystem::path data_path(const std::string& relative) {
    return std::filesystem::path(PF_TEST_DATA_DIR) / relative;
}

// Every request the handler sends, recorded on its way to the real transport.
class RecordingTransport final : public aws::HttpTransport {
public:
    explicit RecordingTransport(aws::HttpTransport& inner) : inner_(inner) {}
    Result<aws::TransportResponse> send(const aws::TransportRequest& request,
                                        ByteSink* sink) override {
        {
            std::lock_guard lock(mutex_);
            requests_.push_back({request.method, request.url, request.headers});
        }
        return inner_.send(request, sink);
    }
    struct Seen {
        std::string method, url;
        std::vector<std::pair<std::string, std::string>> headers;
    };
    std::vector<Seen> take() {
        std::lock_guard lock(mutex_);
        return std::exchange(requests_, {});
    }

private:
    aws::HttpTransport& inner_;
    std::mutex mutex_;
    std::vector<Seen> requests_;
};

std::string header_value(const std::vector<std::pair<std::string, std::string>>& headers,
                         const std::string& name) {
    for (const auto& [n, v] : headers) {
        if (n == name) {
            return v;
        }
    }
    return {};
}

struct Published {
    std::string subject;
    std::string message_text;
    json message;
    json attributes;
};

// A live subscriber: serve's /_/sns/sse stream of one topic, over a plain socket (HTTP/1.0, so the
// body is the event stream itself, unframed).
class SseListener {
public:
    SseListener(int port, const std::string& topic_arn) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            error_ = "cannot connect to serve";
            return;
        }
        std::string request = "GET /_/sns/sse?TopicArn=" + aws::uri_encode(topic_arn, false) +
                              " HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Basic " +
                              crypto::base64_encode(std::string(kAccessKey) + ":" + kSecretKey) +
                              "\r\n\r\n";
        if (::write(fd_, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
            error_ = "cannot send the request";
            return;
        }
        // Registered with the hub once serve writes its first comment.
        const auto until = std::chrono::steady_clock::now() + 10s;
        while (buffer_.find(": stream open") == std::string::npos &&
               std::chrono::steady_clock::now() < until) {
            if (!pump(100ms)) {
                break;
            }
        }
        auto open = buffer_.find(": stream open");
        if (open == std::string::npos) {
            error_ = "the stream did not open: " + buffer_.substr(0, 500);
            return;
        }
        buffer_.erase(0, buffer_.find('\n', open) + 1);
    }
    ~SseListener() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    const std::string& error() const { return error_; }

    // Waits until `count` notifications arrived (or the timeout passed) and returns them all.
    std::vector<Published> wait_for(std::size_t count, std::chrono::milliseconds timeout) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        while (parsed_.size() < count && std::chrono::steady_clock::now() < until) {
            if (!pump(100ms)) {
                break;
            }
            parse();
        }
        parse();
        return std::exchange(parsed_, {});
    }

private:
    bool pump(std::chrono::milliseconds wait) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) {
            return true;  // nothing yet
        }
        char chunk[65536];
        ssize_t n = ::read(fd_, chunk, sizeof chunk);
        if (n <= 0) {
            return false;
        }
        buffer_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }
    void parse() {
        for (;;) {
            auto end = buffer_.find("\n\n");
            if (end == std::string::npos) {
                return;
            }
            std::string event = buffer_.substr(0, end);
            buffer_.erase(0, end + 2);
            std::string data;
            std::istringstream lines(event);
            for (std::string line; std::getline(lines, line);) {
                if (line.rfind("data: ", 0) == 0) {
                    data += line.substr(6);
                }
            }
            if (data.empty()) {
                continue;  // a comment (heartbeat)
            }
            json envelope = json::parse(data);
            Published p;
            p.subject = envelope.value("Subject", "");
            p.message_text = envelope.value("Message", "");
            p.message = json::parse(p.message_text);
            p.attributes = envelope.value("MessageAttributes", json::object());
            parsed_.push_back(std::move(p));
        }
    }

    int fd_ = -1;
    std::string error_;
    std::string buffer_;
    std::vector<Published> parsed_;
};

std::string attribute(const Published& p, const std::string& name) {
    if (!p.attributes.contains(name)) {
        return "<absent>";
    }
    return p.attributes[name].value("Value", "<no value>");
}

class FunctionE2E : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        ASSERT_TRUE(imaging::start_vips({1}));
        dir_ = std::make_unique<test::TempDir>("pf-function-e2e");
        std::string error;
        serve_ = test::ServeProcess::start(
            PF_BINARY, dir_->path() / "data",
            {{"PHOTOFLUX_ACCESS_KEY_ID", kAccessKey}, {"PHOTOFLUX_SECRET_ACCESS_KEY", kSecretKey}},
            error);
        ASSERT_TRUE(serve_) << error;
        transport_ = std::make_unique<HttpClientTransport>();
        auto topic = create_topic("function-e2e");
        ASSERT_TRUE(topic) << topic.error().message;
        topic_arn_ = *topic;
    }
    static void TearDownTestSuite() {
        serve_.reset();
        transport_.reset();
        dir_.reset();
    }

    void SetUp() override {
        ASSERT_TRUE(serve_) << "serve did not start";
        listener_ = std::make_unique<SseListener>(serve_->port(), topic_arn_);
        ASSERT_EQ(listener_->error(), "");
    }
    void TearDown() override {
        if (HasFailure() && serve_) {
            std::cerr << "serve's log:\n" << serve_->log_tail() << "\n";
        }
    }

    // SNS CreateTopic on serve's API, signed as any SNS client signs it.
    static Result<std::string> create_topic(const std::string& name) {
        const std::string body = "Action=CreateTopic&Version=2010-03-31&Name=" + name;
        const std::string host = serve_->url().substr(std::string("http://").size());
        aws::SignRequest sign;
        sign.method = "POST";
        sign.path = "/";
        sign.headers = {{"host", host},
                        {"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
        sign.payload_hash = crypto::sha256_hex(body);
        sign.region = "us-east-1";
        sign.service = "sns";
        sign.now = std::chrono::system_clock::now();
        aws::TransportRequest request;
        request.method = "POST";
        request.url = serve_->url() + "/";
        request.headers = {{"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
        for (auto& h : aws::sign_request(sign, {kAccessKey, kSecretKey, ""})) {
            request.headers.push_back(std::move(h));
        }
        request.body = body;
        auto response = transport_->send(request);
        if (!response) {
            return response.error();
        }
        auto start = response->body.find("<TopicArn>");
        auto end = response->body.find("</TopicArn>");
        if (response->status != 200 || start == std::string::npos || end == std::string::npos) {
            return make_error(ErrorCode::Internal, "CreateTopic: HTTP " +
                                                       std::to_string(response->status) + " " +
                                                       response->body);
        }
        start += std::string("<TopicArn>").size();
        return response->body.substr(start, end - start);
    }

    static aws::EnvironmentMap environment(const aws::EnvironmentMap& extra = {}) {
        aws::EnvironmentMap env = {{"AWS_ENDPOINT_URL", serve_->url()},
                                   {"AWS_ACCESS_KEY_ID", kAccessKey},
                                   {"AWS_SECRET_ACCESS_KEY", kSecretKey},
                                   {"AWS_REGION", "us-east-1"},
                                   {"PF_TOPIC_ARN", topic_arn_}};
        for (const auto& [k, v] : extra) {
            env[k] = v;
        }
        return env;
    }

    // The function as its runtime builds it, over a transport that records every request.
    struct Function {
        FunctionConfig config;
        std::unique_ptr<imaging::Processor> processor;
        std::unique_ptr<RecordingTransport> recording;
        std::unique_ptr<PhotoHandler> handler;
        HandleOutcome handle(const std::string& payload) {
            return handler->handle(payload, kTraceId, Deadline::after(120s));
        }
    };
    static std::unique_ptr<Function> make_function(const aws::EnvironmentMap& extra = {}) {
        auto env = environment(extra);
        auto config = load_function_config(env);
        EXPECT_TRUE(config) << config.error().message;
        auto aws_env = aws::AwsEnvironment::from(env);
        EXPECT_TRUE(aws_env) << aws_env.error().message;
        if (!config || !aws_env) {
            return nullptr;
        }
        auto f = std::make_unique<Function>();
        f->config = std::move(*config);
        f->processor = std::make_unique<imaging::Processor>(f->config.imaging);
        f->recording = std::make_unique<RecordingTransport>(*transport_);
        f->handler = std::make_unique<PhotoHandler>(f->config, *f->processor, *f->recording,
                                                    std::move(*aws_env));
        return f;
    }

    static aws::S3Client s3() {
        auto env = aws::AwsEnvironment::from(environment());
        return aws::S3Client(*transport_, aws::s3_client_options(*env));
    }

    static std::string upload(const std::string& key, const std::string& bytes) {
        aws::S3PutRequest put;
        put.bucket = kBucket;
        put.key = key;
        put.content_type = "image/jpeg";
        auto etag = s3().put_object(put, bytes);
        EXPECT_TRUE(etag) << key << ": " << etag.error().message;
        return etag ? *etag : std::string();
    }

    struct Fetched {
        aws::S3ObjectHead head;
        std::string bytes;
    };
    class StringSink final : public ByteSink {
    public:
        Result<void> write(std::span<const char> b) override {
            text.append(b.data(), b.size());
            return {};
        }
        std::string text;
    };
    static Result<Fetched> fetch(const std::string& key) {
        StringSink sink;
        auto head = s3().get_object(kBucket, key, sink);
        if (!head) {
            return head.error();
        }
        return Fetched{*head, std::move(sink.text)};
    }
    static bool exists(const std::string& key) {
        auto head = s3().head_object(kBucket, key);
        EXPECT_TRUE(head || head.error().code == ErrorCode::NotFound) << head.error().message;
        return head.has_value();
    }

    static std::string event(const std::string& name, const std::string& key,
                             const std::string& etag, std::optional<std::uint64_t> size) {
        aws::S3EventRecord r;
        r.event_time = "2026-11-29T11:57:44.123Z";
        r.event_name = name;
        r.configuration_id = "e2e";
        r.bucket = kBucket;
        r.key = key;
        r.size = size;
        r.etag = etag;
        r.sequencer = aws::next_sequencer();
        return aws::to_event_json({r});
    }
    static std::string created(const std::string& key, const std::string& etag,
                               std::uint64_t size) {
        return event("ObjectCreated:Put", key, etag, size);
    }

    static json outcome_of(const HandleOutcome& outcome) {
        EXPECT_TRUE(outcome.ok()) << outcome.error->error_type << ": "
                                  << outcome.error->error_message;
        return outcome.ok() ? json::parse(outcome.response)["records"][0] : json();
    }

    static inline std::unique_ptr<test::TempDir> dir_;
    static inline std::unique_ptr<test::ServeProcess> serve_;
    static inline std::unique_ptr<HttpClientTransport> transport_;
    static inline std::string topic_arn_;
    std::unique_ptr<SseListener> listener_;
};

struct Decoded {
    std::string loader;
    int width = 0, height = 0;
};
Decoded decode(const std::string& bytes) {
    const char* loader = vips_foreign_find_load_buffer(bytes.data(), bytes.size());
    Decoded d;
    // libvips answers with the loader's class; its nickname ("webpload_buffer") is what
    // vipsheader prints.
    const char* nickname = loader ? vips_nickname_find(g_type_from_name(loader)) : nullptr;
    d.loader = nickname ? nickname : "<none>";
    if (loader != nullptr) {
        vips::VImage image = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "");
        d.width = image.width();
        d.height = image.height();
    }
    vips_error_clear();
    return d;
}

TEST_F(FunctionE2E, ProcessesEveryPhotoStoresDerivativesAndPublishes) {
    auto function = make_function();
    ASSERT_TRUE(function);
    std::map<std::string, std::string> etags;  // key -> etag
    for (const auto& entry : std::filesystem::directory_iterator(data_path("photos"))) {
        const std::string key = "e2e/all photos/" + entry.path().filename().string();
        const std::string bytes = read_file_bytes(entry.path());
        const std::string etag = upload(key, bytes);
        etags[key] = etag;
        json record = outcome_of(function->handle(created(key, etag, bytes.size())));
        EXPECT_EQ(record["outcome"], "processed") << key;
        EXPECT_EQ(record["outputs"], 2) << key;
    }
    ASSERT_EQ(etags.size(), 13u);

    // Every request carried the invocation's trace id.
    auto requests = function->recording->take();
    EXPECT_GE(requests.size(), etags.size() * 6);  // HEAD, GET, HEAD, 2 PUTs, manifest, publish
    for (const auto& r : requests) {
        EXPECT_EQ(header_value(r.headers, "x-amzn-trace-id"), kTraceId) << r.method << " " << r.url;
    }

    for (const auto& [key, etag] : etags) {
        SCOPED_TRACE(key);
        const std::string folder = "processed/" + key + "/";
        auto manifest_object = fetch(folder + "manifest.json");
        ASSERT_TRUE(manifest_object) << manifest_object.error().message;
        EXPECT_EQ(manifest_object->head.content_type, "application/json");
        json manifest = json::parse(manifest_object->bytes);
        EXPECT_EQ(manifest["source"]["bucket"], kBucket);
        EXPECT_EQ(manifest["source"]["key"], key);
        EXPECT_EQ(manifest["source"]["etag"], etag);
        EXPECT_EQ(manifest["recipeHash"], function->config.recipe_hash);
        ASSERT_EQ(manifest["outputs"].size(), 2u);

        for (const json& output : manifest["outputs"]) {
            const std::string name = output["name"];
            auto object = fetch(output["key"]);
            ASSERT_TRUE(object) << name << ": " << object.error().message;
            EXPECT_EQ(output["bucket"], kBucket);
            EXPECT_EQ(object->head.metadata_value("source-etag"), etag);
            EXPECT_EQ(object->head.metadata_value("source-bucket"), kBucket);
            EXPECT_EQ(object->head.metadata_value("source-key"), aws::uri_encode(key, true));
            EXPECT_EQ(object->head.metadata_value("recipe-hash"), function->config.recipe_hash);
            Decoded d = decode(object->bytes);
            EXPECT_EQ(d.width, output["width"]) << name;
            EXPECT_EQ(d.height, output["height"]) << name;
            EXPECT_EQ(object->bytes.size(), output["bytes"]) << name;
            if (name == "thumb") {
                EXPECT_EQ(output["key"], folder + "thumb.webp");
                EXPECT_EQ(object->head.content_type, "image/webp");
                EXPECT_EQ(d.loader, "webpload_buffer");
                // A square cover crop, never upscaled (cmyk-pillow.jpg is 100x100).
                const int src_w = manifest["source"]["width"], src_h = manifest["source"]["height"];
                EXPECT_EQ(d.width, std::min(320, std::min(src_w, src_h)));
                EXPECT_EQ(d.height, d.width);
            } else {
                EXPECT_EQ(output["key"], folder + "preview.jpg");
                EXPECT_EQ(object->head.content_type, "image/jpeg");
                EXPECT_EQ(d.loader, "jpegload_buffer");
                EXPECT_LE(std::max(d.width, d.height), 1280);
                const int src_w = manifest["source"]["width"], src_h = manifest["source"]["height"];
                EXPECT_EQ(std::max(d.width, d.height), std::min(1280, std::max(src_w, src_h)));
                EXPECT_EQ(d.width >= d.height, src_w >= src_h);  // upright, same orientation
            }
        }
    }
    // Known shapes: a 2560x1600 camera photo, and a portrait stored sideways (EXIF 6).
    auto camera = fetch("processed/e2e/all photos/camera.jpg/preview.jpg");
    ASSERT_TRUE(camera);
    EXPECT_EQ(decode(camera->bytes).width, 1280);
    EXPECT_EQ(decode(camera->bytes).height, 800);
    auto rotated = fetch("processed/e2e/all photos/orientation-6.jpg/preview.jpg");
    ASSERT_TRUE(rotated);
    EXPECT_EQ(decode(rotated->bytes).width, 428);
    EXPECT_EQ(decode(rotated->bytes).height, 640);

    auto published = listener_->wait_for(etags.size(), 30s);
    ASSERT_EQ(published.size(), etags.size());
    std::set<std::string> seen;
    for (const auto& p : published) {
        const std::string key = p.message["key"];
        SCOPED_TRACE(key);
        seen.insert(key);
        EXPECT_EQ(p.subject, "photo.processed");
        EXPECT_EQ(p.message["type"], "photo.processed");
        EXPECT_EQ(attribute(p, "event"), "photo.processed");
        EXPECT_EQ(attribute(p, "bucket"), kBucket);
        EXPECT_EQ(attribute(p, "key"), key);
        EXPECT_EQ(p.message["bucket"], kBucket);
        EXPECT_EQ(p.message["etag"], etags[key]);
        EXPECT_EQ(p.message["recipeHash"], function->config.recipe_hash);
        EXPECT_EQ(p.message["manifestKey"], "processed/" + key + "/manifest.json");
        ASSERT_EQ(p.message["outputs"].size(), 2u);
        EXPECT_EQ(p.message["outputs"][0]["key"], "processed/" + key + "/thumb.webp");
        EXPECT_EQ(p.message["outputs"][0]["contentType"], "image/webp");
        EXPECT_EQ(p.message["outputs"][1]["contentType"], "image/jpeg");
        EXPECT_TRUE(p.message["manifest"].is_object());
        if (p.message["manifest"]["exif"].is_object()) {
            EXPECT_FALSE(p.message["manifest"]["exif"].contains("gps"));  // progressive.jpg has GPS
        }
    }
    EXPECT_EQ(seen.size(), etags.size());
}

TEST_F(FunctionE2E, DuplicateEventWritesNothingAndRepublishesTheSameMessage) {
    auto function = make_function();
    ASSERT_TRUE(function);
    const std::string key = "e2e/dup/camera.jpg";
    const std::string folder = "processed/" + key + "/";
    const std::string bytes = read_file_bytes(data_path("photos/camera.jpg"));
    const std::string etag = upload(key, bytes);
    const std::string payload = created(key, etag, bytes.size());
    EXPECT_EQ(outcome_of(function->handle(payload))["outcome"], "processed");
    auto first = listener_->wait_for(1, 20s);
    ASSERT_EQ(first.size(), 1u);

    // Replace a derivative with a marker: a second processing run would overwrite it.
    aws::S3PutRequest marker;
    marker.bucket = kBucket;
    marker.key = folder + "thumb.webp";
    ASSERT_TRUE(s3().put_object(marker, "marker"));
    auto manifest_before = s3().head_object(kBucket, folder + "manifest.json");
    ASSERT_TRUE(manifest_before);
    function->recording->take();

    EXPECT_EQ(outcome_of(function->handle(payload))["outcome"], "duplicate");
    for (const auto& r : function->recording->take()) {
        EXPECT_TRUE(r.method == "HEAD" || r.method == "GET" || r.method == "POST")
            << "a duplicate must not write: " << r.method << " " << r.url;
    }
    auto thumb = fetch(folder + "thumb.webp");
    ASSERT_TRUE(thumb);
    EXPECT_EQ(thumb->bytes, "marker");
    auto manifest_after = s3().head_object(kBucket, folder + "manifest.json");
    ASSERT_TRUE(manifest_after);
    EXPECT_EQ(manifest_after->etag, manifest_before->etag);
    auto again = listener_->wait_for(1, 20s);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].message_text, first[0].message_text);

    // A different recipe is not a duplicate: the photo is processed again, with that recipe.
    auto other = make_function(
        {{"PF_RECIPE",
          R"({"outputs":[{"name":"small","resize":{"width":100},"format":{"type":"png"}}]})"}});
    ASSERT_TRUE(other);
    ASSERT_NE(other->config.recipe_hash, function->config.recipe_hash);
    json record = outcome_of(other->handle(payload));
    EXPECT_EQ(record["outcome"], "processed");
    EXPECT_EQ(record["outputs"], 1);
    auto small = fetch(folder + "small.png");
    ASSERT_TRUE(small) << small.error().message;
    Decoded d = decode(small->bytes);
    EXPECT_EQ(d.loader, "pngload_buffer");
    EXPECT_EQ(d.width, 100);
    EXPECT_EQ(d.height, 63);  // 2560x1600 at 100 wide (62.5 rounds up)
    auto manifest = fetch(folder + "manifest.json");
    ASSERT_TRUE(manifest);
    EXPECT_EQ(json::parse(manifest->bytes)["recipeHash"], other->config.recipe_hash);
}

TEST_F(FunctionE2E, BrokenPhotosAreRejectedAndReported) {
    auto function = make_function();
    ASSERT_TRUE(function);
    const std::vector<std::string> files = {"corrupt-no-quant-table.jpg", "not-an-image.jpg",
                                            "claims-50000.png", "empty.jpg",
                                            "corrupt-chunk-type.png"};
    std::map<std::string, std::string> etags;
    for (const auto& file : files) {
        const std::string key = "e2e/hostile/" + file;
        const std::string bytes = read_file_bytes(data_path("hostile/" + file));
        etags[key] = upload(key, bytes);
        HandleOutcome outcome = function->handle(created(key, etags[key], bytes.size()));
        ASSERT_FALSE(outcome.ok()) << key << ": " << outcome.response;
        EXPECT_EQ(outcome.error->error_type, "Photoflux.PhotoRejected") << key;
        // The message names the photo (an event may carry several).
        EXPECT_NE(outcome.error->error_message.find("/" + key + ": "), std::string::npos)
            << outcome.error->error_message;
        EXPECT_FALSE(exists("processed/" + key + "/manifest.json")) << key;
    }
    auto published = listener_->wait_for(files.size(), 20s);
    ASSERT_EQ(published.size(), files.size());
    const std::set<std::string> permanent = {"CorruptInput", "UnsupportedFormat", "LimitExceeded"};
    for (const auto& p : published) {
        const std::string key = p.message["key"];
        SCOPED_TRACE(key);
        EXPECT_EQ(p.subject, "photo.failed");
        EXPECT_EQ(p.message["type"], "photo.failed");
        EXPECT_EQ(attribute(p, "event"), "photo.failed");
        EXPECT_EQ(p.message["bucket"], kBucket);
        EXPECT_EQ(p.message["etag"], etags[key]);
        EXPECT_FALSE(p.message["reason"].get<std::string>().empty());
        EXPECT_TRUE(permanent.count(p.message["errorType"])) << p.message.dump();
        if (key.find("claims-50000") != std::string::npos) {
            EXPECT_EQ(p.message["errorType"], "LimitExceeded");
            EXPECT_NE(p.message["reason"].get<std::string>().find("pixels"), std::string::npos);
        }
    }
}

TEST_F(FunctionE2E, OversizedPhotoIsRejectedWithoutDecoding) {
    auto function = make_function({{"PF_MAX_PHOTO_BYTES", "100000"}});
    ASSERT_TRUE(function);
    const std::string key = "e2e/big/camera.jpg";
    const std::string bytes = read_file_bytes(data_path("photos/camera.jpg"));
    const std::string etag = upload(key, bytes);
    // The event's size tells: refused before any GET.
    HandleOutcome by_size = function->handle(created(key, etag, bytes.size()));
    ASSERT_FALSE(by_size.ok());
    EXPECT_EQ(by_size.error->error_type, "Photoflux.PhotoRejected");
    EXPECT_NE(by_size.error->error_message.find("100000 bytes"), std::string::npos);
    for (const auto& r : function->recording->take()) {
        EXPECT_NE(r.method, "GET") << r.url;
    }
    // Without a size in the event, the download stops at the limit.
    HandleOutcome by_stream = function->handle(event("ObjectCreated:Put", key, etag, std::nullopt));
    ASSERT_FALSE(by_stream.ok());
    EXPECT_EQ(by_stream.error->error_type, "Photoflux.PhotoRejected");
    EXPECT_FALSE(exists("processed/" + key + "/manifest.json"));
    auto published = listener_->wait_for(2, 20s);
    ASSERT_EQ(published.size(), 2u);
    EXPECT_EQ(published[0].message["errorType"], "TooLarge");
    EXPECT_EQ(published[1].message["errorType"], "TooLarge");
}

TEST_F(FunctionE2E, SupersededOrDeletedSourcesNeedNoWork) {
    auto function = make_function({{"PF_TOPIC_ARN", ""}});  // and publish nothing
    ASSERT_TRUE(function);
    const std::string key = "e2e/changing/photo.jpg";
    const std::string old_bytes = read_file_bytes(data_path("photos/camera.jpg"));
    const std::string old_etag = upload(key, old_bytes);
    const std::string new_etag = upload(key, read_file_bytes(data_path("photos/phone.jpg")));
    ASSERT_NE(old_etag, new_etag);

    // The event of the first upload arrives after the second upload: If-Match fails (412).
    EXPECT_EQ(outcome_of(function->handle(created(key, old_etag, old_bytes.size())))["outcome"],
              "superseded");
    EXPECT_FALSE(exists("processed/" + key + "/manifest.json"));
    EXPECT_FALSE(exists("processed/" + key + "/thumb.webp"));

    // Deleted before its event was handled: nothing to fetch, nothing to do, no error.
    ASSERT_TRUE(s3().delete_object(kBucket, key));
    EXPECT_EQ(outcome_of(function->handle(created(key, new_etag, 1000)))["outcome"],
              "source-deleted");
    EXPECT_FALSE(exists("processed/" + key + "/manifest.json"));
    for (const auto& r : function->recording->take()) {
        EXPECT_TRUE(r.method == "HEAD" || r.method == "GET") << r.method << " " << r.url;
    }
    EXPECT_TRUE(listener_->wait_for(1, 1s).empty());
}

TEST_F(FunctionE2E, DeleteEventRemovesThatPhotosDerivativesOnly) {
    auto function = make_function();
    ASSERT_TRUE(function);
    // "e2e/del/a" and "e2e/del/a/b.jpg": the second one's folder lies inside the first one's.
    const std::string a = "e2e/del/a";
    const std::string b = "e2e/del/a/b.jpg";
    const std::string a_bytes = read_file_bytes(data_path("photos/orientation-6.jpg"));
    const std::string b_bytes = read_file_bytes(data_path("orientation/portrait_1.jpg"));
    const std::string a_etag = upload(a, a_bytes);
    const std::string b_etag = upload(b, b_bytes);
    EXPECT_EQ(outcome_of(function->handle(created(a, a_etag, a_bytes.size())))["outcome"],
              "processed");
    EXPECT_EQ(outcome_of(function->handle(created(b, b_etag, b_bytes.size())))["outcome"],
              "processed");
    ASSERT_EQ(listener_->wait_for(2, 20s).size(), 2u);

    // Uploaded again after the delete: the delete event must leave the derivatives alone.
    json kept = outcome_of(function->handle(event("ObjectRemoved:Delete", a, "", std::nullopt)));
    EXPECT_EQ(kept["outcome"], "source-exists");
    EXPECT_TRUE(exists("processed/" + a + "/manifest.json"));

    ASSERT_TRUE(s3().delete_object(kBucket, a));
    json record = outcome_of(function->handle(event("ObjectRemoved:Delete", a, "", std::nullopt)));
    EXPECT_EQ(record["outcome"], "derivatives-deleted");
    EXPECT_EQ(record["outputs"], 3);  // thumb, preview, manifest
    auto left = s3().list_objects(kBucket, "processed/" + a + "/");
    ASSERT_TRUE(left);
    std::set<std::string> keys;
    for (const auto& e : *left) {
        keys.insert(e.key);
    }
    EXPECT_EQ(keys, (std::set<std::string>{"processed/" + b + "/manifest.json",
                                           "processed/" + b + "/preview.jpg",
                                           "processed/" + b + "/thumb.webp"}));
    auto published = listener_->wait_for(1, 20s);
    ASSERT_EQ(published.size(), 1u);
    EXPECT_EQ(published[0].subject, "photo.deleted");
    EXPECT_EQ(published[0].message,
              (json{{"type", "photo.deleted"}, {"bucket", kBucket}, {"key", a}}));
    EXPECT_EQ(attribute(published[0], "event"), "photo.deleted");

    // With PF_DELETE_DERIVATIVES=false a delete leaves everything in place.
    auto keeper = make_function({{"PF_DELETE_DERIVATIVES", "false"}});
    ASSERT_TRUE(keeper);
    ASSERT_TRUE(s3().delete_object(kBucket, b));
    EXPECT_EQ(
        outcome_of(keeper->handle(event("ObjectRemoved:Delete", b, "", std::nullopt)))["outcome"],
        "ignored");
    EXPECT_TRUE(exists("processed/" + b + "/manifest.json"));
}

TEST_F(FunctionE2E, OwnOutputsTestEventsAndGarbage) {
    auto function = make_function();
    ASSERT_TRUE(function);
    const std::string own = "processed/e2e/x.jpg/thumb.webp";
    EXPECT_EQ(outcome_of(function->handle(created(own, "0123", 10)))["outcome"],
              "ignored-own-output");
    EXPECT_FALSE(exists("processed/" + own + "/manifest.json"));

    HandleOutcome test_event = function->handle(
        R"({"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2014-10-13T15:57:02.089Z","Bucket":"photos","RequestId":"5582815E1AEA5ADF","HostId":"x"})");
    EXPECT_TRUE(test_event.ok());
    EXPECT_TRUE(function->recording->take().empty());

    const std::vector<std::string> garbage_events = {"not json", "{}", R"({"Records":[{"s3":{}}]})",
                                                     std::string(kMaxEventBytes + 1, ' '),
                                                     std::string(100, '[') + std::string(100, ']')};
    for (const std::string& garbage : garbage_events) {
        HandleOutcome outcome = function->handle(garbage);
        ASSERT_FALSE(outcome.ok()) << garbage.substr(0, 40);
        EXPECT_EQ(outcome.error->error_type, "Photoflux.InvalidEvent");
    }
    EXPECT_TRUE(function->recording->take().empty());
}

TEST_F(FunctionE2E, UnreachableStoreIsRetryable) {
    auto function = make_function({{"AWS_ENDPOINT_URL", "http://127.0.0.1:1"}});
    ASSERT_TRUE(function);
    HandleOutcome outcome =
        function->handle(created("e2e/nowhere.jpg", "0123456789abcdef0123456789abcdef", 100));
    ASSERT_FALSE(outcome.ok());
    EXPECT_EQ(outcome.error->error_type, "Photoflux.Retryable");
    EXPECT_FALSE(outcome.error->error_message.empty());
}

}  // namespace
}  // namespace pf::function
