#include "function/photo_messages.h"
#include "imaging/recipe_parser.h"

#include <gtest/gtest.h>

namespace pf::function {
namespace {

using nlohmann::json;

imaging::ProcessResult sample_result(bool with_gps) {
    imaging::ProcessResult result;
    imaging::Manifest& m = result.manifest;
    m.source = {"photos/cat.jpg", "jpeg", 2560, 1600, 543137, 1, false, false, 1, "srgb", {}};
    if (with_gps) {
        imaging::ExifSummary exif;
        exif.make = "Canon";
        exif.gps = imaging::GpsPosition{56.1559, 10.2082, std::nullopt};
        m.exif = exif;
    }
    m.dominant_colour = "#804020";
    m.outputs.push_back({"thumb", "thumb.webp", imaging::Format::Webp, 320, 320, 9000, 12.5});
    m.outputs.push_back({"preview", "preview.jpg", imaging::Format::Jpeg, 1280, 800, 150000, 40});
    for (const auto& o : m.outputs) {
        result.derivatives.push_back({o.name, o.file, o.format, o.width, o.height, "bytes", 1});
    }
    return result;
}

const PhotoRef kPhoto{"photos", "uploads/red flower+1.jpg", "5eb63bbbe01eeed093cb22bb8f5acdc3"};

TEST(PhotoMessages, DerivativeFolder) {
    EXPECT_EQ(derivative_folder("processed/", "uploads/a b.jpg"), "processed/uploads/a b.jpg/");
    EXPECT_EQ(derivative_folder("", "a.jpg"), "a.jpg/");
}

TEST(PhotoMessages, OutputKeysMustFitS3sLimit) {
    const auto& recipe = imaging::default_recipe();
    EXPECT_TRUE(check_output_keys(derivative_folder("processed/", std::string(900, 'k')), recipe));
    auto too_long =
        check_output_keys(derivative_folder("processed/", std::string(1010, 'k')), recipe);
    ASSERT_FALSE(too_long);
    EXPECT_EQ(too_long.error().code, ErrorCode::InvalidArgument);
    EXPECT_TRUE(is_permanent_photo_error(too_long.error()));
    // "manifest.json" (13 bytes) is the longest file of the default recipe's outputs.
    const std::string folder(kMaxS3KeyBytes - 13, 'k');
    EXPECT_TRUE(check_output_keys(folder, recipe));
    EXPECT_FALSE(check_output_keys(folder + "k", recipe));
}

TEST(PhotoMessages, StoredManifestAddsSourceRecipeAndLocations) {
    json m = stored_manifest(sample_result(false), kPhoto, "thumbs", "processed/uploads/x/",
                             "0123456789abcdef");
    EXPECT_EQ(m["manifest_version"], 1);
    EXPECT_EQ(m["source"]["bucket"], "photos");
    EXPECT_EQ(m["source"]["key"], "uploads/red flower+1.jpg");
    EXPECT_EQ(m["source"]["etag"], kPhoto.etag);
    EXPECT_EQ(m["source"]["width"], 2560);  // the engine's report is kept
    EXPECT_EQ(m["recipeHash"], "0123456789abcdef");
    ASSERT_EQ(m["outputs"].size(), 2u);
    EXPECT_EQ(m["outputs"][0]["bucket"], "thumbs");
    EXPECT_EQ(m["outputs"][0]["key"], "processed/uploads/x/thumb.webp");
    EXPECT_EQ(m["outputs"][1]["key"], "processed/uploads/x/preview.jpg");
    EXPECT_EQ(m["outputs"][1]["content_type"], "image/jpeg");
}

TEST(PhotoMessages, ProcessedMessageCarriesWhatSubscribersNeed) {
    json m =
        stored_manifest(sample_result(false), kPhoto, "thumbs", "processed/k/", "0123456789abcdef");
    auto text = processed_message(m, "processed/k/manifest.json");
    ASSERT_TRUE(text) << text.error().message;
    json msg = json::parse(*text);
    EXPECT_EQ(msg["type"], "photo.processed");
    EXPECT_EQ(msg["bucket"], "photos");
    EXPECT_EQ(msg["key"], kPhoto.key);
    EXPECT_EQ(msg["etag"], kPhoto.etag);
    EXPECT_EQ(msg["recipeHash"], "0123456789abcdef");
    EXPECT_EQ(msg["manifestKey"], "processed/k/manifest.json");
    ASSERT_EQ(msg["outputs"].size(), 2u);
    const json& thumb = msg["outputs"][0];
    EXPECT_EQ(thumb["name"], "thumb");
    EXPECT_EQ(thumb["bucket"], "thumbs");
    EXPECT_EQ(thumb["key"], "processed/k/thumb.webp");
    EXPECT_EQ(thumb["contentType"], "image/webp");
    EXPECT_EQ(thumb["format"], "webp");
    EXPECT_EQ(thumb["width"], 320);
    EXPECT_EQ(thumb["height"], 320);
    EXPECT_EQ(thumb["bytes"], 9000);
    EXPECT_EQ(msg["manifest"]["dominant_colour"], "#804020");
}

// The duplicate path rebuilds the message from the manifest read back from S3: it must be the
// very message the first run published.
TEST(PhotoMessages, MessageFromTheStoredTextEqualsTheOriginal) {
    json m =
        stored_manifest(sample_result(true), kPhoto, "photos", "processed/k/", "0123456789abcdef");
    auto first = processed_message(m, "processed/k/manifest.json");
    auto again = processed_message(json::parse(m.dump(2) + "\n"), "processed/k/manifest.json");
    ASSERT_TRUE(first && again);
    EXPECT_EQ(*first, *again);
}

TEST(PhotoMessages, GpsStaysOutOfTheMessage) {
    json m = stored_manifest(sample_result(true), kPhoto, "photos", "processed/k/", "h");
    ASSERT_TRUE(m["exif"].contains("gps"));  // the stored manifest keeps it, with the photo
    auto text = processed_message(m, "processed/k/manifest.json");
    ASSERT_TRUE(text);
    json msg = json::parse(*text);
    EXPECT_EQ(msg["manifest"]["exif"]["make"], "Canon");
    EXPECT_FALSE(msg["manifest"]["exif"].contains("gps"));
    EXPECT_EQ(text->find("56.1559"), std::string::npos);
}

TEST(PhotoMessages, ManifestIsDroppedWhenTheMessageWouldBeTooLarge) {
    json m = stored_manifest(sample_result(false), kPhoto, "photos", "processed/k/", "h");
    m["engine"]["padding"] = std::string(kMaxSnsMessageBytes, 'x');
    auto text = processed_message(m, "processed/k/manifest.json");
    ASSERT_TRUE(text) << text.error().message;
    EXPECT_LT(text->size(), kMaxSnsMessageBytes);
    json msg = json::parse(*text);
    EXPECT_FALSE(msg.contains("manifest"));
    EXPECT_EQ(msg["outputs"].size(), 2u);
}

TEST(PhotoMessages, UnusableManifestsAreRefused) {
    json good = stored_manifest(sample_result(false), kPhoto, "photos", "processed/k/", "h");
    EXPECT_TRUE(processed_message(good, "k"));
    EXPECT_FALSE(processed_message(json(), "k"));
    EXPECT_FALSE(processed_message(json::array(), "k"));
    json no_hash = good;
    no_hash.erase("recipeHash");
    EXPECT_FALSE(processed_message(no_hash, "k"));
    json no_etag = good;
    no_etag["source"].erase("etag");
    EXPECT_FALSE(processed_message(no_etag, "k"));
    json bad_output = good;
    bad_output["outputs"][1]["width"] = "wide";
    EXPECT_FALSE(processed_message(bad_output, "k"));
    json negative = good;
    negative["outputs"][0]["bytes"] = -1;
    EXPECT_FALSE(processed_message(negative, "k"));
    json outputs_object = good;
    outputs_object["outputs"] = json::object();
    EXPECT_FALSE(processed_message(outputs_object, "k"));
}

TEST(PhotoMessages, FailedAndDeletedMessages) {
    json failed =
        json::parse(failed_message(kPhoto, "Broken or unsupported image", "CorruptInput"));
    EXPECT_EQ(failed, (json{{"type", "photo.failed"},
                            {"bucket", "photos"},
                            {"key", kPhoto.key},
                            {"etag", kPhoto.etag},
                            {"reason", "Broken or unsupported image"},
                            {"errorType", "CorruptInput"}}));
    json deleted = json::parse(deleted_message("photos", "a \"quoted\" key"));
    EXPECT_EQ(deleted,
              (json{{"type", "photo.deleted"}, {"bucket", "photos"}, {"key", "a \"quoted\" key"}}));
}

TEST(PhotoMessages, ImagingErrorsOfThePhotoAreFinal) {
    for (ErrorCode code :
         {ErrorCode::UnsupportedFormat, ErrorCode::CorruptInput, ErrorCode::TooLarge,
          ErrorCode::LimitExceeded, ErrorCode::InvalidArgument}) {
        EXPECT_TRUE(is_permanent_photo_error(make_error(code, "x"))) << to_string(code);
    }
    for (ErrorCode code : {ErrorCode::Timeout, ErrorCode::Internal, ErrorCode::Unavailable,
                           ErrorCode::NotFound, ErrorCode::Forbidden}) {
        EXPECT_FALSE(is_permanent_photo_error(make_error(code, "x"))) << to_string(code);
    }
}

TEST(PhotoMessages, FetchErrors) {
    EXPECT_EQ(classify_fetch_error(make_error(ErrorCode::PreconditionFailed, "412")),
              FetchFailure::Superseded);
    EXPECT_EQ(classify_fetch_error(make_error(ErrorCode::NotFound, "NoSuchKey")),
              FetchFailure::Deleted);
    EXPECT_EQ(classify_fetch_error(make_error(ErrorCode::Forbidden, "AccessDenied")),
              FetchFailure::Rejected);
    for (ErrorCode code : {ErrorCode::Unavailable, ErrorCode::Timeout, ErrorCode::Internal,
                           ErrorCode::InvalidArgument}) {
        EXPECT_EQ(classify_fetch_error(make_error(code, "x")), FetchFailure::Retry)
            << to_string(code);
    }
}

}  // namespace
}  // namespace pf::function
