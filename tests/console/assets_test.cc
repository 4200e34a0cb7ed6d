#include "console/assets.h"

#include "console/fake_http.h"

#include <gtest/gtest.h>

namespace pf::console {
namespace {

using testing::CaptureResponse;
using testing::make_request;

const EmbeddedAsset kAssets[] = {
    {"index.html", "\"abc123\"", "<!doctype html><title>x</title>"},
    {"assets/app.js", "\"def456\"", "export const x = 1;\n"},
};

TEST(Assets, LookupIsExact) {
    ASSERT_NE(find_asset(kAssets, "assets/app.js"), nullptr);
    EXPECT_EQ(find_asset(kAssets, "assets/app.js")->etag, "\"def456\"");
    EXPECT_EQ(find_asset(kAssets, "assets/app"), nullptr);
    EXPECT_EQ(find_asset(kAssets, "/index.html"), nullptr);
}

TEST(Assets, ContentTypeByExtension) {
    EXPECT_EQ(content_type_for("index.html"), "text/html; charset=utf-8");
    EXPECT_EQ(content_type_for("assets/pages/gallery.js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(content_type_for("assets/app.css"), "text/css; charset=utf-8");
    EXPECT_EQ(content_type_for("assets/icon.svg"), "image/svg+xml");
    EXPECT_EQ(content_type_for("assets/x.woff2"), "font/woff2");
    EXPECT_EQ(content_type_for("assets/x.json"), "application/json");
    EXPECT_EQ(content_type_for("assets.d/noextension"), "application/octet-stream");
}

TEST(Assets, ServesBytesWithEtagAndSecurityHeaders) {
    CaptureResponse response;
    serve_asset(make_request("GET", "/_/console/assets/app.js"), kAssets[1], response);
    EXPECT_EQ(response.status(), 200);
    EXPECT_EQ(response.body(), "export const x = 1;\n");
    EXPECT_EQ(response.header("ETag"), "\"def456\"");
    EXPECT_EQ(response.header("Cache-Control"), "no-cache");
    EXPECT_EQ(response.header("Content-Type"), "text/javascript; charset=utf-8");
    EXPECT_EQ(response.header("X-Content-Type-Options"), "nosniff");
    auto csp = response.header("Content-Security-Policy");
    ASSERT_TRUE(csp);
    EXPECT_NE(csp->find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_NE(csp->find("script-src 'self'"), std::string::npos);
}

TEST(Assets, CurrentCopyGets304) {
    CaptureResponse response;
    serve_asset(make_request("GET", "/_/console/", {{"if-none-match", "\"old\", \"abc123\""}}),
                kAssets[0], response);
    EXPECT_EQ(response.status(), 304);
    EXPECT_EQ(response.body(), "");
    CaptureResponse stale;
    serve_asset(make_request("GET", "/_/console/", {{"if-none-match", "\"old\""}}), kAssets[0],
                stale);
    EXPECT_EQ(stale.status(), 200);
}

TEST(Assets, EtagMatching) {
    EXPECT_TRUE(etag_matches("\"a\"", "\"a\""));
    EXPECT_TRUE(etag_matches("W/\"a\"", "\"a\""));
    EXPECT_TRUE(etag_matches("*", "\"a\""));
    EXPECT_TRUE(etag_matches(" \"b\" ,\"a\"", "\"a\""));
    EXPECT_FALSE(etag_matches("\"ab\"", "\"a\""));
    EXPECT_FALSE(etag_matches("", "\"a\""));
}

TEST(Assets, EmbeddedTableHasIndexWhenWebHasOne) {
    // The build embeds web/; every entry has a quoted 32-hex ETag.
    for (const auto& asset : embedded_assets()) {
        EXPECT_EQ(asset.etag.size(), 34u) << asset.path;
        EXPECT_FALSE(asset.path.starts_with("/")) << asset.path;
    }
}

}  // namespace
}  // namespace pf::console
