// The recipe: what to make of every photo. A list of named outputs, each a resize plus effects,
// watermarks, metadata policy and an encoding. Parsed and validated once, at the edge
// (recipe_parser.h), into this immutable value; code below the edge trusts it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pf::imaging {

enum class Fit { Cover, Contain, Fill, Inside, Outside };

// Where to anchor a crop or a placed item. Attention and Entropy pick the region for a cover crop
// by content (libvips smartcrop); for placement (watermarks, contain) they mean Centre.
enum class Gravity {
    Centre, North, NorthEast, East, SouthEast, South, SouthWest, West, NorthWest,
    Attention, Entropy,
};

enum class Format { Jpeg, Png, Webp, Avif, Gif, Jxl };

enum class MetadataPolicy {
    Strip,      // nothing: the default for derivatives
    KeepIcc,    // the (sRGB) colour profile only
    KeepCopyright,  // the colour profile plus EXIF Copyright and Artist
    KeepAll,    // everything the source had, minus GPS unless keep_gps
};

enum class ChromaSubsampling { Auto, Subsample420, Full444 };

struct Colour {
    std::uint8_t r = 0, g = 0, b = 0;
    bool operator==(const Colour&) const = default;
};

struct Resize {
    std::optional<int> width;   // at least one of width/height is set
    std::optional<int> height;
    Fit fit = Fit::Inside;
    Gravity gravity = Gravity::Centre;
    bool enlarge = false;       // upscale a source smaller than the box
};

// A region of the upright (and rotated) source, in source pixels.
struct Crop {
    int left = 0, top = 0, width = 0, height = 0;
};

struct Sharpen {
    double sigma = 1.0;   // the size of the unsharp mask (gaussian sigma)
    double flat = 1.0;    // strength in flat areas
    double jagged = 2.0;  // strength in jagged (edge) areas
};

struct TextWatermark {
    std::string text;
    std::string font = "DejaVu Sans";  // a Pango font family (and optional style)
    std::optional<std::string> font_file;  // a .ttf/.otf to load instead of a system font
    int size = 24;                     // text height in output pixels
    Colour colour{255, 255, 255};
    double opacity = 0.5;
    Gravity position = Gravity::SouthEast;
    int margin = 16;                   // pixels from the anchored edges (and between tiles)
    bool tile = false;                 // repeat across the whole output
};

struct ImageWatermark {
    std::string file;                  // PNG (with alpha) or any supported image
    double scale = 0.2;                // watermark width as a fraction of the output width
    double opacity = 0.7;
    Gravity position = Gravity::SouthEast;
    int margin = 16;
    bool tile = false;
};

struct Watermark {
    std::optional<TextWatermark> text;    // exactly one of text/image is set
    std::optional<ImageWatermark> image;
};

struct Encoding {
    Format format = Format::Jpeg;
    int quality = 80;                      // 1..100 (ignored by png, gif, lossless)
    bool progressive = false;              // jpeg progressive, png/gif interlace
    bool lossless = false;                 // webp, avif, jxl
    std::optional<int> effort;             // CPU effort; range depends on the format
    ChromaSubsampling chroma = ChromaSubsampling::Auto;  // jpeg, avif
};

struct Output {
    std::string name;                      // unique in the recipe; [a-z0-9_-], the file's stem
    int rotate = 0;                        // 0, 90, 180, 270 (clockwise), after EXIF orientation
    bool flip = false;                     // mirror top to bottom
    bool flop = false;                     // mirror left to right
    std::optional<Crop> crop;
    std::optional<Resize> resize;
    std::optional<double> blur;            // gaussian sigma
    std::optional<Sharpen> sharpen;
    bool greyscale = false;
    std::vector<Watermark> watermarks;
    std::optional<Colour> background;      // flatten alpha onto this (also the contain fill)
    Encoding encoding;
    MetadataPolicy metadata = MetadataPolicy::Strip;
    bool keep_gps = false;
};

class Recipe {
public:
    explicit Recipe(std::vector<Output> outputs) : outputs_(std::move(outputs)) {}
    const std::vector<Output>& outputs() const { return outputs_; }

private:
    std::vector<Output> outputs_;
};

// Names and helpers shared by the parser, the encoder and the manifest.
const char* to_string(Fit fit);
const char* to_string(Gravity gravity);
const char* to_string(Format format);
const char* to_string(MetadataPolicy policy);
const char* file_extension(Format format);   // "jpg", "png", "webp", "avif", "gif", "jxl"
const char* content_type(Format format);     // "image/jpeg", ...
bool supports_alpha(Format format);

}  // namespace pf::imaging
