#include "imaging/output_steps.h"

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

bool is_metadata_block(std::string_view name) {
    return name == VIPS_META_EXIF_NAME || name == VIPS_META_XMP_NAME ||
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
        case MetadataPolicy::KeepAll: drop = !o.keep_gps && is_gps_field(name); break;
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
