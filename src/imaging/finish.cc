#include "imaging/output_steps.h"

#include "imaging/analysis/exif_reader.h"

#include <glib.h>

#include <cstring>
#include <string_view>
#include <vector>

namespace pf::imaging {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

std::vector<std::string> field_names(const vips::VImage& image) {
    std::vector<std::string> names;
    gchar** fields = vips_image_get_fields(image.get_image());
    for (gchar** f = fields; f && *f; ++f) {
        names.emplace_back(*f);
    }
    g_strfreev(fields);
    return names;
}

// The original's EXIF thumbnail is never carried over: it would show what a crop removed.
bool is_thumbnail(std::string_view name) { return name == "jpeg-thumbnail-data"; }

bool is_metadata_block(std::string_view name) {
    return is_thumbnail(name) || name == VIPS_META_EXIF_NAME || name == VIPS_META_XMP_NAME ||
           name == VIPS_META_IPTC_NAME || name == VIPS_META_PHOTOSHOP_NAME ||
           starts_with(name, "exif-") || starts_with(name, "heif-") || name == "png-comment-0-";
}

bool is_copyright_field(std::string_view name) {
    return name == "exif-ifd0-Copyright" || name == "exif-ifd0-Artist";
}

// libvips keeps GPS tags in EXIF IFD 3 (exif-ifd3-GPS*); on save it rebuilds the EXIF block
// from these fields and drops tags whose field was removed.
bool is_gps_field(std::string_view name) { return starts_with(name, "exif-ifd3-"); }

bool xmp_mentions_location(const vips::VImage& image) {
    if (image.get_typeof(VIPS_META_XMP_NAME) == 0) {
        return false;
    }
    size_t length = 0;
    const char* data = static_cast<const char*>(image.get_blob(VIPS_META_XMP_NAME, &length));
    std::string_view xmp(data, length);
    return xmp.find("GPS") != std::string_view::npos ||
           xmp.find("Location") != std::string_view::npos;
}

// libvips rebuilds EXIF from its text fields on save, taking a field's value as everything
// before its last " (". libexif renders Copyright as "X (Photographer) - [None] (Editor)", which
// would be written back mangled, so the credits are restated from the raw EXIF in a form that
// round-trips: "value ()".
void restate_credits(vips::VImage& image) {
    if (image.get_typeof(VIPS_META_EXIF_NAME) == 0) {
        return;
    }
    size_t length = 0;
    const char* data = static_cast<const char*>(image.get_blob(VIPS_META_EXIF_NAME, &length));
    auto exif = read_exif(std::string_view(data, length));
    auto restate = [&](const char* field, const std::optional<std::string>& value) {
        if (image.get_typeof(field) != 0) {
            image.remove(field);
        }
        if (value && !value->empty()) {
            image.set(field, (*value + " ()").c_str());
        }
    };
    restate("exif-ifd0-Copyright", exif ? exif->copyright : std::nullopt);
    restate("exif-ifd0-Artist", exif ? exif->artist : std::nullopt);
}

}  // namespace

vips::VImage apply_background(vips::VImage image, const OutputContext& ctx) {
    const Output& o = ctx.output;
    if (!image.has_alpha() || (!o.background && supports_alpha(o.encoding.format))) {
        return image;
    }
    Colour c = o.background.value_or(Colour{255, 255, 255});
    std::vector<double> pixel = image.bands() <= 2
                                    ? std::vector<double>{0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b}
                                    : std::vector<double>{double(c.r), double(c.g), double(c.b)};
    return image.flatten(vips::VImage::option()->set("background", pixel));
}

vips::VImage apply_metadata_policy(vips::VImage image, const OutputContext& ctx) {
    const Output& o = ctx.output;
    // A private copy of the header: the shared decoded image must keep its metadata for the
    // other outputs.
    image = image.copy();
    if (o.metadata == MetadataPolicy::KeepCopyright) {
        restate_credits(image);  // reads the EXIF block, so before the loop below drops it
    }
    // Fields are removed here even for Strip, where the encoder is also asked to strip:
    // libvips 8.14's WebP encoder ignores `strip` and would write EXIF (GPS included).
    for (const std::string& name : field_names(image)) {
        bool drop = false;
        switch (o.metadata) {
        case MetadataPolicy::Strip: drop = is_metadata_block(name) || name == VIPS_META_ICC_NAME; break;
        case MetadataPolicy::KeepIcc: drop = is_metadata_block(name); break;
        case MetadataPolicy::KeepCopyright:
            drop = is_metadata_block(name) && !is_copyright_field(name);
            break;
        case MetadataPolicy::KeepAll:
            drop = is_thumbnail(name) || (!o.keep_gps && is_gps_field(name));
            break;
        }
        if (drop) {
            image.remove(name.c_str());
        }
    }
    if (o.metadata == MetadataPolicy::KeepAll && !o.keep_gps && xmp_mentions_location(image)) {
        image.remove(VIPS_META_XMP_NAME);  // XMP can repeat the location (exif:GPSLatitude)
    }
    return image;
}

}  // namespace pf::imaging
