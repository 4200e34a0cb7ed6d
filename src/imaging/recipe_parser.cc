#include "imaging/recipe_parser.h"

#include "base/file_io.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <utility>

namespace pf::imaging {
namespace {

constexpr std::size_t kMaxRecipeBytes = 1 << 20;
constexpr std::size_t kMaxOutputs = 32;
constexpr std::size_t kMaxWatermarks = 8;
constexpr int kMaxDimension = 16383;  // the largest WebP/AVIF side; JPEG allows more but no need
constexpr int kMaxCoordinate = 65535;
constexpr std::string_view kProblemsHeader = "invalid recipe:";

template <typename E>
using EnumTable = std::vector<std::pair<std::string_view, E>>;

const EnumTable<Fit> kFits = {{"cover", Fit::Cover}, {"contain", Fit::Contain},
                              {"fill", Fit::Fill},   {"inside", Fit::Inside},
                              {"outside", Fit::Outside}};

const EnumTable<Gravity> kGravities = {
    {"centre", Gravity::Centre},       {"center", Gravity::Centre},
    {"north", Gravity::North},         {"northeast", Gravity::NorthEast},
    {"east", Gravity::East},           {"southeast", Gravity::SouthEast},
    {"south", Gravity::South},         {"southwest", Gravity::SouthWest},
    {"west", Gravity::West},           {"northwest", Gravity::NorthWest},
    {"attention", Gravity::Attention}, {"entropy", Gravity::Entropy}};

const EnumTable<Format> kFormats = {{"jpeg", Format::Jpeg}, {"jpg", Format::Jpeg},
                                    {"png", Format::Png},   {"webp", Format::Webp},
                                    {"avif", Format::Avif}, {"gif", Format::Gif},
                                    {"jxl", Format::Jxl}};

const EnumTable<MetadataPolicy> kPolicies = {{"strip", MetadataPolicy::Strip},
                                             {"icc", MetadataPolicy::KeepIcc},
                                             {"copyright", MetadataPolicy::KeepCopyright},
                                             {"all", MetadataPolicy::KeepAll}};

const EnumTable<ChromaSubsampling> kChroma = {{"auto", ChromaSubsampling::Auto},
                                              {"4:2:0", ChromaSubsampling::Subsample420},
                                              {"4:4:4", ChromaSubsampling::Full444}};

// Collects every problem with its path instead of stopping at the first.
class Checker {
public:
    void fail(const std::string& path, const std::string& message) {
        problems_.push_back(path + ": " + message);
    }
    const std::vector<std::string>& problems() const { return problems_; }

    bool expect_map(const YAML::Node& node, const std::string& path) {
        if (!node.IsMap()) {
            fail(path, "must be a mapping");
            return false;
        }
        return true;
    }

    // Unknown keys are errors: a misspelt option silently ignored is a bug report later.
    void only_keys(const YAML::Node& node, const std::string& path,
                   std::initializer_list<std::string_view> allowed) {
        for (const auto& item : node) {
            std::string key = item.first.Scalar();
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
                std::string list;
                for (auto a : allowed) {
                    list += (list.empty() ? "" : ", ") + std::string(a);
                }
                fail(join(path, key), "unknown key (expected one of " + list + ")");
            }
        }
    }

    std::optional<int> integer(const YAML::Node& node, const std::string& path, int min, int max) {
        long long value = 0;
        if (!node.IsScalar() || !YAML::convert<long long>::decode(node, value)) {
            fail(path, "must be a whole number");
            return std::nullopt;
        }
        if (value < min || value > max) {
            fail(path, "must be between " + std::to_string(min) + " and " + std::to_string(max));
            return std::nullopt;
        }
        return static_cast<int>(value);
    }

    std::optional<double> number(const YAML::Node& node, const std::string& path, double min,
                                 double max) {
        double value = 0;
        if (!node.IsScalar() || !YAML::convert<double>::decode(node, value) ||
            !std::isfinite(value)) {
            fail(path, "must be a number");
            return std::nullopt;
        }
        if (value < min || value > max) {
            std::ostringstream range;
            range << "must be between " << min << " and " << max;
            fail(path, range.str());
            return std::nullopt;
        }
        return value;
    }

    std::optional<bool> boolean(const YAML::Node& node, const std::string& path) {
        bool value = false;
        if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
            fail(path, "must be true or false");
            return std::nullopt;
        }
        return value;
    }

    std::optional<std::string> text(const YAML::Node& node, const std::string& path,
                                    std::size_t max_length) {
        if (!node.IsScalar()) {
            fail(path, "must be a string");
            return std::nullopt;
        }
        const std::string& value = node.Scalar();
        if (value.empty()) {
            fail(path, "must not be empty");
            return std::nullopt;
        }
        if (value.size() > max_length) {
            fail(path, "must be at most " + std::to_string(max_length) + " characters");
            return std::nullopt;
        }
        return value;
    }

    template <typename E>
    std::optional<E> choice(const YAML::Node& node, const std::string& path,
                            const EnumTable<E>& table,
                            std::initializer_list<std::string_view> listed = {}) {
        if (node.IsScalar()) {
            std::string value = node.Scalar();
            std::transform(value.begin(), value.end(), value.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            for (const auto& [name, e] : table) {
                if (name == value) {
                    return e;
                }
            }
        }
        std::string list;
        if (listed.size() == 0) {
            for (const auto& entry : table) {
                list += (list.empty() ? "" : ", ") + std::string(entry.first);
            }
        } else {
            for (auto name : listed) {
                list += (list.empty() ? "" : ", ") + std::string(name);
            }
        }
        fail(path, "must be one of " + list);
        return std::nullopt;
    }

    std::optional<Colour> colour(const YAML::Node& node, const std::string& path) {
        if (node.IsScalar()) {
            std::string s = node.Scalar();
            auto hex = [](char c) -> int {
                if (c >= '0' && c <= '9') return c - '0';
                if (c >= 'a' && c <= 'f') return c - 'a' + 10;
                if (c >= 'A' && c <= 'F') return c - 'A' + 10;
                return -1;
            };
            bool ok = !s.empty() && s[0] == '#' && (s.size() == 4 || s.size() == 7) &&
                      std::all_of(s.begin() + 1, s.end(), [&](char c) { return hex(c) >= 0; });
            if (ok) {
                auto channel = [&](std::size_t i) -> std::uint8_t {
                    if (s.size() == 4) {
                        return static_cast<std::uint8_t>(hex(s[1 + i]) * 17);
                    }
                    return static_cast<std::uint8_t>(hex(s[1 + 2 * i]) * 16 + hex(s[2 + 2 * i]));
                };
                return Colour{channel(0), channel(1), channel(2)};
            }
        }
        fail(path, "must be a colour like \"#ff8800\" or \"#f80\"");
        return std::nullopt;
    }

    static std::string join(const std::string& path, std::string_view key) {
        return path.empty() ? std::string(key) : path + "." + std::string(key);
    }

private:
    std::vector<std::string> problems_;
};

bool is_valid_name(const std::string& name) {
    return !name.empty() && name.size() <= 64 &&
           std::all_of(name.begin(), name.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
           });
}

bool is_content_gravity(Gravity g) { return g == Gravity::Attention || g == Gravity::Entropy; }

std::optional<Resize> parse_resize(Checker& c, const YAML::Node& node, const std::string& path) {
    if (!c.expect_map(node, path)) {
        return std::nullopt;
    }
    c.only_keys(node, path, {"width", "height", "fit", "gravity", "enlarge"});
    Resize r;
    if (node["width"]) {
        r.width = c.integer(node["width"], path + ".width", 1, kMaxDimension);
    }
    if (node["height"]) {
        r.height = c.integer(node["height"], path + ".height", 1, kMaxDimension);
    }
    if (!node["width"] && !node["height"]) {
        c.fail(path, "needs a width, a height, or both");
    }
    if (node["fit"]) {
        if (auto fit = c.choice(node["fit"], path + ".fit", kFits)) {
            r.fit = *fit;
        }
    }
    bool needs_box = r.fit == Fit::Cover || r.fit == Fit::Contain || r.fit == Fit::Fill;
    if (needs_box && (!node["width"] || !node["height"])) {
        c.fail(path + ".fit", std::string("fit ") + to_string(r.fit) +
                                  " needs both a width and a height");
    }
    if (node["gravity"]) {
        if (auto g = c.choice(node["gravity"], path + ".gravity", kGravities,
                              {"centre", "north", "northeast", "east", "southeast", "south",
                               "southwest", "west", "northwest", "attention", "entropy"})) {
            r.gravity = *g;
            if (is_content_gravity(*g) && r.fit != Fit::Cover) {
                c.fail(path + ".gravity", std::string(to_string(*g)) +
                                              " chooses what a crop keeps: it needs fit cover");
            }
        }
    }
    if (node["enlarge"]) {
        r.enlarge = c.boolean(node["enlarge"], path + ".enlarge").value_or(false);
    }
    return r;
}

std::optional<Crop> parse_crop(Checker& c, const YAML::Node& node, const std::string& path) {
    if (!c.expect_map(node, path)) {
        return std::nullopt;
    }
    c.only_keys(node, path, {"left", "top", "width", "height"});
    Crop crop;
    bool ok = true;
    auto field = [&](const char* key, int min, int& out) {
        if (!node[key]) {
            c.fail(Checker::join(path, key), "is required");
            ok = false;
            return;
        }
        auto v = c.integer(node[key], Checker::join(path, key), min, kMaxCoordinate);
        ok = ok && v.has_value();
        out = v.value_or(0);
    };
    field("left", 0, crop.left);
    field("top", 0, crop.top);
    field("width", 1, crop.width);
    field("height", 1, crop.height);
    return ok ? std::optional<Crop>(crop) : std::nullopt;
}

std::optional<Sharpen> parse_sharpen(Checker& c, const YAML::Node& node, const std::string& path) {
    Sharpen s;
    if (node.IsScalar()) {
        auto on = c.boolean(node, path);
        return on.value_or(false) ? std::optional<Sharpen>(s) : std::nullopt;
    }
    if (!c.expect_map(node, path)) {
        return std::nullopt;
    }
    c.only_keys(node, path, {"sigma", "flat", "jagged"});
    if (node["sigma"]) {
        s.sigma = c.number(node["sigma"], path + ".sigma", 0.01, 10).value_or(s.sigma);
    }
    if (node["flat"]) {
        s.flat = c.number(node["flat"], path + ".flat", 0, 10).value_or(s.flat);
    }
    if (node["jagged"]) {
        s.jagged = c.number(node["jagged"], path + ".jagged", 0, 20).value_or(s.jagged);
    }
    return s;
}

std::optional<Gravity> parse_position(Checker& c, const YAML::Node& node, const std::string& path) {
    auto g = c.choice(node, path, kGravities,
                      {"centre", "north", "northeast", "east", "southeast", "south", "southwest",
                       "west", "northwest"});
    if (g && is_content_gravity(*g)) {
        c.fail(path, "must be a compass point or centre");
        return std::nullopt;
    }
    return g;
}

std::filesystem::path resolve(const RecipeContext& ctx, const std::string& file) {
    std::filesystem::path p(file);
    return p.is_absolute() ? p : ctx.base_dir / p;
}

// A file the recipe names, resolved beside the recipe; reported if it does not exist.
std::optional<std::string> existing_file(Checker& c, const YAML::Node& node,
                                         const std::string& path, const RecipeContext& ctx) {
    auto name = c.text(node, path, 4096);
    if (!name) {
        return std::nullopt;
    }
    auto full = resolve(ctx, *name);
    if (!std::filesystem::is_regular_file(full)) {
        c.fail(path, "no such file: " + full.string());
    }
    return full.string();
}

// Where and how strongly a watermark (text or image) is laid on the output.
template <typename Mark>
void parse_placement(Checker& c, const YAML::Node& node, const std::string& path, Mark& mark) {
    if (node["opacity"]) {
        mark.opacity = c.number(node["opacity"], path + ".opacity", 0, 1).value_or(mark.opacity);
    }
    if (node["position"]) {
        mark.position =
            parse_position(c, node["position"], path + ".position").value_or(mark.position);
    }
    if (node["margin"]) {
        mark.margin = c.integer(node["margin"], path + ".margin", 0, 10000).value_or(mark.margin);
    }
    if (node["tile"]) {
        mark.tile = c.boolean(node["tile"], path + ".tile").value_or(false);
    }
}

std::optional<Watermark> parse_watermark(Checker& c, const YAML::Node& node,
                                         const std::string& path, const RecipeContext& ctx) {
    if (!c.expect_map(node, path)) {
        return std::nullopt;
    }
    Watermark w;
    if (node["text"] && node["image"]) {
        c.fail(path, "has both text and image: use one watermark entry for each");
        return std::nullopt;
    }
    if (node["text"]) {
        c.only_keys(node, path, {"text", "font", "font_file", "size", "colour", "color",
                                 "opacity", "position", "margin", "tile"});
        TextWatermark t;
        t.text = c.text(node["text"], path + ".text", 256).value_or("");
        if (node["font"]) {
            t.font = c.text(node["font"], path + ".font", 128).value_or(t.font);
        }
        if (node["font_file"]) {
            t.font_file = existing_file(c, node["font_file"], path + ".font_file", ctx);
        }
        if (node["size"]) {
            t.size = c.integer(node["size"], path + ".size", 4, 1000).value_or(t.size);
        }
        const char* colour_key = node["colour"] ? "colour" : "color";
        if (node[colour_key]) {
            t.colour = c.colour(node[colour_key], path + "." + colour_key).value_or(t.colour);
        }
        parse_placement(c, node, path, t);
        w.text = t;
    } else if (node["image"]) {
        c.only_keys(node, path, {"image", "scale", "opacity", "position", "margin", "tile"});
        ImageWatermark m;
        m.file = existing_file(c, node["image"], path + ".image", ctx).value_or("");
        if (node["scale"]) {
            m.scale = c.number(node["scale"], path + ".scale", 0.01, 1).value_or(m.scale);
        }
        parse_placement(c, node, path, m);
        w.image = m;
    } else {
        c.fail(path, "needs either text or image");
        return std::nullopt;
    }
    return w;
}

// Effort ranges per format; nullopt where the encoder has no effort knob.
std::optional<std::pair<int, int>> effort_range(Format f) {
    switch (f) {
    case Format::Png: return std::pair{0, 9};
    case Format::Webp: return std::pair{0, 6};
    case Format::Avif: return std::pair{0, 9};
    case Format::Gif: return std::pair{1, 10};
    case Format::Jxl: return std::pair{1, 9};
    case Format::Jpeg: return std::nullopt;
    }
    return std::nullopt;
}

std::optional<Encoding> parse_format(Checker& c, const YAML::Node& node, const std::string& path) {
    Encoding e;
    if (node.IsScalar()) {
        auto f = c.choice(node, path, kFormats, {"jpeg", "png", "webp", "avif", "gif", "jxl"});
        if (!f) {
            return std::nullopt;
        }
        e.format = *f;
        return e;
    }
    if (!c.expect_map(node, path)) {
        return std::nullopt;
    }
    c.only_keys(node, path, {"type", "quality", "progressive", "lossless", "effort", "chroma"});
    if (!node["type"]) {
        c.fail(path + ".type", "is required (jpeg, png, webp, avif, gif or jxl)");
        return std::nullopt;
    }
    auto f = c.choice(node["type"], path + ".type", kFormats,
                      {"jpeg", "png", "webp", "avif", "gif", "jxl"});
    if (!f) {
        return std::nullopt;
    }
    e.format = *f;
    const std::string name = to_string(e.format);
    if (node["quality"]) {
        if (e.format == Format::Png || e.format == Format::Gif) {
            c.fail(path + ".quality", "does not apply to " + name + " (lossless palette or "
                                                                    "deflate); use effort");
        } else {
            e.quality = c.integer(node["quality"], path + ".quality", 1, 100).value_or(e.quality);
        }
    }
    if (node["progressive"]) {
        if (e.format == Format::Jpeg || e.format == Format::Png || e.format == Format::Gif) {
            e.progressive = c.boolean(node["progressive"], path + ".progressive").value_or(false);
        } else {
            c.fail(path + ".progressive", "applies to jpeg, png and gif only");
        }
    }
    if (node["lossless"]) {
        if (e.format == Format::Webp || e.format == Format::Avif || e.format == Format::Jxl) {
            e.lossless = c.boolean(node["lossless"], path + ".lossless").value_or(false);
        } else {
            c.fail(path + ".lossless", "applies to webp, avif and jxl only");
        }
    }
    if (node["effort"]) {
        if (auto range = effort_range(e.format)) {
            e.effort = c.integer(node["effort"], path + ".effort", range->first, range->second);
        } else {
            c.fail(path + ".effort", "does not apply to " + name);
        }
    }
    if (node["chroma"]) {
        if (e.format == Format::Jpeg || e.format == Format::Avif) {
            e.chroma = c.choice(node["chroma"], path + ".chroma", kChroma).value_or(e.chroma);
        } else {
            c.fail(path + ".chroma", "applies to jpeg and avif only");
        }
    }
    return e;
}

std::optional<Output> parse_output(Checker& c, const YAML::Node& node, const std::string& path,
                                   const RecipeContext& ctx) {
    if (!c.expect_map(node, path)) {
        return std::nullopt;
    }
    c.only_keys(node, path, {"name", "resize", "crop", "rotate", "flip", "flop", "blur", "sharpen",
                             "greyscale", "grayscale", "watermark", "background", "format",
                             "metadata", "keep_gps"});
    Output o;
    if (!node["name"]) {
        c.fail(path + ".name", "is required");
    } else if (auto name = c.text(node["name"], path + ".name", 64)) {
        if (!is_valid_name(*name)) {
            c.fail(path + ".name", "may only use a-z, 0-9, _ and - (it names the output file)");
        }
        o.name = *name;
    }
    if (node["resize"]) {
        o.resize = parse_resize(c, node["resize"], path + ".resize");
    }
    if (node["crop"]) {
        o.crop = parse_crop(c, node["crop"], path + ".crop");
    }
    if (node["rotate"]) {
        if (auto r = c.integer(node["rotate"], path + ".rotate", -270, 270)) {
            if (*r % 90 != 0) {
                c.fail(path + ".rotate", "must be a multiple of 90");
            } else {
                o.rotate = (*r + 360) % 360;
            }
        }
    }
    if (node["flip"]) {
        o.flip = c.boolean(node["flip"], path + ".flip").value_or(false);
    }
    if (node["flop"]) {
        o.flop = c.boolean(node["flop"], path + ".flop").value_or(false);
    }
    if (node["blur"]) {
        o.blur = c.number(node["blur"], path + ".blur", 0.3, 1000);
    }
    if (node["sharpen"]) {
        o.sharpen = parse_sharpen(c, node["sharpen"], path + ".sharpen");
    }
    const char* grey_key = node["greyscale"] ? "greyscale" : "grayscale";
    if (node[grey_key]) {
        o.greyscale = c.boolean(node[grey_key], path + "." + grey_key).value_or(false);
    }
    if (auto wm = node["watermark"]) {
        std::vector<YAML::Node> items;
        if (wm.IsSequence()) {
            for (const auto& item : wm) {
                items.push_back(item);
            }
        } else {
            items.push_back(wm);
        }
        if (items.size() > kMaxWatermarks) {
            c.fail(path + ".watermark", "at most " + std::to_string(kMaxWatermarks) + " watermarks");
        }
        for (std::size_t i = 0; i < items.size() && i < kMaxWatermarks; ++i) {
            std::string p = wm.IsSequence() ? path + ".watermark[" + std::to_string(i) + "]"
                                            : path + ".watermark";
            if (auto w = parse_watermark(c, items[i], p, ctx)) {
                o.watermarks.push_back(*w);
            }
        }
    }
    if (node["background"]) {
        o.background = c.colour(node["background"], path + ".background");
    }
    if (!node["format"]) {
        c.fail(path + ".format", "is required (jpeg, png, webp, avif, gif or jxl)");
    } else if (auto e = parse_format(c, node["format"], path + ".format")) {
        o.encoding = *e;
    }
    if (node["metadata"]) {
        o.metadata = c.choice(node["metadata"], path + ".metadata", kPolicies).value_or(o.metadata);
    }
    if (node["keep_gps"]) {
        o.keep_gps = c.boolean(node["keep_gps"], path + ".keep_gps").value_or(false);
        if (o.keep_gps && o.metadata != MetadataPolicy::KeepAll) {
            c.fail(path + ".keep_gps", "needs metadata: all (other policies drop EXIF anyway)");
        }
    }
    return o;
}

}  // namespace

Result<Recipe> parse_recipe(std::string_view text, const RecipeContext& context) {
    if (text.size() > kMaxRecipeBytes) {
        return make_error(ErrorCode::InvalidArgument,
                          std::string(kProblemsHeader) + "\n(recipe): larger than 1 MiB");
    }
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        return make_error(ErrorCode::InvalidArgument,
                          std::string(kProblemsHeader) + "\n(recipe): not valid YAML or JSON: " +
                              e.what());
    }
    Checker c;
    std::vector<Output> outputs;
    if (c.expect_map(root, "(recipe)")) {
        c.only_keys(root, "", {"version", "outputs"});
        if (root["version"]) {
            c.integer(root["version"], "version", 1, 1);
        }
        YAML::Node list = root["outputs"];
        if (!list) {
            c.fail("outputs", "is required: a list of outputs");
        } else if (!list.IsSequence() || list.size() == 0) {
            c.fail("outputs", "must be a non-empty list");
        } else if (list.size() > kMaxOutputs) {
            c.fail("outputs", "at most " + std::to_string(kMaxOutputs) + " outputs");
        } else {
            std::set<std::string> names;
            for (std::size_t i = 0; i < list.size(); ++i) {
                std::string path = "outputs[" + std::to_string(i) + "]";
                auto o = parse_output(c, list[i], path, context);
                if (!o) {
                    continue;
                }
                if (!o->name.empty() && !names.insert(o->name).second) {
                    c.fail(path + ".name", "\"" + o->name + "\" is used by an earlier output");
                }
                outputs.push_back(std::move(*o));
            }
        }
    }
    if (!c.problems().empty()) {
        std::string message(kProblemsHeader);
        for (const auto& p : c.problems()) {
            message += "\n" + p;
        }
        return make_error(ErrorCode::InvalidArgument, message);
    }
    return Recipe(std::move(outputs));
}

Result<Recipe> load_recipe_file(const std::filesystem::path& path) {
    auto text = read_file(path, kMaxRecipeBytes);
    if (!text) {
        return make_error(text.error().code, "cannot read recipe: " + text.error().message);
    }
    RecipeContext ctx;
    ctx.base_dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    return parse_recipe(*text, ctx);
}

std::string_view default_recipe_yaml() {
    return R"(# Photoflux's built-in recipe.
version: 1
outputs:
  - name: thumb
    resize: { width: 320, height: 320, fit: cover, gravity: attention }
    format: { type: webp, quality: 80 }
  - name: preview
    resize: { width: 1280, height: 1280, fit: inside }
    format: { type: jpeg, quality: 82, progressive: true }
)";
}

const Recipe& default_recipe() {
    static const Recipe recipe = parse_recipe(default_recipe_yaml()).value();
    return recipe;
}

std::vector<std::string> recipe_problems(const Error& error) {
    std::vector<std::string> lines;
    std::istringstream in(error.message);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
        lines.push_back(line);
    }
    return lines;
}

}  // namespace pf::imaging
