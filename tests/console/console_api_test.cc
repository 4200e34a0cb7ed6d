// ConsoleApi::handle() end to end with real http::Request objects: sign-in, cookies, CSRF, rate
// limiting, the JSON endpoints against a real DiskStore, pages, and the event stream.
#include "console/console_api.h"

#include "console/fake_http.h"
#include "storage/disk_store.h"
#include "support/temp_dir.h"

#include <gtest/gtest.h>

#include <thread>

namespace pf::console {
namespace {

using nlohmann::json;
using testing::CaptureResponse;
using testing::make_request;
using testing::StringBody;

const std::string kTopic = "arn:aws:sns:us-east-1:000000000000:photos";

class ConsoleApiTest : public ::testing::Test {
protected:
    void SetUp() override {
        storage::DiskStoreOptions store_options;
        store_options.root = dir_.path() / "store";
        store_options.min_free_bytes = 0;
        auto opened = storage::DiskStore::open(store_options);
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(*opened);
        ASSERT_TRUE(store_->create_bucket("photos", "us-east-1"));

        ConsoleOptions options;
        options.users = {{"ada", "lovelace-password"}};
        options.layout = {"photos", "uploads/", "", "processed/", kTopic, "process-photo"};
        ConsoleServices services;
        services.store = store_.get();
        services.secret_for = [](std::string_view id) -> std::optional<std::string> {
            if (id == "AKIDLOCAL") return std::string("local-secret");
            return std::nullopt;
        };
        services.api_credentials = {"AKIDLOCAL", "local-secret", ""};
        services.sns = [this](std::string_view form) {
            sns_form_ = std::string(form);
            return notify::SnsReply{400, "<ErrorResponse/>", "req-1"};
        };
        api_ = std::make_unique<ConsoleApi>(options, services);
    }

    CaptureResponse call(const std::string& method, const std::string& target,
                         std::string body = {},
                         std::vector<std::pair<std::string, std::string>> headers = {},
                         std::string remote = "192.0.2.7:40000") {
        headers.emplace_back("host", "localhost:9000");
        auto request = make_request(method, target, std::move(headers), std::move(remote));
        request.content_length = body.size();
        StringBody request_body(std::move(body));
        CaptureResponse response;
        api_->handle(request, request_body, response);
        return response;
    }

    // Signs in as the console user; returns the cookie header value and the CSRF token.
    std::pair<std::string, std::string> sign_in() {
        auto response = call("POST", "/_/console/api/session",
                             R"({"user":"ada","password":"lovelace-password"})");
        EXPECT_EQ(response.status(), 200) << response.body();
        auto set_cookie = response.header("Set-Cookie").value_or("");
        auto csrf = json::parse(response.body())["csrf_token"].get<std::string>();
        return {set_cookie.substr(0, set_cookie.find(';')), csrf};
    }

    test::TempDir dir_{"pf-console-api"};
    std::unique_ptr<storage::DiskStore> store_;
    std::unique_ptr<ConsoleApi> api_;
    std::string sns_form_;
};

TEST_F(ConsoleApiTest, SignInWithConsoleUserSetsAHardenedCookie) {
    auto response = call("POST", "/_/console/api/session",
                         R"({"user":"ada","password":"lovelace-password"})");
    ASSERT_EQ(response.status(), 200) << response.body();
    auto cookie = response.header("Set-Cookie");
    ASSERT_TRUE(cookie);
    EXPECT_TRUE(cookie->starts_with("pf_console="));
    EXPECT_NE(cookie->find("HttpOnly"), std::string::npos);
    EXPECT_NE(cookie->find("SameSite=Strict"), std::string::npos);
    EXPECT_NE(cookie->find("Path=/_/"), std::string::npos);
    EXPECT_EQ(cookie->find("Secure"), std::string::npos);
    auto body = json::parse(response.body());
    EXPECT_EQ(body["user"], "ada");
    EXPECT_EQ(body["kind"], "console-user");
    EXPECT_EQ(response.header("Cache-Control"), "no-store");

    auto session = call("GET", "/_/console/api/session", "",
                        {{"cookie", "x=1; " + cookie->substr(0, cookie->find(';'))}});
    EXPECT_EQ(session.status(), 200);
    EXPECT_EQ(json::parse(session.body())["csrf_token"], body["csrf_token"]);
}

TEST_F(ConsoleApiTest, SignInWithAccessKey) {
    auto response = call("POST", "/_/console/api/session",
                         R"({"access_key_id":"AKIDLOCAL","secret_access_key":"local-secret"})");
    ASSERT_EQ(response.status(), 200) << response.body();
    EXPECT_EQ(json::parse(response.body())["kind"], "access-key");
}

TEST_F(ConsoleApiTest, WrongSecretsAreRefused) {
    for (std::string body : {R"({"access_key_id":"AKIDLOCAL","secret_access_key":"nope"})",
                             R"({"access_key_id":"AKIDOTHER","secret_access_key":"local-secret"})",
                             R"({"user":"ada","password":"lovelace"})",
                             R"({"user":"bob","password":"lovelace-password"})"}) {
        auto response = call("POST", "/_/console/api/session", body);
        EXPECT_EQ(response.status(), 401) << body;
        EXPECT_EQ(json::parse(response.body())["error"], "invalid_credentials");
        EXPECT_FALSE(response.header("Set-Cookie"));
    }
}

TEST_F(ConsoleApiTest, BadBodiesGetClearErrors) {
    auto not_json = call("POST", "/_/console/api/session", "{nope");
    EXPECT_EQ(not_json.status(), 400);
    EXPECT_EQ(json::parse(not_json.body())["error"], "bad_request");
    EXPECT_EQ(call("POST", "/_/console/api/session", "[1]").status(), 400);
    EXPECT_EQ(call("POST", "/_/console/api/session", R"({"user":"ada"})").status(), 400);
    auto huge = call("POST", "/_/console/api/session", std::string(70 * 1024, ' '));
    EXPECT_EQ(huge.status(), 413);
    auto foreign = call("POST", "/_/console/api/session",
                        R"({"user":"ada","password":"lovelace-password"})",
                        {{"origin", "https://evil.example"}});
    EXPECT_EQ(foreign.status(), 403);
    auto same = call("POST", "/_/console/api/session",
                     R"({"user":"ada","password":"lovelace-password"})",
                     {{"origin", "http://localhost:9000"}});
    EXPECT_EQ(same.status(), 200);
}

TEST_F(ConsoleApiTest, TenFailuresPerAddressAreRateLimited) {
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(call("POST", "/_/console/api/session", R"({"user":"ada","password":"x"})")
                      .status(),
                  401);
    }
    auto limited = call("POST", "/_/console/api/session",
                        R"({"user":"ada","password":"lovelace-password"})");
    EXPECT_EQ(limited.status(), 429);
    auto retry = limited.header("Retry-After");
    ASSERT_TRUE(retry);
    EXPECT_GT(std::stoi(*retry), 0);
    EXPECT_LE(std::stoi(*retry), 300);
    auto elsewhere = call("POST", "/_/console/api/session",
                          R"({"user":"ada","password":"lovelace-password"})", {},
                          "198.51.100.1:1234");
    EXPECT_EQ(elsewhere.status(), 200) << "another address is not limited";
}

TEST_F(ConsoleApiTest, EndpointsNeedASessionAndChangesNeedTheCsrfToken) {
    EXPECT_EQ(call("GET", "/_/console/api/config").status(), 401);
    EXPECT_EQ(call("GET", "/_/console/api/session").status(), 401);
    EXPECT_EQ(call("GET", "/_/console/api/photos", "", {{"cookie", "pf_console=forged"}}).status(),
              401);
    EXPECT_EQ(call("GET", "/_/console/api/nothing-here").status(), 404);

    auto [cookie, csrf] = sign_in();
    auto config = call("GET", "/_/console/api/config", "", {{"cookie", cookie}});
    ASSERT_EQ(config.status(), 200);
    EXPECT_EQ(json::parse(config.body())["upload_prefix"], "uploads/");

    const std::string presign = R"({"method":"PUT","bucket":"photos","key":"uploads/x.jpg"})";
    EXPECT_EQ(call("POST", "/_/console/api/presign", presign, {{"cookie", cookie}}).status(), 403);
    EXPECT_EQ(call("POST", "/_/console/api/presign", presign,
                   {{"cookie", cookie}, {"x-csrf-token", csrf + "x"}})
                  .status(),
              403);
    auto signed_url = call("POST", "/_/console/api/presign", presign,
                           {{"cookie", cookie}, {"x-csrf-token", csrf}});
    ASSERT_EQ(signed_url.status(), 200) << signed_url.body();
    auto url = json::parse(signed_url.body())["url"].get<std::string>();
    EXPECT_TRUE(url.starts_with("/photos/uploads/x.jpg?")) << url;
    EXPECT_NE(url.find("X-Amz-Credential=AKIDLOCAL"), std::string::npos)
        << "console users' URLs are signed with serve's key";
    auto refused = call("POST", "/_/console/api/presign",
                        R"({"method":"PUT","bucket":"photos","key":"k","query":{"acl":""}})",
                        {{"cookie", cookie}, {"x-csrf-token", csrf}});
    EXPECT_EQ(refused.status(), 400);
    EXPECT_EQ(call("GET", "/_/console/api/presign", "", {{"cookie", cookie}}).status(), 405);
    EXPECT_EQ(call("ET", "/_/console/api/config", "", {{"cookie", cookie}}).status(), 405);

    // Sign-out needs the token too, then the cookie is dead.
    EXPECT_EQ(call("DELETE", "/_/console/api/session", "", {{"cookie", cookie}}).status(), 403);
    auto out = call("DELETE", "/_/console/api/session", "",
                    {{"cookie", cookie}, {"x-csrf-token", csrf}});
    EXPECT_EQ(out.status(), 204);
    EXPECT_NE(out.header("Set-Cookie").value_or("").find("Max-Age=0"), std::string::npos);
    EXPECT_EQ(call("GET", "/_/console/api/config", "", {{"cookie", cookie}}).status(), 401);
}

TEST_F(ConsoleApiTest, SnsFormIsRelayedAsIs) {
    auto [cookie, csrf] = sign_in();
    auto reply = call("POST", "/_/console/api/sns", "Action=ListTopics&Version=2010-03-31",
                      {{"cookie", cookie}, {"x-csrf-token", csrf}});
    EXPECT_EQ(reply.status(), 400);
    EXPECT_EQ(reply.body(), "<ErrorResponse/>");
    EXPECT_EQ(reply.header("Content-Type"), "text/xml");
    EXPECT_EQ(sns_form_, "Action=ListTopics&Version=2010-03-31");
}

TEST_F(ConsoleApiTest, PhotosAndObjectsFromTheStore) {
    StringBody bytes("jpeg-bytes");
    storage::ObjectMetadata metadata;
    metadata.content_type = "image/jpeg";
    auto info = store_->put_object("photos", "uploads/cat.jpg", bytes, metadata, {}, {}, {});
    ASSERT_TRUE(info);
    api_->photo_processing("photos", "uploads/cat.jpg", info->etag);

    auto [cookie, csrf] = sign_in();
    auto photos = call("GET", "/_/console/api/photos?limit=10", "", {{"cookie", cookie}});
    ASSERT_EQ(photos.status(), 200) << photos.body();
    auto list = json::parse(photos.body());
    ASSERT_EQ(list["photos"].size(), 1u);
    EXPECT_EQ(list["photos"][0]["status"], "processing");
    EXPECT_EQ(list["next_cursor"], nullptr);
    EXPECT_EQ(call("GET", "/_/console/api/photos?limit=0", "", {{"cookie", cookie}}).status(),
              400);

    auto object = call("GET", "/_/console/api/object?bucket=photos&key=uploads%2Fcat.jpg&download=1",
                       "", {{"cookie", cookie}});
    ASSERT_EQ(object.status(), 200);
    EXPECT_EQ(object.body(), "jpeg-bytes");
    EXPECT_EQ(object.header("Content-Type"), "image/jpeg");
    EXPECT_EQ(object.header("Cache-Control"), "private, max-age=60");
    EXPECT_EQ(object.header("Content-Disposition"), "attachment; filename*=UTF-8''cat.jpg");
    auto etag = object.header("ETag").value_or("");
    EXPECT_EQ(etag, "\"" + info->etag + "\"");
    auto again = call("GET", "/_/console/api/object?bucket=photos&key=uploads%2Fcat.jpg", "",
                      {{"cookie", cookie}, {"if-none-match", etag}});
    EXPECT_EQ(again.status(), 304);
    EXPECT_EQ(again.body(), "");
    EXPECT_EQ(call("GET", "/_/console/api/object?bucket=photos&key=missing", "",
                   {{"cookie", cookie}})
                  .status(),
              404);
    EXPECT_EQ(call("GET", "/_/console/api/photo?key=uploads%2Fcat.jpg", "", {{"cookie", cookie}})
                  .status(),
              200);
}

TEST_F(ConsoleApiTest, PagesAndAssets) {
    auto page = call("GET", "/_/console/gallery");
    ASSERT_EQ(page.status(), 200);
    EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(page.header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(page.header("Referrer-Policy"), "no-referrer");
    EXPECT_TRUE(page.header("Content-Security-Policy"));
    auto root = call("GET", "/_/console/");
    EXPECT_EQ(root.body(), page.body()) << "every page is the application";
    if (auto etag = root.header("ETag")) {
        EXPECT_EQ(call("GET", "/_/console/", "", {{"if-none-match", *etag}}).status(), 304);
    }
    EXPECT_EQ(call("GET", "/_/console/assets/no-such-file.js").status(), 404);
    EXPECT_EQ(call("POST", "/_/console/").status(), 405);
    auto bare = call("GET", "/_/console");
    EXPECT_EQ(bare.status(), 302);
    EXPECT_EQ(bare.header("Location"), "/_/console/");
}

TEST(ConsoleApiStatic, BrowserRootRequestDetection) {
    EXPECT_TRUE(ConsoleApi::is_browser_root_request(
        make_request("GET", "/", {{"accept", "text/html,application/xhtml+xml"}})));
    EXPECT_FALSE(ConsoleApi::is_browser_root_request(make_request(
        "GET", "/", {{"accept", "text/html"}, {"authorization", "AWS4-HMAC-SHA256 ..."}})));
    EXPECT_FALSE(ConsoleApi::is_browser_root_request(
        make_request("GET", "/?X-Amz-Signature=abc", {{"accept", "text/html"}})));
    EXPECT_FALSE(ConsoleApi::is_browser_root_request(make_request("GET", "/", {})));
    EXPECT_FALSE(ConsoleApi::is_browser_root_request(
        make_request("GET", "/photos", {{"accept", "text/html"}})));
    EXPECT_TRUE(ConsoleApi::is_console_path("/_/console"));
    EXPECT_TRUE(ConsoleApi::is_console_path("/_/console/api/session"));
    EXPECT_FALSE(ConsoleApi::is_console_path("/_/consoles"));
}

TEST_F(ConsoleApiTest, EventStreamCarriesHistoryAndLivePhotoAndMessageEvents) {
    api_->message_published(kTopic, "m-0", "hello", "earlier message", "t0");
    auto [cookie, csrf] = sign_in();

    CaptureResponse stream;
    auto request = make_request("GET", "/_/console/api/events",
                                {{"cookie", cookie}, {"host", "localhost:9000"}});
    StringBody empty;
    std::thread reader([&] { api_->handle(request, empty, stream); });

    ASSERT_TRUE(stream.wait_for("id: m-0\nevent: message\n")) << stream.body();
    EXPECT_EQ(stream.header("Content-Type"), "text/event-stream");

    json processed = {
        {"type", "photo.processed"}, {"bucket", "photos"}, {"key", "uploads/cat.jpg"},
        {"etag", "abc"},
        {"outputs",
         {{{"name", "thumb"}, {"bucket", "photos"}, {"key", "processed/uploads/cat.jpg/thumb.webp"},
           {"contentType", "image/webp"}, {"format", "webp"}, {"width", 320}, {"height", 320},
           {"bytes", 10}}}}};
    api_->message_published(kTopic, "m-1", "photo.processed", processed.dump(), "t1");
    ASSERT_TRUE(stream.wait_for("id: m-1\nevent: message\n")) << stream.body();
    ASSERT_TRUE(stream.wait_for("event: photo\n")) << stream.body();

    // The photo event's data line is the contract's JSON.
    std::string body = stream.body();
    auto at = body.find("event: photo\ndata: ");
    ASSERT_NE(at, std::string::npos);
    auto start = at + std::string("event: photo\ndata: ").size();
    json photo = json::parse(body.substr(start, body.find('\n', start) - start));
    EXPECT_EQ(photo["status"], "done");
    EXPECT_EQ(photo["key"], "uploads/cat.jpg");
    EXPECT_EQ(photo["etag"], "abc");
    EXPECT_EQ(photo["reason"], nullptr);
    EXPECT_EQ(photo["thumbnail_url"],
              "/_/console/api/object?bucket=photos&key=processed%2Fuploads%2Fcat.jpg%2Fthumb.webp");

    api_->close_streams();
    reader.join();
    // A new stream is refused after close_streams().
    CaptureResponse refused;
    StringBody empty2;
    api_->handle(request, empty2, refused);
    EXPECT_EQ(refused.status(), 503);
}

}  // namespace
}  // namespace pf::console
