// Metadata policies: GPS never leaves in a derivative unless kept on purpose; strip leaves
// nothing; icc keeps the (sRGB) profile; copyright keeps only the credit lines.
#include "imaging/analysis/exif_reader.h"
#include "support/engine.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace pf::imaging {
namespace {

std::optional<ExifSummary> exif_of(const vips::VImage& image) {
    if (image.get_typeof(VIPS_META_EXIF_NAME) == 0) {
        return std::nullopt;
    }
    size_t length = 0;
    const void* data = image.get_blob(VIPS_META_EXIF_NAME, &length);
    return read_exif(std::string_view(static_cast<const char*>(data), length));
}

bool mentions_gps(const vips::VImage& image) {
    gchar** fields = vips_image_get_fields(image.get_image());
    bool found = false;
    for (gchar** f = fields; *f; ++f) {
        found = found || std::string(*f).rfind("exif-ifd3-GPSL", 0) == 0;
    }
    g_strfreev(fields);
    if (image.get_typeof(VIPS_META_XMP_NAME) != 0) {
        size_t length = 0;
        const char* xmp = static_cast<const char*>(image.get_blob(VIPS_META_XMP_NAME, &length));
        found = found || std::string_view(xmp, length).find("GPSLatitude") != std::string_view::npos;
    }
    return found;
}

const char* kAllPolicies = R"(
outputs:
  - { name: strip, resize: { width: 300 }, format: jpeg }
  - { name: icc, resize: { width: 300 }, format: jpeg, metadata: icc }
  - { name: copyright, resize: { width: 300 }, format: jpeg, metadata: copyright }
  - { name: all, resize: { width: 300 }, format: jpeg, metadata: all }
  - { name: all_webp, resize: { width: 300 }, format: webp, metadata: all }
  - { name: strip_webp, resize: { width: 300 }, format: webp }
  - { name: strip_png, resize: { width: 300 }, format: png }
  - { name: strip_avif, resize: { width: 300 }, format: avif }
  - { name: gps, resize: { width: 300 }, format: jpeg, metadata: all, keep_gps: true }
)";

TEST(Metadata, GpsIsRemovedFromEveryDerivativeUnlessKept) {
    for (const char* file : {"photos/progressive.jpg", "photos/alpha.png"}) {
        auto r = testing::process(testing::data_path(file), kAllPolicies);
        ASSERT_TRUE(r.has_value()) << r.error().message;
        ASSERT_TRUE(r->manifest.exif && r->manifest.exif->gps) << file << " should have GPS";
        for (const auto& d : r->derivatives) {
            vips::VImage out = testing::decode(*r, d.name);
            auto exif = exif_of(out);
            bool has_gps = (exif && exif->gps) || mentions_gps(out);
            EXPECT_EQ(has_gps, d.name == "gps") << file << " -> " << d.file;
        }
    }
}

TEST(Metadata, KeptGpsIsTheSourceLocation) {
    auto r = testing::process(testing::data_path("photos/progressive.jpg"), kAllPolicies);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    auto exif = exif_of(testing::decode(*r, "gps"));
    ASSERT_TRUE(exif && exif->gps);
    EXPECT_NEAR(exif->gps->latitude, 56.156, 0.001);
    EXPECT_NEAR(exif->gps->longitude, 10.208, 0.001);
}

TEST(Metadata, StripLeavesNothingInAnyFormat) {
    auto r = testing::process(testing::data_path("photos/progressive.jpg"), kAllPolicies);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    for (const char* name : {"strip", "strip_webp", "strip_png", "strip_avif"}) {
        vips::VImage out = testing::decode(*r, name);
        EXPECT_EQ(out.get_typeof(VIPS_META_EXIF_NAME), 0u) << name;
        EXPECT_EQ(out.get_typeof(VIPS_META_XMP_NAME), 0u) << name;
        EXPECT_EQ(out.get_typeof(VIPS_META_ICC_NAME), 0u) << name;
    }
    // And strip makes the files smaller than keeping everything.
    std::size_t strip = 0, all = 0;
    for (const auto& d : r->derivatives) {
        strip += d.name == "strip_webp" ? d.bytes.size() : 0;
        all += d.name == "all_webp" ? d.bytes.size() : 0;
    }
    EXPECT_LT(strip + 2000, all);
}

TEST(Metadata, IccPolicyKeepsOnlyTheProfile) {
    auto r = testing::process(testing::data_path("photos/progressive.jpg"), kAllPolicies);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    vips::VImage icc = testing::decode(*r, "icc");
    EXPECT_NE(icc.get_typeof(VIPS_META_ICC_NAME), 0u);
    auto exif = exif_of(icc);
    EXPECT_TRUE(!exif || (!exif->make && !exif->model && !exif->date_taken));
    vips::VImage all = testing::decode(*r, "all");
    auto all_exif = exif_of(all);
    ASSERT_TRUE(all_exif);
    EXPECT_EQ(all_exif->model.value_or(""), "NEX-3N");
}

TEST(Metadata, CopyrightPolicyKeepsTheCreditAndDropsTheCamera) {
    // A copy of a camera photo with credits written by exiftool, an independent tool.
    auto dir = std::filesystem::temp_directory_path() / ("pf-meta-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto photo = dir / "credited.jpg";
    std::filesystem::copy_file(testing::data_path("photos/camera.jpg"), photo,
                               std::filesystem::copy_options::overwrite_existing);
    std::string cmd = "exiftool -q -overwrite_original -Copyright='(c) Ada Lovelace' "
                      "-Artist='Ada' " + photo.string();
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "exiftool is installed by scripts/setup.sh";

    auto r = testing::process(photo.string(), kAllPolicies);
    std::filesystem::remove_all(dir);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->manifest.exif->copyright.value_or(""), "(c) Ada Lovelace");
    auto kept = exif_of(testing::decode(*r, "copyright"));
    ASSERT_TRUE(kept) << "the copyright policy must write an EXIF block";
    EXPECT_EQ(kept->copyright.value_or(""), "(c) Ada Lovelace");
    EXPECT_EQ(kept->artist.value_or(""), "Ada");
    EXPECT_FALSE(kept->model) << "camera details are not credits";
    EXPECT_FALSE(kept->exposure_time_s);
}

}  // namespace
}  // namespace pf::imaging
