// Photo states derived against a real DiskStore: a manifest made from this very upload means
// done, a manifest of an earlier upload does not, the activity feed fills in the rest.
#include "console/photo_catalog.h"

#include "console/fake_http.h"
#include "storage/disk_store.h"
#include "support/temp_dir.h"

#include <gtest/gtest.h>

#include <thread>

namespace pf::console {
namespace {

using nlohmann::json;

class PhotoCatalogTest : public ::testing::Test {
protected:
    void SetUp() override {
        storage::DiskStoreOptions options;
        options.root = dir_.path() / "store";
        options.min_free_bytes = 0;
        auto opened = storage::DiskStore::open(options);
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(*opened);
        ASSERT_TRUE(store_->create_bucket("photos", "us-east-1"));
        layout_ = {"photos", "uploads/", "", "processed/", "arn:topic", "process-photo"};
    }

    storage::ObjectInfo put(const std::string& key, const std::string& bytes,
                            const std::string& content_type = "image/jpeg") {
        testing::StringBody body(bytes);
        storage::ObjectMetadata metadata;
        metadata.content_type = content_type;
        auto info = store_->put_object("photos", key, body, metadata, {}, {}, {});
        EXPECT_TRUE(info) << info.error().message;
        return info ? *info : storage::ObjectInfo{};
    }

    void put_manifest(const std::string& photo_key, const std::string& source_etag) {
        const std::string folder = "processed/" + photo_key + "/";
        json manifest = {
            {"source", {{"bucket", "photos"}, {"key", photo_key}, {"etag", source_etag}}},
            {"recipeHash", "r1"},
            {"placeholder", {{"type", "blurhash"}, {"value", "LdKb"}, {"components", {4, 3}}}},
            {"outputs",
             {{{"name", "preview"}, {"file", "preview.jpg"}, {"content_type", "image/jpeg"},
               {"format", "jpeg"}, {"width", 1280}, {"height", 800}, {"bytes", 5000},
               {"bucket", "photos"}, {"key", folder + "preview.jpg"}},
              {{"name", "thumb"}, {"file", "thumb.webp"}, {"content_type", "image/webp"},
               {"format", "webp"}, {"width", 320}, {"height", 320}, {"bytes", 900},
               {"bucket", "photos"}, {"key", folder + "thumb.webp"}}}}};
        put(folder + "manifest.json", manifest.dump(), "application/json");
        put(folder + "thumb.webp", "thumb-bytes", "image/webp");
    }

    static const json* find(const json& photos, const std::string& key) {
        for (const auto& photo : photos) {
            if (photo["key"] == key) {
                return &photo;
            }
        }
        return nullptr;
    }

    test::TempDir dir_{"pf-console"};
    std::unique_ptr<storage::DiskStore> store_;
    PhotoLayout layout_;
};

TEST_F(PhotoCatalogTest, StatusComesFromManifestThenFeed) {
    auto done = put("uploads/done.jpg", "photo one");
    put_manifest("uploads/done.jpg", done.etag);
    auto stale = put("uploads/stale.jpg", "photo two, re-uploaded");
    put_manifest("uploads/stale.jpg", "00000000000000000000000000000000");
    auto busy = put("uploads/busy.jpg", "photo three");
    auto broken = put("uploads/broken.jpg", "not really a photo");
    put("uploads/new.jpg", "photo five");

    ActivityFeed feed("arn:topic");
    feed.photo_processing("photos", "uploads/busy.jpg", busy.etag);
    feed.photo_failed("photos", "uploads/broken.jpg", broken.etag, "unsupported format");
    feed.photo_processing("photos", "uploads/new.jpg", "some-older-etag");
    PhotoCatalog catalog(*store_, layout_, feed);

    auto page = catalog.list("photos", "", "", 60);
    ASSERT_TRUE(page) << page.error().message;
    ASSERT_EQ(page->photos.size(), 5u) << page->photos.dump(2) << " (derivatives are not photos)";
    EXPECT_FALSE(page->next_cursor);

    const json* p = find(page->photos, "uploads/done.jpg");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ((*p)["status"], "done");
    EXPECT_EQ((*p)["etag"], done.etag);
    EXPECT_EQ((*p)["bytes"], 9);
    EXPECT_EQ((*p)["manifest_key"], "processed/uploads/done.jpg/manifest.json");
    EXPECT_EQ((*p)["thumbnail_url"],
              "/_/console/api/object?bucket=photos&key=processed%2Fuploads%2Fdone.jpg%2Fthumb.webp");
    EXPECT_EQ((*p)["placeholder"]["value"], "LdKb");

    EXPECT_EQ((*find(page->photos, "uploads/stale.jpg"))["status"], "uploaded")
        << "a manifest of an earlier upload is not this photo's";
    EXPECT_EQ((*find(page->photos, "uploads/stale.jpg"))["thumbnail_url"], nullptr);
    EXPECT_EQ((*find(page->photos, "uploads/busy.jpg"))["status"], "processing");
    EXPECT_EQ((*find(page->photos, "uploads/broken.jpg"))["status"], "failed");
    EXPECT_EQ((*find(page->photos, "uploads/broken.jpg"))["reason"], "unsupported format");
    EXPECT_EQ((*find(page->photos, "uploads/new.jpg"))["status"], "uploaded");
}

TEST_F(PhotoCatalogTest, NewestFirstWithStableCursor) {
    put("uploads/a.jpg", "a");
    put("uploads/b.jpg", "b");
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // times are whole seconds
    put("uploads/c.jpg", "c");
    ActivityFeed feed("");
    PhotoCatalog catalog(*store_, layout_, feed);

    auto first = catalog.list("photos", "", "", 2);
    ASSERT_TRUE(first);
    ASSERT_EQ(first->photos.size(), 2u);
    EXPECT_EQ(first->photos[0]["key"], "uploads/c.jpg");
    EXPECT_EQ(first->photos[1]["key"], "uploads/a.jpg");  // same second: key order
    ASSERT_TRUE(first->next_cursor);

    put("uploads/d.jpg", "d");  // a new upload does not shift the next page
    auto second = catalog.list("photos", "", *first->next_cursor, 2);
    ASSERT_TRUE(second);
    ASSERT_EQ(second->photos.size(), 1u);
    EXPECT_EQ(second->photos[0]["key"], "uploads/b.jpg");
    EXPECT_FALSE(second->next_cursor);

    EXPECT_EQ(catalog.list("photos", "", "zz-not-hex", 2).error().code,
              ErrorCode::InvalidArgument);
    EXPECT_EQ(catalog.list("photos", "", "", 0).error().code, ErrorCode::InvalidArgument);
    EXPECT_EQ(catalog.list("photos", "", "", 201).error().code, ErrorCode::InvalidArgument);
    EXPECT_EQ(catalog.list("nobucket", "", "", 5).error().code, ErrorCode::NotFound);
}

TEST_F(PhotoCatalogTest, DetailListsDerivativesAndOriginal) {
    auto done = put("uploads/done.jpg", "photo one");
    put_manifest("uploads/done.jpg", done.etag);
    ActivityFeed feed("");
    PhotoCatalog catalog(*store_, layout_, feed);
    auto detail = catalog.detail("photos", "uploads/done.jpg");
    ASSERT_TRUE(detail) << detail.error().message;
    EXPECT_EQ((*detail)["photo"]["status"], "done");
    EXPECT_EQ((*detail)["manifest"]["recipeHash"], "r1");
    ASSERT_EQ((*detail)["derivatives"].size(), 2u);
    EXPECT_EQ((*detail)["derivatives"][1]["name"], "thumb");
    EXPECT_EQ((*detail)["derivatives"][1]["width"], 320);
    EXPECT_EQ((*detail)["original"]["bytes"], 9);
    EXPECT_EQ((*detail)["original"]["content_type"], "image/jpeg");
    EXPECT_EQ(catalog.detail("photos", "uploads/none.jpg").error().code, ErrorCode::NotFound);
}

}  // namespace
}  // namespace pf::console
