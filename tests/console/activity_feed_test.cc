#include "console/activity_feed.h"

#include <gtest/gtest.h>

namespace pf::console {
namespace {

const std::string kTopic = "arn:aws:sns:us-east-1:000000000000:photos";

std::string processed_message() {
    nlohmann::json message = {
        {"type", "photo.processed"},
        {"bucket", "photos"},
        {"key", "uploads/a b.jpg"},
        {"etag", "0123456789abcdef0123456789abcdef"},
        {"outputs",
         {{{"name", "preview"}, {"bucket", "photos"}, {"key", "processed/uploads/a b.jpg/preview.jpg"},
           {"contentType", "image/jpeg"}, {"format", "jpeg"}, {"width", 1280}, {"height", 800},
           {"bytes", 1000}},
          {{"name", "thumb"}, {"bucket", "photos"}, {"key", "processed/uploads/a b.jpg/thumb.webp"},
           {"contentType", "image/webp"}, {"format", "webp"}, {"width", 320}, {"height", 320},
           {"bytes", 100}}}},
        {"manifest",
         {{"placeholder", {{"type", "blurhash"}, {"value", "LdKb"}, {"components", {4, 3}}}}}}};
    return message.dump();
}

TEST(ActivityFeed, ProcessedMessageOnTheFunctionTopicMarksThePhotoDone) {
    ActivityFeed feed(kTopic);
    feed.photo_processing("photos", "uploads/a b.jpg", "\"0123456789abcdef0123456789abcdef\"");
    auto processing = feed.photo_state("photos", "uploads/a b.jpg",
                                       "0123456789abcdef0123456789abcdef");
    ASSERT_TRUE(processing);
    EXPECT_EQ(processing->status, "processing");

    feed.message_published(kTopic, "m-1", "photo.processed", processed_message(),
                           "2026-01-01T00:00:00.000Z");
    auto done = feed.photo_state("photos", "uploads/a b.jpg", "0123456789abcdef0123456789abcdef");
    ASSERT_TRUE(done);
    EXPECT_EQ(done->status, "done");
    EXPECT_EQ(done->thumbnail_url,
              "/_/console/api/object?bucket=photos&key=processed%2Fuploads%2Fa%20b.jpg%2Fthumb.webp");
    EXPECT_EQ(done->placeholder["value"], "LdKb");
    ASSERT_EQ(feed.recent_messages().size(), 1u);
    EXPECT_EQ(feed.recent_messages()[0]["message_id"], "m-1");
}

TEST(ActivityFeed, MessagesOnOtherTopicsOnlyGoToTheLog) {
    ActivityFeed feed(kTopic);
    feed.message_published(kTopic + "-other", "m-1", "photo.processed", processed_message(), "t");
    EXPECT_FALSE(feed.photo_state("photos", "uploads/a b.jpg", "0123456789abcdef0123456789abcdef"));
    EXPECT_EQ(feed.recent_messages().size(), 1u);
}

TEST(ActivityFeed, FailedMessageAndDeadLetterCarryTheReason) {
    ActivityFeed feed(kTopic);
    feed.message_published(kTopic, "m-2", "photo.failed",
                           R"({"type":"photo.failed","bucket":"photos","key":"k.jpg",)"
                           R"("etag":"e1","reason":"not an image","errorType":"x"})",
                           "t");
    auto failed = feed.photo_state("photos", "k.jpg", "e1");
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->status, "failed");
    EXPECT_EQ(failed->reason, "not an image");
    feed.photo_failed("photos", "k2.jpg", "e2", "RetriesExhausted");
    EXPECT_EQ(feed.photo_state("photos", "k2.jpg", "e2")->reason, "RetriesExhausted");
    EXPECT_FALSE(feed.photo_state("photos", "k2.jpg", "other-etag")) << "a re-upload starts over";
}

TEST(ActivityFeed, DeadLetterKeepsTheReasonPhotoFailedGave) {
    ActivityFeed feed(kTopic);
    feed.message_published(kTopic, "m-3", "photo.failed",
                           R"({"type":"photo.failed","bucket":"photos","key":"k.jpg",)"
                           R"("etag":"e1","reason":"Not a supported image"})",
                           "t");
    feed.photo_dead_lettered("photos", "k.jpg", "e1", "rejected by the function: Not a supported image");
    EXPECT_EQ(feed.photo_state("photos", "k.jpg", "e1")->reason, "Not a supported image");
    // Without photo.failed before it (retries exhausted), the dead letter's reason is the one.
    feed.photo_processing("photos", "k2.jpg", "e2");
    feed.photo_dead_lettered("photos", "k2.jpg", "e2", "failed 3 times (last: timeout)");
    EXPECT_EQ(feed.photo_state("photos", "k2.jpg", "e2")->status, "failed");
    EXPECT_EQ(feed.photo_state("photos", "k2.jpg", "e2")->reason, "failed 3 times (last: timeout)");
}

TEST(ActivityFeed, LimitsAreKept) {
    FeedLimits limits;
    limits.max_photos = 3;
    limits.max_messages = 4;
    limits.history_on_connect = 2;
    ActivityFeed feed(kTopic, limits);
    for (int i = 0; i < 10; ++i) {
        feed.photo_processing("b", "k" + std::to_string(i), "e");
        feed.message_published("t", "m" + std::to_string(i), "s", "x", "t");
    }
    EXPECT_FALSE(feed.photo_state("b", "k6", "e"));
    EXPECT_TRUE(feed.photo_state("b", "k9", "e"));
    auto messages = feed.recent_messages();
    ASSERT_EQ(messages.size(), 4u);
    EXPECT_EQ(messages.front()["message_id"], "m6");
    auto stream = feed.open();
    ASSERT_TRUE(stream);
    EXPECT_EQ(stream->history.find("id: m7"), std::string::npos);
    EXPECT_NE(stream->history.find("id: m8\nevent: message\n"), std::string::npos);
    EXPECT_NE(stream->history.find("id: m9\nevent: message\n"), std::string::npos);
    feed.release(stream->stream);
}

TEST(ActivityFeed, ShutdownClosesStreamsAndRefusesNewOnes) {
    ActivityFeed feed(kTopic);
    auto stream = feed.open();
    ASSERT_TRUE(stream);
    feed.photo_processing("b", "k", "e");
    feed.shutdown();
    auto chunk = stream->stream->next();
    EXPECT_NE(chunk.bytes.find("event: photo\n"), std::string::npos);
    EXPECT_TRUE(chunk.closed);
    EXPECT_FALSE(feed.open());
}

}  // namespace
}  // namespace pf::console
