#include "imaging/recipe.h"

namespace pf::imaging {

const char* to_string(Fit fit) {
    switch (fit) {
    case Fit::Cover: return "cover";
    case Fit::Contain: return "contain";
    case Fit::Fill: return "fill";
    case Fit::Inside: return "inside";
    case Fit::Outside: return "outside";
    }
    return "inside";
}

const char* to_string(Gravity gravity) {
    switch (gravity) {
    case Gravity::Centre: return "centre";
    case Gravity::North: return "north";
    case Gravity::NorthEast: return "northeast";
    case Gravity::East: return "east";
    case Gravity::SouthEast: return "southeast";
    case Gravity::South: return "south";
    case Gravity::SouthWest: return "southwest";
    case Gravity::West: return "west";
    case Gravity::NorthWest: return "northwest";
    case Gravity::Attention: return "attention";
    case Gravity::Entropy: return "entropy";
    }
    return "centre";
}

const char* to_string(Format format) {
    switch (format) {
    case Format::Jpeg: return "jpeg";
    case Format::Png: return "png";
    case Format::Webp: return "webp";
    case Format::Avif: return "avif";
    case Format::Gif: return "gif";
    case Format::Jxl: return "jxl";
    }
    return "jpeg";
}

const char* to_string(MetadataPolicy policy) {
    switch (policy) {
    case MetadataPolicy::Strip: return "strip";
    case MetadataPolicy::KeepIcc: return "icc";
    case MetadataPolicy::KeepCopyright: return "copyright";
    case MetadataPolicy::KeepAll: return "all";
    }
    return "strip";
}

const char* file_extension(Format format) {
    switch (format) {
    case Format::Jpeg: return "jpg";
    default: return to_string(format);
    }
}

const char* content_type(Format format) {
    switch (format) {
    case Format::Jpeg: return "image/jpeg";
    case Format::Png: return "image/png";
    case Format::Webp: return "image/webp";
    case Format::Avif: return "image/avif";
    case Format::Gif: return "image/gif";
    case Format::Jxl: return "image/jxl";
    }
    return "application/octet-stream";
}

bool supports_alpha(Format format) { return format != Format::Jpeg; }

}  // namespace pf::imaging
