// End-to-end tests of `photoflux process`: the real binary on the real corpus in tests/data, with
// its outputs checked by independent tools (vipsheader and vips from libvips-tools, exiftool).
#include "support/subprocess.h"
#include "support/temp_dir.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using nlohmann::json;
using pf::test::run_subprocess;
using pf::test::SubprocessOptions;
using pf::test::SubprocessResult;

namespace {

using pf::test::TempDir;

const fs::path kData = PF_TEST_DATA_DIR;
const fs::path kPhotos = kData / "photos";
const fs::path kHostile = kData / "hostile";
const fs::path kOrientation = kData / "orientation";


void write_text(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out) {
        throw std::runtime_error("cannot write " + path.string());
    }
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void copy_into(const fs::path& file, const fs::path& dir, const std::string& name = {}) {
    fs::create_directories(dir);
    fs::copy_file(file, dir / (name.empty() ? file.filename().string() : name));
}

// Every regular file under `root`, as paths relative to it.
std::set<std::string> files_under(const fs::path& root) {
    std::set<std::string> files;
    if (!fs::exists(root)) {
        return files;
    }
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
        if (entry.is_regular_file()) {
            files.insert(fs::relative(entry.path(), root).string());
        }
    }
    return files;
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        lines.push_back(line);
    }
    return lines;
}

bool has_line_starting_with(const std::string& text, const std::string& prefix) {
    for (const auto& line : split_lines(text)) {
        if (line.rfind(prefix, 0) == 0) {
            return true;
        }
    }
    return false;
}

// Runs a checking tool (vipsheader, vips, exiftool); a tool that cannot run fails the test.
SubprocessResult run_tool(const std::vector<std::string>& argv) {
    SubprocessOptions options;
    options.timeout = std::chrono::seconds(60);
    auto r = run_subprocess(argv, options);
    EXPECT_FALSE(r.spawn_failed) << r.describe()
                                 << "\n(vipsheader/vips come from libvips-tools and exiftool "
                                    "from libimage-exiftool-perl; scripts/setup.sh installs both)";
    return r;
}

// `vipsheader -f FIELD` over several files at once: one value per file, in order.
std::vector<std::string> vipsheader_field(const std::vector<fs::path>& files,
                                          const std::string& field) {
    std::vector<std::string> argv = {"vipsheader", "-f", field};
    for (const auto& f : files) {
        argv.push_back(f.string());
    }
    auto r = run_tool(argv);
    auto lines = split_lines(r.out);
    EXPECT_TRUE(r.exited_with(0)) << r.describe();
    EXPECT_EQ(lines.size(), files.size()) << r.describe();
    lines.resize(files.size());
    return lines;
}

struct Size {
    int width = 0;
    int height = 0;
    bool operator==(const Size&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Size& s) {
    return os << s.width << "x" << s.height;
}

int to_int(const std::string& s) {
    try {
        return std::stoi(s);
    } catch (const std::exception&) {
        ADD_FAILURE() << "not a number: '" << s << "'";
        return -1;
    }
}

// Stored pixel sizes, as vipsheader reads them.
std::map<fs::path, Size> stored_sizes(const std::vector<fs::path>& files) {
    auto widths = vipsheader_field(files, "width");
    auto heights = vipsheader_field(files, "height");
    std::map<fs::path, Size> sizes;
    for (std::size_t i = 0; i < files.size(); ++i) {
        sizes[files[i]] = Size{to_int(widths[i]), to_int(heights[i])};
    }
    return sizes;
}

// `exiftool -j -n TAGS FILES`, keyed by file.
std::map<fs::path, json> exiftool(const std::vector<fs::path>& files,
                                  const std::vector<std::string>& tags) {
    std::vector<std::string> argv = {"exiftool", "-j", "-n"};
    argv.insert(argv.end(), tags.begin(), tags.end());
    for (const auto& f : files) {
        argv.push_back(f.string());
    }
    auto r = run_tool(argv);
    EXPECT_TRUE(r.exited_with(0)) << r.describe();
    std::map<fs::path, json> by_file;
    json list = json::parse(r.out, nullptr, false);
    if (!list.is_array()) {
        ADD_FAILURE() << "exiftool printed no JSON list: " << r.out << "\n" << r.describe();
        return by_file;
    }
    for (const auto& entry : list) {
        by_file[fs::path(entry.value("SourceFile", ""))] = entry;
    }
    EXPECT_EQ(by_file.size(), files.size()) << r.out;
    return by_file;
}

// What the source looks like once its EXIF orientation is applied.
std::map<fs::path, Size> upright_sizes(const std::vector<fs::path>& files) {
    auto sizes = stored_sizes(files);
    auto tags = exiftool(files, {"-Orientation"});
    for (auto& [file, size] : sizes) {
        int orientation = tags[file].value("Orientation", 1);
        if (orientation >= 5 && orientation <= 8) {
            std::swap(size.width, size.height);
        }
    }
    return sizes;
}

// The mean absolute difference of two images of the same size, by `vips` itself.
double mean_abs_difference(const fs::path& a, const fs::path& b, const fs::path& scratch) {
    const auto diff = (scratch / "diff.v").string();
    const auto abs = (scratch / "abs.v").string();
    auto r1 = run_tool({"vips", "subtract", a.string(), b.string(), diff});
    EXPECT_TRUE(r1.exited_with(0)) << r1.describe();
    auto r2 = run_tool({"vips", "abs", diff, abs});
    EXPECT_TRUE(r2.exited_with(0)) << r2.describe();
    auto r3 = run_tool({"vips", "avg", abs});
    EXPECT_TRUE(r3.exited_with(0)) << r3.describe();
    try {
        return std::stod(r3.out);
    } catch (const std::exception&) {
        ADD_FAILURE() << "vips avg printed '" << r3.out << "'";
        return 1e9;
    }
}

// The part of a failure message after "<input>: ".
std::string reason_of(const json& result) {
    const std::string input = result.value("input", "");
    const std::string message = result.contains("error") ? result["error"].value("message", "") : "";
    const std::string prefix = input + ": ";
    if (message.rfind(prefix, 0) == 0) {
        return message.substr(prefix.size());
    }
    return message;
}

std::string trimmed(const std::string& s) {
    auto begin = s.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) {
        return {};
    }
    return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}

class ProcessE2E : public ::testing::Test {
protected:
    const fs::path& tmp() const { return dir_.path(); }
    fs::path out() const { return dir_.path() / "out"; }

    // Runs photoflux with the given arguments; PF_* variables of the caller's shell are dropped
    // so only `env` configures it.
    SubprocessResult photoflux(const std::vector<std::string>& args,
                               const std::map<std::string, std::string>& env = {},
                               std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
        std::vector<std::string> argv = {PF_BINARY};
        argv.insert(argv.end(), args.begin(), args.end());
        SubprocessOptions options;
        options.set_env = env;
        options.unset_env_prefixes = {"PF_"};
        options.cwd = tmp();
        options.timeout = timeout;
        auto r = run_subprocess(argv, options);
        EXPECT_FALSE(r.spawn_failed) << r.describe();
        EXPECT_FALSE(r.timed_out) << r.describe();
        return r;
    }

    // `process ... --out OUT --json` and its parsed summary.
    json process(std::vector<std::string> args, int expected_exit,
                 const std::map<std::string, std::string>& env = {},
                 std::vector<std::string> global_args = {}) {
        args.insert(args.begin(), "process");
        args.insert(args.begin(), global_args.begin(), global_args.end());
        args.insert(args.end(), {"--out", out().string(), "--json"});
        last_ = photoflux(args, env);
        EXPECT_TRUE(last_.exited_with(expected_exit)) << last_.describe();
        json summary = json::parse(last_.out, nullptr, false);
        if (!summary.is_object()) {
            ADD_FAILURE() << "--json printed no JSON object:\n" << last_.out << "\n"
                          << last_.describe();
            return json::object();
        }
        return summary;
    }

    // The summary's results, keyed by the input's file name.
    static std::map<std::string, json> results_by_name(const json& summary) {
        std::map<std::string, json> by_name;
        for (const auto& r : summary.value("results", json::array())) {
            by_name[fs::path(r.value("input", "")).filename().string()] = r;
        }
        return by_name;
    }

    SubprocessResult last_;

    // camera.jpg (4.1 MP) over a 1 MP limit fails with LimitExceeded; orientation-6.jpg (0.27 MP)
    // in the same run is processed.
    static void expect_only_the_large_photo_refused(const json& summary) {
        auto results = results_by_name(summary);
        EXPECT_EQ(results["camera.jpg"].value("status", ""), "failed");
        EXPECT_EQ(results["camera.jpg"].value("error", json::object()).value("code", ""),
                  "LimitExceeded")
            << results["camera.jpg"].dump();
        EXPECT_EQ(results["orientation-6.jpg"].value("status", ""), "ok");
    }

private:
    TempDir dir_;
};

// ---------------------------------------------------------------------------------------------

TEST_F(ProcessE2E, DefaultRecipeMakesAThumbnailAPreviewAndAManifestForEveryPhoto) {
    std::vector<fs::path> sources;
    for (const auto& e : fs::directory_iterator(kPhotos)) {
        if (e.is_regular_file()) {
            sources.push_back(e.path());
        }
    }
    std::sort(sources.begin(), sources.end());
    ASSERT_GE(sources.size(), 10u);

    json summary = process({kPhotos.string()}, 0);
    EXPECT_EQ(summary.value("photos", -1), static_cast<int>(sources.size()));
    EXPECT_EQ(summary.value("processed", -1), static_cast<int>(sources.size()));
    EXPECT_EQ(summary.value("failed", -1), 0);
    EXPECT_EQ(summary.value("not_started", -1), 0);
    EXPECT_EQ(summary.value("skipped_not_images", json()), json::array());
    EXPECT_EQ(summary.value("out", ""), out().string());
    EXPECT_GT(summary.value("peak_rss_bytes", 0.0), 0.0);
    EXPECT_GT(summary.value("seconds", 0.0), 0.0);
    auto results = results_by_name(summary);
    ASSERT_EQ(results.size(), sources.size());

    std::vector<fs::path> thumbs, previews;
    for (const auto& source : sources) {
        const std::string name = source.filename().string();
        const fs::path dir = out() / name;
        SCOPED_TRACE(name);
        ASSERT_TRUE(results.count(name));
        const json& r = results[name];
        EXPECT_EQ(r.value("status", ""), "ok") << r.dump();
        EXPECT_EQ(fs::path(r.value("output_dir", "")), dir);
        std::set<fs::path> listed;
        for (const auto& f : r.value("files", json::array())) {
            listed.insert(fs::path(f.get<std::string>()));
        }
        EXPECT_EQ(listed, (std::set<fs::path>{dir / "thumb.webp", dir / "preview.jpg",
                                              dir / "manifest.json"}));
        EXPECT_EQ(files_under(dir),
                  (std::set<std::string>{"thumb.webp", "preview.jpg", "manifest.json"}));
        thumbs.push_back(dir / "thumb.webp");
        previews.push_back(dir / "preview.jpg");
    }
    ASSERT_FALSE(HasFailure());

    // Independent checks: libvips' own command-line tools read what was written.
    auto upright = upright_sizes(sources);
    auto thumb_sizes = stored_sizes(thumbs);
    auto preview_sizes = stored_sizes(previews);
    auto thumb_loaders = vipsheader_field(thumbs, "vips-loader");
    auto preview_loaders = vipsheader_field(previews, "vips-loader");
    for (std::size_t i = 0; i < sources.size(); ++i) {
        const std::string name = sources[i].filename().string();
        SCOPED_TRACE(name);
        const Size src = upright[sources[i]];
        const Size thumb = thumb_sizes[thumbs[i]];
        const Size preview = preview_sizes[previews[i]];
        EXPECT_EQ(thumb_loaders[i], "webpload");
        EXPECT_EQ(preview_loaders[i], "jpegload");

        // 320x320 cover crop; without enlargement a source smaller than the box keeps its size.
        EXPECT_EQ(thumb, (Size{std::min(320, src.width), std::min(320, src.height)}))
            << "source upright " << src;

        // Fit inside 1280x1280, never enlarged, aspect ratio kept.
        const int longer = std::max(src.width, src.height);
        if (longer <= 1280) {
            EXPECT_EQ(preview, src);
        } else {
            EXPECT_EQ(std::max(preview.width, preview.height), 1280) << preview;
            EXPECT_EQ(preview.width >= preview.height, src.width >= src.height) << preview;
            const double shorter = std::min(src.width, src.height) * 1280.0 / longer;
            EXPECT_NEAR(std::min(preview.width, preview.height), shorter, 1.0) << preview;
        }

        // The manifest describes exactly what is on disk.
        const fs::path dir = out() / name;
        json manifest = json::parse(read_text(dir / "manifest.json"), nullptr, false);
        ASSERT_TRUE(manifest.is_object()) << read_text(dir / "manifest.json");
        const json source = manifest.value("source", json::object());
        EXPECT_EQ(source.value("width", -1), src.width);
        EXPECT_EQ(source.value("height", -1), src.height);
        EXPECT_EQ(source.value("bytes", -1), static_cast<long long>(fs::file_size(sources[i])));
        const json outputs = manifest.value("outputs", json::array());
        ASSERT_EQ(outputs.size(), 2u) << outputs.dump();
        std::map<std::string, json> by_name;
        for (const auto& o : outputs) {
            by_name[o.value("name", "")] = o;
        }
        ASSERT_TRUE(by_name.count("thumb") && by_name.count("preview")) << outputs.dump();
        struct Expected {
            const char* name;
            const char* file;
            const char* format;
            Size size;
        };
        for (const Expected& e : {Expected{"thumb", "thumb.webp", "webp", thumb},
                                  Expected{"preview", "preview.jpg", "jpeg", preview}}) {
            const json& o = by_name[e.name];
            EXPECT_EQ(o.value("file", ""), e.file);
            EXPECT_EQ(o.value("format", ""), e.format);
            EXPECT_EQ(o.value("width", -1), e.size.width) << e.name;
            EXPECT_EQ(o.value("height", -1), e.size.height) << e.name;
            EXPECT_EQ(o.value("bytes", -1LL), static_cast<long long>(fs::file_size(dir / e.file)))
                << e.name;
        }
    }
}

TEST_F(ProcessE2E, GpsPositionNeverReachesADerivativeButTheManifestKeepsItAsPrivate) {
    const std::vector<fs::path> sources = {kPhotos / "progressive.jpg", kPhotos / "alpha.png"};
    auto source_tags = exiftool(sources, {"-GPSLatitude", "-GPSLongitude"});
    ASSERT_TRUE(source_tags[sources[0]].contains("GPSLatitude")) << "corpus changed?";
    ASSERT_TRUE(source_tags[sources[1]].contains("GPSLatitude")) << "corpus changed?";
    EXPECT_NEAR(source_tags[sources[0]]["GPSLatitude"].get<double>(), 56.156, 0.001);

    // The default outputs plus every metadata policy that carries EXIF over, in three formats.
    const fs::path recipe = tmp() / "recipe.yaml";
    write_text(recipe, R"(outputs:
  - name: thumb
    resize: { width: 320, height: 320, fit: cover, gravity: attention }
    format: { type: webp, quality: 80 }
  - name: preview
    resize: { width: 1280, height: 1280, fit: inside }
    format: { type: jpeg, quality: 82, progressive: true }
  - name: all_jpeg
    resize: { width: 400 }
    format: jpeg
    metadata: all
  - name: all_webp
    resize: { width: 400 }
    format: webp
    metadata: all
  - name: all_png
    resize: { width: 400 }
    format: png
    metadata: all
  - name: credits
    resize: { width: 400 }
    format: jpeg
    metadata: copyright
)");
    json summary = process({sources[0].string(), sources[1].string(), "--recipe", recipe.string()},
                           0);
    auto results = results_by_name(summary);

    for (const auto& source : sources) {
        const std::string name = source.filename().string();
        SCOPED_TRACE(name);
        ASSERT_EQ(results[name].value("status", ""), "ok") << results[name].dump();
        const fs::path dir = out() / name;
        std::vector<fs::path> derivatives;
        for (const char* f : {"thumb.webp", "preview.jpg", "all_jpeg.jpg", "all_webp.webp",
                              "all_png.png", "credits.jpg"}) {
            ASSERT_TRUE(fs::exists(dir / f)) << f;
            derivatives.push_back(dir / f);
        }
        auto tags = exiftool(derivatives, {"-GPSLatitude", "-GPSLongitude", "-GPS:all", "-Make"});
        for (const auto& d : derivatives) {
            for (const auto& [key, value] : tags[d].items()) {
                EXPECT_EQ(key.rfind("GPS", 0), std::string::npos)
                    << d.filename() << " carries " << key << " = " << value.dump();
            }
        }
        // Not a vacuous pass: exiftool does read the EXIF that "metadata: all" carried over.
        for (const char* f : {"all_jpeg.jpg", "all_webp.webp", "all_png.png"}) {
            EXPECT_TRUE(tags[dir / f].contains("Make")) << f << ": " << tags[dir / f].dump();
        }

        json manifest = json::parse(read_text(dir / "manifest.json"), nullptr, false);
        ASSERT_TRUE(manifest.is_object());
        const json gps = manifest.value("exif", json::object()).value("gps", json::object());
        ASSERT_TRUE(gps.is_object() && !gps.empty()) << manifest.value("exif", json()).dump();
        EXPECT_EQ(gps.value("private", false), true) << gps.dump();
        EXPECT_NEAR(gps.value("latitude", 0.0), source_tags[source]["GPSLatitude"].get<double>(),
                    0.001);
        EXPECT_NEAR(gps.value("longitude", 0.0),
                    source_tags[source]["GPSLongitude"].get<double>(), 0.001);
    }
    json manifest = json::parse(read_text(out() / "progressive.jpg" / "manifest.json"));
    EXPECT_NEAR(manifest["exif"]["gps"].value("latitude", 0.0), 56.156, 0.001);
}

TEST_F(ProcessE2E, EveryExifOrientationComesOutUprightWithNoOrientationTagLeft) {
    const fs::path recipe = tmp() / "recipe.yaml";
    write_text(recipe, R"(outputs:
  - name: w300
    resize: { width: 300, fit: inside }
    format: jpeg
  - name: w300_all
    resize: { width: 300, fit: inside }
    format: jpeg
    metadata: all
  - name: w300_webp
    resize: { width: 300 }
    format: webp
    metadata: all
)");
    json summary = process({kOrientation.string(), "--recipe", recipe.string()}, 0);
    EXPECT_EQ(summary.value("photos", -1), 16);
    EXPECT_EQ(summary.value("processed", -1), 16);

    std::vector<fs::path> outputs;
    for (const char* set : {"landscape", "portrait"}) {
        for (int n = 1; n <= 8; ++n) {
            const std::string name = std::string(set) + "_" + std::to_string(n) + ".jpg";
            for (const char* f : {"w300.jpg", "w300_all.jpg", "w300_webp.webp"}) {
                outputs.push_back(out() / name / f);
            }
            json manifest = json::parse(read_text(out() / name / "manifest.json"), nullptr, false);
            ASSERT_TRUE(manifest.is_object()) << name;
            EXPECT_EQ(manifest["source"].value("orientation", -1), n) << name;
        }
    }
    auto sizes = stored_sizes(outputs);
    auto tags = exiftool(outputs, {"-Orientation"});
    for (const auto& o : outputs) {
        const bool landscape = o.parent_path().filename().string().rfind("landscape", 0) == 0;
        EXPECT_EQ(sizes[o], landscape ? (Size{300, 200}) : (Size{300, 450}))
            << fs::relative(o, out());
        if (tags[o].contains("Orientation")) {
            EXPECT_EQ(tags[o]["Orientation"], 1) << fs::relative(o, out());
        }
    }

    // Right way up and not mirrored: every example shows the same picture once upright (only
    // the printed digit differs), so each output matches orientation 1's closely. A mirrored
    // or upside-down one differs by ~70/255 on average.
    for (const char* set : {"landscape", "portrait"}) {
        const fs::path reference = out() / (std::string(set) + "_1.jpg") / "w300.jpg";
        for (int n = 2; n <= 8; ++n) {
            const fs::path other = out() / (std::string(set) + "_" + std::to_string(n) + ".jpg") /
                                   "w300.jpg";
            EXPECT_LT(mean_abs_difference(reference, other, tmp()), 10.0)
                << fs::relative(other, out()) << " is not upright";
        }
    }
}

TEST_F(ProcessE2E, BadPhotosInAFolderFailAloneAndTheGoodOnesAreStillProcessed) {
    const fs::path in = tmp() / "in";
    const std::vector<std::string> good = {"orientation-6.jpg", "p3.jpg", "cmyk-pillow.jpg"};
    const std::map<std::string, std::set<std::string>> bad = {
        {"claims-50000.png", {"LimitExceeded"}},
        {"huge-header.gif", {"LimitExceeded"}},
        {"corrupt-frame.gif", {"CorruptInput", "UnsupportedFormat"}},
        {"corrupt-no-quant-table.jpg", {"CorruptInput", "UnsupportedFormat"}},
        {"truncated.png", {"CorruptInput", "UnsupportedFormat"}},
    };
    for (const auto& g : good) {
        copy_into(kPhotos / g, in);
    }
    for (const auto& [b, codes] : bad) {
        copy_into(kHostile / b, in);
    }

    json summary = process({in.string()}, 1);
    EXPECT_EQ(summary.value("photos", -1), 8);
    EXPECT_EQ(summary.value("processed", -1), 3);
    EXPECT_EQ(summary.value("failed", -1), 5);
    EXPECT_EQ(summary.value("not_started", -1), 0);
    auto results = results_by_name(summary);
    ASSERT_EQ(results.size(), 8u) << summary.dump(2);

    for (const auto& g : good) {
        SCOPED_TRACE(g);
        EXPECT_EQ(results[g].value("status", ""), "ok") << results[g].dump();
        EXPECT_EQ(files_under(out() / g),
                  (std::set<std::string>{"thumb.webp", "preview.jpg", "manifest.json"}));
    }
    for (const auto& [b, codes] : bad) {
        SCOPED_TRACE(b);
        const json& r = results[b];
        EXPECT_EQ(r.value("status", ""), "failed") << r.dump();
        ASSERT_TRUE(r.contains("error")) << r.dump();
        const std::string code = r["error"].value("code", "");
        EXPECT_TRUE(codes.count(code)) << "code " << code << ": " << r.dump();
        EXPECT_FALSE(trimmed(reason_of(r)).empty()) << r.dump();
        EXPECT_FALSE(r.contains("files")) << r.dump();
        EXPECT_FALSE(fs::exists(out() / b / "manifest.json"));
        EXPECT_TRUE(files_under(out() / b).empty()) << "a failed photo left outputs behind";
        EXPECT_TRUE(has_line_starting_with(last_.err,
                                           "photoflux: failed: " + r.value("input", "") + ": "))
            << last_.err;
    }
}

// Every file of the hostile corpus, named on the command line, fails with an error a caller can
// act on (or, for the one that libvips reads despite a bad EXIF block, is processed).
TEST_F(ProcessE2E, EveryHostileFileFailsWithAClassifiedErrorAndAReason) {
    const std::set<std::string> corrupt_or_unsupported = {"CorruptInput", "UnsupportedFormat"};
    const std::map<std::string, std::set<std::string>> expected = {
        {"claims-50000.jpg", {"LimitExceeded"}},
        {"claims-50000.png", {"LimitExceeded"}},
        {"huge-header.jpg", {"LimitExceeded"}},
        {"huge-header.gif", {"LimitExceeded"}},
        {"huge-header.png", {"LimitExceeded"}},
        {"corrupt-chunk-type.png", corrupt_or_unsupported},
        {"corrupt-cve-2017-2862.jpg", corrupt_or_unsupported},
        {"corrupt-extraneous-bytes.jpg", corrupt_or_unsupported},
        {"corrupt-filter.png", corrupt_or_unsupported},
        {"corrupt-frame.gif", corrupt_or_unsupported},
        {"corrupt-no-frames.gif", corrupt_or_unsupported},
        {"corrupt-no-quant-table.jpg", corrupt_or_unsupported},
        {"corrupt-short.png", corrupt_or_unsupported},
        {"pillow-broken.png", corrupt_or_unsupported},
        {"pillow-decompression-bomb.gif", corrupt_or_unsupported},
        {"truncated.jpg", corrupt_or_unsupported},
        {"truncated-progressive.jpg", corrupt_or_unsupported},
        {"truncated.png", corrupt_or_unsupported},
        {"truncated-cmyk.jpg", corrupt_or_unsupported},
        {"not-an-image.jpg", {"UnsupportedFormat"}},
        {"empty.jpg", corrupt_or_unsupported},
        {"pillow-bad-exif.jpg", {}},  // only warnings: passes the default fail_on=error
    };
    std::vector<std::string> args;
    for (const auto& e : fs::directory_iterator(kHostile)) {
        const std::string name = e.path().filename().string();
        EXPECT_TRUE(expected.count(name)) << "new hostile file " << name << ": add it here";
        args.push_back(e.path().string());
    }
    std::sort(args.begin(), args.end());
    json summary = process(args, 1);
    auto results = results_by_name(summary);
    for (const auto& [name, codes] : expected) {
        SCOPED_TRACE(name);
        ASSERT_TRUE(results.count(name)) << summary.dump(2);
        const json& r = results[name];
        if (codes.empty()) {
            EXPECT_EQ(r.value("status", ""), "ok") << r.dump();
            continue;
        }
        EXPECT_EQ(r.value("status", ""), "failed") << r.dump();
        const std::string code = r.contains("error") ? r["error"].value("code", "") : "";
        EXPECT_TRUE(codes.count(code)) << "code '" << code << "': " << r.dump();
        EXPECT_FALSE(trimmed(reason_of(r)).empty()) << "no reason given: " << r.dump();
        EXPECT_FALSE(fs::exists(out() / name / "manifest.json"));
        EXPECT_TRUE(has_line_starting_with(last_.err,
                                           "photoflux: failed: " + r.value("input", "") + ": "));
    }
}

// libvips keeps one error buffer for the whole process: with photos decoded side by side, one
// photo's failure must not be reported with (or as) another photo's decoder messages.
TEST_F(ProcessE2E, AFailureReasonBelongsToItsOwnPhotoWhenPhotosRunInParallel) {
    const std::vector<std::string> broken = {"corrupt-no-quant-table.jpg", "truncated.png",
                                             "corrupt-frame.gif", "corrupt-filter.png"};
    // The reason each one gets when it is processed on its own.
    std::map<std::string, std::string> alone;
    for (const auto& b : broken) {
        json summary = process({(kHostile / b).string(), "--jobs", "1"}, 1);
        auto results = results_by_name(summary);
        alone[b] = reason_of(results[b]);
        ASSERT_FALSE(alone[b].empty()) << results[b].dump();
    }
    const fs::path in = tmp() / "in";
    constexpr int kCopies = 12;
    for (int i = 0; i < kCopies; ++i) {
        for (const auto& b : broken) {
            copy_into(kHostile / b, in, std::to_string(i) + "-" + b);
        }
    }
    fs::remove_all(out());
    json summary = process({in.string(), "--jobs", "2"}, 1);
    EXPECT_EQ(summary.value("failed", -1), kCopies * static_cast<int>(broken.size()));
    int mixed_up = 0;
    std::string examples;
    for (const auto& r : summary.value("results", json::array())) {
        const std::string name = fs::path(r.value("input", "")).filename().string();
        const std::string original = name.substr(name.find('-') + 1);
        if (reason_of(r) != alone[original] && ++mixed_up <= 3) {
            examples += "\n" + name + " failed with\n  " + reason_of(r) +
                        "\nbut on its own with\n  " + alone[original] + "\n";
        }
    }
    EXPECT_EQ(mixed_up, 0) << "of " << summary.value("failed", 0)
                           << " failures had another reason than alone, e.g.:" << examples;
}

TEST_F(ProcessE2E, FolderWalkRecursesKeepsRelativePathsAndSkipsNonImages) {
    const fs::path in = tmp() / "in";
    copy_into(kPhotos / "orientation-6.jpg", in);
    copy_into(kPhotos / "cmyk-pillow.jpg", in / "2024" / "trip");
    copy_into(kPhotos / "p3.jpg", in / ".cache");  // hidden folders are not walked
    write_text(in / "notes.txt", "Photos from the trip.\n");
    write_text(in / "2024" / "trip" / "sidecar.xmp", "<x:xmpmeta xmlns:x='adobe:ns:meta/'/>\n");

    json summary = process({in.string()}, 0);
    EXPECT_EQ(summary.value("photos", -1), 2);
    EXPECT_EQ(summary.value("processed", -1), 2);
    EXPECT_EQ(summary.value("failed", -1), 0);
    std::set<std::string> skipped;
    for (const auto& s : summary.value("skipped_not_images", json::array())) {
        skipped.insert(fs::path(s.get<std::string>()).filename().string());
    }
    EXPECT_EQ(skipped, (std::set<std::string>{"notes.txt", "sidecar.xmp"}));
    EXPECT_EQ(files_under(out()), (std::set<std::string>{
                                      "orientation-6.jpg/thumb.webp",
                                      "orientation-6.jpg/preview.jpg",
                                      "orientation-6.jpg/manifest.json",
                                      "2024/trip/cmyk-pillow.jpg/thumb.webp",
                                      "2024/trip/cmyk-pillow.jpg/preview.jpg",
                                      "2024/trip/cmyk-pillow.jpg/manifest.json",
                                  }));
}

TEST_F(ProcessE2E, ANonImageNamedOnTheCommandLineFailsAsUnsupported) {
    const fs::path notes = tmp() / "in" / "notes.txt";
    write_text(notes, "Photos from the trip.\n");
    json summary = process({notes.string(), (kPhotos / "cmyk-pillow.jpg").string()}, 1);
    EXPECT_EQ(summary.value("processed", -1), 1);
    EXPECT_EQ(summary.value("failed", -1), 1);
    auto results = results_by_name(summary);
    ASSERT_TRUE(results.count("notes.txt")) << summary.dump(2);
    EXPECT_EQ(results["notes.txt"].value("status", ""), "failed");
    EXPECT_EQ(results["notes.txt"].value("error", json::object()).value("code", ""),
              "UnsupportedFormat")
        << results["notes.txt"].dump();
    EXPECT_TRUE(has_line_starting_with(last_.err, "photoflux: failed: " + notes.string() + ": "))
        << last_.err;
    EXPECT_EQ(results["cmyk-pillow.jpg"].value("status", ""), "ok");
    EXPECT_FALSE(fs::exists(out() / "notes.txt" / "manifest.json"));
}

// The folder walk follows symlinked files; outputs go under the link's own name, inside --out.
TEST_F(ProcessE2E, SymlinkedPhotosInAFolderAreProcessedUnderTheLinkName) {
    const fs::path elsewhere = tmp() / "library";
    copy_into(kPhotos / "cmyk-pillow.jpg", elsewhere);
    const fs::path in = tmp() / "in";
    fs::create_directories(in);
    fs::create_symlink(elsewhere / "cmyk-pillow.jpg", in / "linked.jpg");

    json summary = process({in.string()}, 0);
    EXPECT_EQ(summary.value("processed", -1), 1) << summary.dump(2);
    EXPECT_EQ(files_under(out()), (std::set<std::string>{"linked.jpg/thumb.webp",
                                                         "linked.jpg/preview.jpg",
                                                         "linked.jpg/manifest.json"}));
    // Nothing is written outside --out, in particular not next to the link's target.
    EXPECT_EQ(files_under(elsewhere), (std::set<std::string>{"cmyk-pillow.jpg"}));
    std::set<std::string> top;
    for (const auto& e : fs::directory_iterator(tmp())) {
        top.insert(e.path().filename().string());
    }
    EXPECT_EQ(top, (std::set<std::string>{"in", "library", "out"}));
}

TEST_F(ProcessE2E, ABadRecipeListsEveryProblemAndNothingStarts) {
    const fs::path recipe = tmp() / "bad.yaml";
    write_text(recipe, R"(outputs:
  - name: "Big Thumb"
    resize: { width: 0 }
    format: webp
  - name: small
    resize: { width: 100, height: 100, fit: squash }
    format: { type: bmp }
    blur: 0
)");
    auto r = photoflux({"process", (kPhotos / "camera.jpg").string(), "--recipe", recipe.string(),
                        "--out", out().string(), "--json"});
    EXPECT_TRUE(r.exited_with(2)) << r.describe();
    auto lines = split_lines(r.err);
    for (const char* path : {"outputs[0].name: ", "outputs[0].resize.width: ",
                             "outputs[1].resize.fit: ", "outputs[1].format.type: ",
                             "outputs[1].blur: "}) {
        EXPECT_TRUE(has_line_starting_with(r.err, path)) << "missing " << path << " in\n" << r.err;
    }
    EXPECT_NE(std::find(lines.begin(), lines.end(),
                        "outputs[1].resize.fit: must be one of cover, contain, fill, inside, "
                        "outside"),
              lines.end())
        << r.err;
    EXPECT_FALSE(fs::exists(out())) << "an output directory was created";
}

TEST_F(ProcessE2E, AMissingInputStopsTheRunBeforeAnyPhotoIsProcessed) {
    const fs::path missing = tmp() / "no-such-photo.jpg";
    auto r = photoflux({"process", (kPhotos / "cmyk-pillow.jpg").string(), missing.string(),
                        "--out", out().string(), "--json"});
    EXPECT_TRUE(r.exited_with(2)) << r.describe();
    EXPECT_NE(r.err.find(missing.string()), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out())) << "a photo was processed although the run could not start";
}

TEST_F(ProcessE2E, OneJobAndTwoJobsProduceTheSameFiles) {
    std::map<int, std::set<std::string>> files;
    std::map<int, std::map<std::string, std::string>> sizes;  // output file -> "WxH"
    for (int jobs : {1, 2}) {
        fs::remove_all(out());
        json summary = process({kPhotos.string(), "--jobs", std::to_string(jobs)}, 0);
        EXPECT_EQ(summary.value("jobs", -1), jobs);
        EXPECT_EQ(summary.value("failed", -1), 0);
        files[jobs] = files_under(out());
        for (const auto& f : files[jobs]) {
            if (fs::path(f).filename() != "manifest.json") {
                continue;
            }
            json manifest = json::parse(read_text(out() / f), nullptr, false);
            for (const auto& o : manifest.value("outputs", json::array())) {
                sizes[jobs][(fs::path(f).parent_path() / o.value("file", "")).string()] =
                    std::to_string(o.value("width", -1)) + "x" +
                    std::to_string(o.value("height", -1));
            }
        }
    }
    EXPECT_FALSE(files[1].empty());
    EXPECT_EQ(files[1], files[2]);
    EXPECT_EQ(sizes[1], sizes[2]);
}

TEST_F(ProcessE2E, PixelLimitFromTheEnvironmentRefusesALargerPhoto) {
    // camera.jpg is 2560x1600 (4.1 MP); orientation-6.jpg is 640x428 (0.27 MP).
    json summary = process({(kPhotos / "camera.jpg").string(),
                            (kPhotos / "orientation-6.jpg").string()},
                           1, {{"PF_IMAGING_MAX_PIXELS", "1000000"}});
    expect_only_the_large_photo_refused(summary);
    EXPECT_FALSE(fs::exists(out() / "camera.jpg" / "manifest.json"));
}

TEST_F(ProcessE2E, PixelLimitFromAConfigFileRefusesALargerPhoto) {
    const fs::path config = tmp() / "photoflux.yaml";
    write_text(config, "imaging:\n  limits:\n    max_pixels: 1000000\n");
    json summary = process({(kPhotos / "camera.jpg").string(),
                            (kPhotos / "orientation-6.jpg").string()},
                           1, {}, {"--config", config.string()});
    expect_only_the_large_photo_refused(summary);
}

TEST_F(ProcessE2E, TheEnvironmentWinsOverTheConfigFile) {
    const fs::path config = tmp() / "photoflux.yaml";
    write_text(config, "imaging:\n  limits:\n    max_pixels: 1000000\n");
    json summary = process({(kPhotos / "camera.jpg").string()}, 0,
                           {{"PF_IMAGING_MAX_PIXELS", "100000000"}},
                           {"--config", config.string()});
    EXPECT_EQ(summary.value("processed", -1), 1);
}

TEST_F(ProcessE2E, AnInvalidConfigListsEveryProblemAndNothingStarts) {
    const fs::path config = tmp() / "photoflux.yaml";
    write_text(config, "imaging:\n  limits:\n    max_pixels: -3\n  colour_mode: vivid\n");
    auto r = photoflux({"--config", config.string(), "process", (kPhotos / "cmyk-pillow.jpg").string(),
                        "--out", out().string(), "--json"});
    EXPECT_TRUE(r.exited_with(2)) << r.describe();
    EXPECT_TRUE(has_line_starting_with(r.err, "imaging.limits.max_pixels: ")) << r.err;
    EXPECT_TRUE(has_line_starting_with(r.err, "imaging.colour_mode: ")) << r.err;
    EXPECT_FALSE(fs::exists(out()));

    auto bad_env = photoflux({"process", (kPhotos / "cmyk-pillow.jpg").string(), "--out",
                              out().string(), "--json"},
                             {{"PF_IMAGING_MAX_PIXELS", "lots"}});
    EXPECT_TRUE(bad_env.exited_with(2)) << bad_env.describe();
    EXPECT_NE(bad_env.err.find("PF_IMAGING_MAX_PIXELS"), std::string::npos) << bad_env.err;
    EXPECT_FALSE(fs::exists(out()));
}

// Headers that claim gigapixels are refused from the header: no decode, little memory, no time.
TEST_F(ProcessE2E, HostileHeadersAreRefusedQuicklyAndCheaply) {
    const std::vector<std::string> files = {"claims-50000.png", "huge-header.jpg",
                                            "claims-50000.jpg", "huge-header.png",
                                            "huge-header.gif"};
    std::vector<std::string> args = {"process"};
    for (const auto& f : files) {
        args.push_back((kHostile / f).string());
    }
    args.insert(args.end(), {"--out", out().string(), "--json"});
    // A runaway decode is killed at 30 s so the test fails instead of hanging the suite.
    auto r = photoflux(args, {}, std::chrono::seconds(30));
    EXPECT_TRUE(r.exited_with(1)) << r.describe();
    EXPECT_LT(r.elapsed.count(), 5.0) << r.describe();
    json summary = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(summary.is_object()) << r.out << r.describe();
    EXPECT_LT(summary.value("peak_rss_bytes", 1e12), 200.0 * 1024 * 1024);
    EXPECT_EQ(summary.value("failed", -1), static_cast<int>(files.size()));
    for (const auto& [name, result] : results_by_name(summary)) {
        EXPECT_EQ(result.value("error", json::object()).value("code", ""), "LimitExceeded")
            << result.dump();
    }
}

}  // namespace
