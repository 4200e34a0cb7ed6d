#include "config/config.h"

#include "base/file_io.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <functional>
#include <sstream>
#include <string_view>
#include <vector>

namespace pf::config {
namespace {

// One row per setting: where it lives in the YAML file, its environment variable, what it means,
// and how to read it. The loader and describe_settings() both walk this table.
struct Setting {
    std::string_view path;  // dotted YAML path
    std::string_view env;
    std::string_view description;
    std::function<std::string(const Config&)> current;
    // Returns an error message, or empty on success.
    std::function<std::string(Config&, const std::string&)> assign;
};

template <typename Int>
std::string parse_int(const std::string& text, Int min, Int max, Int& out) {
    Int value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
        return "must be a whole number";
    }
    if (value < min || value > max) {
        return "must be between " + std::to_string(min) + " and " + std::to_string(max);
    }
    out = value;
    return {};
}

const std::vector<Setting>& settings() {
    static const std::vector<Setting> table = {
        {"imaging.limits.max_input_bytes", "PF_IMAGING_MAX_INPUT_BYTES",
         "largest source photo accepted, in bytes",
         [](const Config& c) { return std::to_string(c.imaging.limits.max_input_bytes); },
         [](Config& c, const std::string& v) {
             return parse_int<std::uint64_t>(v, 1, 1ull << 40, c.imaging.limits.max_input_bytes);
         }},
        {"imaging.limits.max_pixels", "PF_IMAGING_MAX_PIXELS",
         "largest width x height accepted, checked from the header before decoding",
         [](const Config& c) { return std::to_string(c.imaging.limits.max_pixels); },
         [](Config& c, const std::string& v) {
             return parse_int<std::uint64_t>(v, 1, 1ull << 36, c.imaging.limits.max_pixels);
         }},
        {"imaging.limits.max_frames", "PF_IMAGING_MAX_FRAMES",
         "most frames/pages an input may declare (animated GIF, multi-page TIFF)",
         [](const Config& c) { return std::to_string(c.imaging.limits.max_frames); },
         [](Config& c, const std::string& v) {
             return parse_int<int>(v, 1, 100000, c.imaging.limits.max_frames);
         }},
        {"imaging.limits.max_output_dimension", "PF_IMAGING_MAX_OUTPUT_DIMENSION",
         "widest or tallest derivative, in pixels",
         [](const Config& c) { return std::to_string(c.imaging.limits.max_output_dimension); },
         [](Config& c, const std::string& v) {
             return parse_int<int>(v, 16, 65500, c.imaging.limits.max_output_dimension);
         }},
        {"imaging.limits.time_budget_ms", "PF_IMAGING_TIME_BUDGET_MS",
         "time one photo may take, all outputs included, in milliseconds",
         [](const Config& c) { return std::to_string(c.imaging.limits.time_budget.count()); },
         [](Config& c, const std::string& v) {
             long long ms = 0;
             auto err = parse_int<long long>(v, 100, 3'600'000, ms);
             if (err.empty()) {
                 c.imaging.limits.time_budget = std::chrono::milliseconds(ms);
             }
             return err;
         }},
        {"imaging.limits.fail_on", "PF_IMAGING_FAIL_ON",
         "how damaged an input may be before it is refused: none, truncated, error, warning",
         [](const Config& c) { return std::string(to_string(c.imaging.limits.fail_on)); },
         [](Config& c, const std::string& v) -> std::string {
             for (FailOn f : {FailOn::None, FailOn::Truncated, FailOn::Error, FailOn::Warning}) {
                 if (v == to_string(f)) {
                     c.imaging.limits.fail_on = f;
                     return {};
                 }
             }
             return "must be one of none, truncated, error, warning";
         }},
        {"imaging.concurrency", "PF_IMAGING_CONCURRENCY",
         "libvips threads per photo; 0 lets the command divide the cores between its jobs",
         [](const Config& c) { return std::to_string(c.imaging.concurrency); },
         [](Config& c, const std::string& v) {
             return parse_int<int>(v, 0, 1024, c.imaging.concurrency);
         }},
    };
    return table;
}

YAML::Node find(const YAML::Node& root, std::string_view dotted) {
    YAML::Node node = YAML::Clone(root);
    std::size_t start = 0;
    while (start <= dotted.size()) {
        auto end = dotted.find('.', start);
        std::string key(dotted.substr(start, end == std::string_view::npos ? end : end - start));
        if (!node.IsMap() || !node[key]) {
            return YAML::Node(YAML::NodeType::Undefined);
        }
        node = node[key];
        if (end == std::string_view::npos) {
            break;
        }
        start = end + 1;
    }
    return node;
}

// Lists keys in the file that no setting claims (likely typos).
void unknown_keys(const YAML::Node& node, const std::string& prefix,
                  std::vector<std::string>& problems) {
    if (!node.IsMap()) {
        return;
    }
    for (const auto& item : node) {
        std::string path = prefix.empty() ? item.first.Scalar() : prefix + "." + item.first.Scalar();
        bool known_leaf = false, known_branch = false;
        for (const auto& s : settings()) {
            known_leaf = known_leaf || s.path == path;
            known_branch = known_branch || s.path.substr(0, path.size() + 1) == path + ".";
        }
        if (known_branch) {
            unknown_keys(item.second, path, problems);
        } else if (!known_leaf) {
            problems.push_back(path + ": unknown setting");
        }
    }
}

}  // namespace

const char* to_string(FailOn level) {
    switch (level) {
    case FailOn::None: return "none";
    case FailOn::Truncated: return "truncated";
    case FailOn::Error: return "error";
    case FailOn::Warning: return "warning";
    }
    return "error";
}

Result<Config> load_config(const std::optional<std::filesystem::path>& file,
                           const Environment& env) {
    Config config;
    std::vector<std::string> problems;
    if (file) {
        auto text = read_file(*file, 1 << 20);
        if (!text) {
            return make_error(ErrorCode::InvalidArgument,
                              "cannot read config file: " + text.error().message);
        }
        YAML::Node root;
        try {
            root = YAML::Load(*text);
        } catch (const YAML::Exception& e) {
            return make_error(ErrorCode::InvalidArgument,
                              "config file " + file->string() + " is not valid YAML: " + e.what());
        }
        if (!root.IsNull()) {
            unknown_keys(root, "", problems);
        }
        for (const auto& s : settings()) {
            YAML::Node value = find(root, s.path);
            if (!value) {
                continue;
            }
            if (!value.IsScalar()) {
                problems.push_back(std::string(s.path) + ": must be a single value");
                continue;
            }
            if (auto err = s.assign(config, value.Scalar()); !err.empty()) {
                problems.push_back(std::string(s.path) + ": " + err);
            }
        }
    }
    for (const auto& s : settings()) {
        auto it = env.find(std::string(s.env));
        if (it == env.end()) {
            continue;
        }
        if (auto err = s.assign(config, it->second); !err.empty()) {
            problems.push_back(std::string(s.env) + ": " + err);
        }
    }
    if (!problems.empty()) {
        std::string message = "invalid configuration:";
        for (const auto& p : problems) {
            message += "\n" + p;
        }
        return make_error(ErrorCode::InvalidArgument, message);
    }
    return config;
}

std::string describe_settings() {
    Config defaults;
    std::ostringstream out;
    out << "# Photoflux settings with their defaults. Each can also be set by the environment\n"
           "# variable named beside it, which wins over this file.\n";
    std::vector<std::string> open;  // the YAML sections currently open
    for (const auto& s : settings()) {
        std::vector<std::string> parts;
        std::string part;
        std::istringstream in{std::string(s.path)};
        while (std::getline(in, part, '.')) {
            parts.push_back(part);
        }
        std::size_t common = 0;
        while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) {
            ++common;
        }
        open.resize(common);
        for (std::size_t i = common; i + 1 < parts.size(); ++i) {
            out << std::string(2 * i, ' ') << parts[i] << ":\n";
            open.push_back(parts[i]);
        }
        std::string indent(2 * (parts.size() - 1), ' ');
        out << indent << "# " << s.description << " (" << s.env << ")\n";
        out << indent << parts.back() << ": " << s.current(defaults) << "\n";
    }
    return out.str();
}

}  // namespace pf::config
