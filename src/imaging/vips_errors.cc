#include "imaging/vips_errors.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

namespace pf::imaging {
namespace {

bool contains(const std::string& haystack, std::string_view needle) {
    auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                          [](char a, char b) { return std::tolower(a) == std::tolower(b); });
    return it != haystack.end();
}

}  // namespace

Error classify_vips_error(const vips::VError& e, const std::string& what) {
    // libvips appends one line per problem, often the same warning several times: keep each
    // distinct line once, joined on one line so a report stays one line per photo.
    std::string text;
    {
        std::string all = e.what();
        std::vector<std::string> seen;
        std::size_t start = 0;
        while (start < all.size()) {
            std::size_t end = all.find('\n', start);
            std::string line = all.substr(start, end == std::string::npos ? end : end - start);
            start = end == std::string::npos ? all.size() : end + 1;
            while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) {
                line.pop_back();
            }
            if (!line.empty() && std::find(seen.begin(), seen.end(), line) == seen.end()) {
                seen.push_back(line);
                text += (text.empty() ? "" : "; ") + line;
            }
        }
    }
    if (text.empty()) {
        // Some decoders (libspng on a short or garbled file) fail with only a warning logged:
        // the one thing being decoded is the input, so the input is what is broken.
        return make_error(ErrorCode::CorruptInput, what + ": the decoder failed without a reason",
                          "Broken or unsupported image");
    }
    std::string message = what + ": " + text;
    if (contains(text, "out of memory") || contains(text, "unable to allocate") ||
        contains(text, "cannot allocate")) {
        return make_error(ErrorCode::Internal, message, "Out of memory while processing the photo");
    }
    if (contains(text, "is blocked") || contains(text, "not a known") ||
        contains(text, "unsupported") || contains(text, "not supported")) {
        return make_error(ErrorCode::UnsupportedFormat, message, "Unsupported image format");
    }
    // Everything else libvips reports while decoding a photo is a damaged or hostile file:
    // "Premature end of JPEG file", "libpng read error", "Invalid SOS parameters", ...
    static constexpr std::array<std::string_view, 14> kCorrupt = {
        "premature", "truncated", "corrupt", "invalid", "read error", "bad ", "error reading",
        "unexpected end", "decode", "not enough", "unable to read", "damaged", "short read",
        "load"};
    for (auto needle : kCorrupt) {
        if (contains(text, needle)) {
            return make_error(ErrorCode::CorruptInput, message, "Broken or unsupported image");
        }
    }
    return make_error(ErrorCode::Internal, message, "The photo could not be processed");
}

}  // namespace pf::imaging
