#include "imaging/decode.h"

#include "imaging/analysis/icc_profile.h"
#include "imaging/decode_plan.h"
#include "imaging/vips_errors.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

namespace pf::imaging {
namespace {

// The loaders a photo may go through, by libvips nickname prefix. Everything else libvips can
// read (SVG, PDF, ImageMagick, FITS, matrix, CSV, ...) is not a photo and widens the attack
// surface, so it is refused even when libvips would accept it.
struct AllowedLoader {
    std::string_view prefix;
    std::string_view format;
    bool multi_page;      // takes the "n"/"page" options
};
constexpr std::array<AllowedLoader, 7> kAllowed = {{
    {"jpegload", "jpeg", false},
    {"pngload", "png", false},
    {"webpload", "webp", true},
    {"gifload", "gif", true},
    {"tiffload", "tiff", true},
    {"heifload", "heif", true},
    {"jxlload", "jxl", false},
}};

const AllowedLoader* allowed_loader(std::string_view nickname) {
    for (const auto& a : kAllowed) {
        if (nickname.substr(0, a.prefix.size()) == a.prefix) {
            return &a;
        }
    }
    return nullptr;
}

VipsFailOn to_vips(config::FailOn level) {
    switch (level) {
    case config::FailOn::None: return VIPS_FAIL_ON_NONE;
    case config::FailOn::Truncated: return VIPS_FAIL_ON_TRUNCATED;
    case config::FailOn::Error: return VIPS_FAIL_ON_ERROR;
    case config::FailOn::Warning: return VIPS_FAIL_ON_WARNING;
    }
    return VIPS_FAIL_ON_ERROR;
}

std::string blob(const vips::VImage& image, const char* name) {
    if (image.get_typeof(name) == 0) {
        return {};
    }
    size_t length = 0;
    const void* data = image.get_blob(name, &length);
    return std::string(static_cast<const char*>(data), length);
}

// Opens the header (and, later, the pixels) with the given loader options.
vips::VImage load(const PhotoSource& source, vips::VOption* options) {
    if (source.is_file()) {
        return vips::VImage::new_from_file(source.path().c_str(), options);
    }
    const std::string& bytes = *source.bytes();
    return vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "", options);
}

// The nickname ("jpegload", "pngload_buffer", ...) of the loader whose sniffer recognises the
// content, or nullptr.
const char* find_loader(const PhotoSource& source) {
    const char* type_name = nullptr;
    if (source.is_file()) {
        type_name = vips_foreign_find_load(source.path().c_str());
    } else {
        const std::string& bytes = *source.bytes();
        type_name = vips_foreign_find_load_buffer(bytes.data(), bytes.size());
    }
    if (type_name == nullptr) {
        return nullptr;
    }
    return vips_nickname_find(g_type_from_name(type_name));
}

bool swaps_axes(int orientation) { return orientation >= 5 && orientation <= 8; }

bool is_srgb_profile(const std::string& profile) {
    auto description = icc_description(profile);
    return description && description->find("sRGB") != std::string::npos &&
           icc_colour_space(profile).value_or("") == "RGB";
}

}  // namespace

bool looks_like_image(const std::filesystem::path& path) {
    bool recognised = vips_foreign_find_load(path.c_str()) != nullptr;
    vips_error_clear();
    return recognised;
}

Result<OpenedPhoto> open_photo(const PhotoSource& source, const config::ImagingLimits& limits) {
    const std::string& name = source.name();
    std::uint64_t bytes = 0;
    if (source.is_file()) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(source.path(), ec)) {
            return make_error(ErrorCode::NotFound, name + ": no such file");
        }
        bytes = std::filesystem::file_size(source.path(), ec);
        if (ec) {
            return make_error(ErrorCode::NotFound, name + ": " + ec.message());
        }
    } else {
        bytes = source.bytes()->size();
    }
    if (bytes > limits.max_input_bytes) {
        return make_error(ErrorCode::LimitExceeded,
                          name + ": " + std::to_string(bytes) + " bytes is over the limit of " +
                              std::to_string(limits.max_input_bytes),
                          "The photo is larger than " + std::to_string(limits.max_input_bytes) +
                              " bytes");
    }
    if (bytes == 0) {
        return make_error(ErrorCode::CorruptInput, name + ": empty file", "The file is empty");
    }

    const char* nickname = find_loader(source);
    vips_error_clear();  // a failed sniff leaves text behind that would confuse later errors
    const AllowedLoader* allowed = nickname ? allowed_loader(nickname) : nullptr;
    if (allowed == nullptr) {
        std::string detail = nickname ? std::string(" (libvips offers ") + nickname + ")" : "";
        return make_error(ErrorCode::UnsupportedFormat,
                          name + ": not a supported photo format" + detail,
                          "Not a supported image (JPEG, PNG, WebP, GIF, TIFF, HEIC or AVIF)");
    }

    try {
        vips::VImage header = load(source, vips::VImage::option()
                                               ->set("access", VIPS_ACCESS_SEQUENTIAL)
                                               ->set("fail_on", VIPS_FAIL_ON_NONE));
        SourceInfo info;
        info.loader = nickname;
        info.format = std::string(allowed->format);
        if (info.format == "heif" && header.get_typeof("heif-compression") != 0) {
            std::string compression = header.get_string("heif-compression");
            info.format = compression == "av1" ? "avif" : "heic";
        }
        info.bytes = bytes;
        info.frames = header.get_typeof(VIPS_META_N_PAGES) != 0
                          ? std::max(1, header.get_int(VIPS_META_N_PAGES))
                          : 1;
        // Multi-frame loaders report one frame's height when asked for one frame (the default).
        info.stored = {header.width(), header.height()};
        info.orientation = std::clamp(vips_image_get_orientation(header.get_image()), 1, 8);
        info.upright = swaps_axes(info.orientation) ? Size{info.stored.height, info.stored.width}
                                                    : info.stored;
        info.bands = header.bands();
        info.has_alpha = header.has_alpha();
        info.progressive = header.get_typeof("interlaced") != 0 && header.get_int("interlaced");
        info.interpretation =
            vips_enum_nick(VIPS_TYPE_INTERPRETATION, header.interpretation());
        info.icc_profile = blob(header, VIPS_META_ICC_NAME);
        info.exif = blob(header, VIPS_META_EXIF_NAME);

        // Limits, from the header alone: a 50000x50000 claim is refused here, before any
        // decoder allocates a row of it.
        std::uint64_t pixels =
            static_cast<std::uint64_t>(info.stored.width) * static_cast<std::uint64_t>(info.stored.height);
        if (pixels > limits.max_pixels) {
            return make_error(ErrorCode::LimitExceeded,
                              name + ": " + std::to_string(info.stored.width) + "x" +
                                  std::to_string(info.stored.height) + " is " +
                                  std::to_string(pixels) + " pixels, over the limit of " +
                                  std::to_string(limits.max_pixels),
                              "The photo has more than " + std::to_string(limits.max_pixels) +
                                  " pixels");
        }
        if (info.frames > limits.max_frames) {
            return make_error(ErrorCode::LimitExceeded,
                              name + ": " + std::to_string(info.frames) +
                                  " frames, over the limit of " + std::to_string(limits.max_frames),
                              "The photo has too many frames");
        }
        return OpenedPhoto(source, std::move(info));
    } catch (const vips::VError& e) {
        return classify_vips_error(e, name);
    }
}

vips::VImage decode_upright_srgb(const OpenedPhoto& photo, double shrink_allowance,
                                 config::FailOn fail_on) {
    const SourceInfo& info = photo.info();
    vips::VOption* options = vips::VImage::option()
                                 ->set("access", VIPS_ACCESS_SEQUENTIAL)
                                 ->set("fail_on", to_vips(fail_on));
    const AllowedLoader* loader = allowed_loader(info.loader);
    if (loader != nullptr && loader->multi_page) {
        options->set("n", 1);  // first frame only: derivatives are stills
    }
    if (info.format == "jpeg") {
        // libjpeg scales in the DCT domain for 1/2, 1/4, 1/8: the cheapest resize there is.
        int shrink = jpeg_shrink_step(shrink_allowance);
        if (shrink > 1) {
            options->set("shrink", shrink);
        }
    } else if (info.format == "webp" && shrink_allowance > 1.0) {
        options->set("scale", 1.0 / shrink_allowance);
    }
    vips::VImage image = load(photo.source(), options);

    // Upright: rotate/mirror per the EXIF orientation and drop the tag. Rotation needs random
    // access, so the (already shrunk) pixels are brought into memory first.
    if (info.orientation != 1) {
        image = image.copy_memory().autorot();
    }
    if (image.get_typeof(VIPS_META_ORIENTATION) != 0) {
        image = image.copy();
        image.remove(VIPS_META_ORIENTATION);
    }

    // sRGB, 8 bits per channel. An embedded profile is honoured (CMYK, Display P3, Adobe RGB);
    // an sRGB profile needs no transform. A broken profile is ignored rather than fatal.
    VipsInterpretation interpretation = image.interpretation();
    bool has_profile = image.get_typeof(VIPS_META_ICC_NAME) != 0;
    bool converted = false;
    if ((has_profile && !is_srgb_profile(info.icc_profile)) ||
        interpretation == VIPS_INTERPRETATION_CMYK) {
        try {
            image = image.icc_transform("srgb", vips::VImage::option()
                                                    ->set("embedded", true)
                                                    ->set("depth", 8)
                                                    ->set("intent", VIPS_INTENT_RELATIVE));
            converted = true;
        } catch (const vips::VError&) {
            vips_error_clear();
            image = image.copy();
            image.remove(VIPS_META_ICC_NAME);
        }
    }
    if (!converted) {
        interpretation = image.interpretation();
        if (interpretation == VIPS_INTERPRETATION_B_W || interpretation == VIPS_INTERPRETATION_GREY16) {
            if (image.format() != VIPS_FORMAT_UCHAR) {
                image = image.colourspace(VIPS_INTERPRETATION_B_W);
            }
        } else if (interpretation != VIPS_INTERPRETATION_sRGB || image.format() != VIPS_FORMAT_UCHAR) {
            image = image.colourspace(VIPS_INTERPRETATION_sRGB);
        }
    }
    if (image.format() != VIPS_FORMAT_UCHAR) {
        image = image.cast(VIPS_FORMAT_UCHAR);
    }
    return image;
}

}  // namespace pf::imaging
