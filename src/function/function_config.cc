#include "function/function_config.h"

#include "base/file_io.h"
#include "crypto/digest.h"
#include "imaging/recipe_parser.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <vector>

namespace pf::function {
namespace {

std::optional<std::string> lookup(const aws::EnvironmentMap& env, const char* name) {
    auto it = env.find(name);
    if (it == env.end()) {
        return std::nullopt;
    }
    return it->second;
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::optional<bool> parse_bool(std::string_view text) {
    const std::string v = lower(text);
    if (v == "true" || v == "1" || v == "yes" || v == "on") {
        return true;
    }
    if (v == "false" || v == "0" || v == "no" || v == "off") {
        return false;
    }
    return std::nullopt;
}

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
        return std::nullopt;
    }
    return value;
}

bool has_control_characters(std::string_view text) {
    return std::any_of(text.begin(), text.end(),
                       [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

// arn:<partition>:sns:<region>:<account>:<topic name>
bool valid_topic_arn(std::string_view arn) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (parts.size() < 5) {
        auto colon = arn.find(':', start);
        if (colon == std::string_view::npos) {
            return false;
        }
        parts.push_back(arn.substr(start, colon - start));
        start = colon + 1;
    }
    std::string_view name = arn.substr(start);
    if (parts[0] != "arn" || parts[1].empty() || parts[2] != "sns" || parts[3].empty() ||
        parts[4].empty() || name.empty() || name.size() > 256) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.';
    });
}

struct RecipeChoice {
    std::string text;
    std::string source;
    std::filesystem::path base_dir;
};

// Where the recipe comes from; nullopt (with a problem recorded) when it cannot be read.
std::optional<RecipeChoice> choose_recipe(const aws::EnvironmentMap& env,
                                          std::vector<std::string>& problems) {
    auto inline_text = lookup(env, "PF_RECIPE");
    auto file = lookup(env, "PF_RECIPE_FILE");
    if (inline_text && inline_text->empty()) {
        inline_text.reset();
    }
    if (file && file->empty()) {
        file.reset();
    }
    const std::filesystem::path task_root = lookup(env, "LAMBDA_TASK_ROOT").value_or("");
    if (inline_text && file) {
        problems.push_back("PF_RECIPE and PF_RECIPE_FILE: set one of them, not both");
        return std::nullopt;
    }
    if (inline_text) {
        if (inline_text->size() > kMaxRecipeBytes) {
            problems.push_back("PF_RECIPE: " + std::to_string(inline_text->size()) +
                               " bytes is over the limit of " + std::to_string(kMaxRecipeBytes));
            return std::nullopt;
        }
        // Watermark files named in an inline recipe live in the package, like a recipe file.
        return RecipeChoice{*inline_text, "PF_RECIPE", task_root.empty() ? "." : task_root};
    }
    if (file) {
        std::filesystem::path path(*file);
        if (path.is_relative() && !task_root.empty()) {
            path = task_root / path;
        }
        auto text = read_file(path, kMaxRecipeBytes);
        if (!text) {
            problems.push_back("PF_RECIPE_FILE: " + path.string() + ": " + text.error().message);
            return std::nullopt;
        }
        auto base = path.parent_path();
        return RecipeChoice{std::move(*text), path.string(), base.empty() ? "." : base};
    }
    return RecipeChoice{std::string(imaging::default_recipe_yaml()), "built-in", "."};
}

}  // namespace

std::string recipe_hash(std::string_view recipe_text) {
    return crypto::sha256_hex(recipe_text).substr(0, 16);
}

bool valid_bucket_name(std::string_view name) {
    if (name.size() < 3 || name.size() > 63) {
        return false;
    }
    auto letter_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!letter_or_digit(name.front()) || !letter_or_digit(name.back())) {
        return false;
    }
    int dots = 0;
    bool digits_and_dots_only = true;
    for (char c : name) {
        if (!letter_or_digit(c) && c != '.' && c != '-') {
            return false;
        }
        dots += c == '.';
        digits_and_dots_only = digits_and_dots_only && (c == '.' || (c >= '0' && c <= '9'));
    }
    return !(digits_and_dots_only && dots == 3);  // "192.168.5.4" is not a bucket
}

Result<FunctionConfig> load_function_config(const aws::EnvironmentMap& env,
                                            const config::ImagingConfig& imaging) {
    FunctionConfig config;
    config.imaging = imaging;
    std::vector<std::string> problems;

    if (auto choice = choose_recipe(env, problems)) {
        auto recipe = imaging::parse_recipe(choice->text, {choice->base_dir});
        if (recipe) {
            config.recipe = std::move(*recipe);
            config.recipe_source = choice->source;
            config.recipe_hash = recipe_hash(choice->text);
        } else {
            const char* variable = choice->source == "PF_RECIPE" ? "PF_RECIPE" : "PF_RECIPE_FILE";
            for (const auto& p : imaging::recipe_problems(recipe.error())) {
                problems.push_back(std::string(variable) + ": " + p);
            }
        }
    }

    if (auto bucket = lookup(env, "PF_OUTPUT_BUCKET"); bucket && !bucket->empty()) {
        if (valid_bucket_name(*bucket)) {
            config.output_bucket = *bucket;
        } else {
            problems.push_back("PF_OUTPUT_BUCKET: \"" + *bucket +
                               "\" is not a bucket name (3-63 of a-z 0-9 . -, starting and "
                               "ending with a letter or digit)");
        }
    }
    if (auto prefix = lookup(env, "PF_OUTPUT_PREFIX")) {
        if (prefix->size() > kMaxOutputPrefixBytes) {
            problems.push_back("PF_OUTPUT_PREFIX: longer than " +
                               std::to_string(kMaxOutputPrefixBytes) + " bytes");
        } else if (has_control_characters(*prefix)) {
            problems.push_back("PF_OUTPUT_PREFIX: contains control characters");
        } else if (!prefix->empty() && prefix->front() == '/') {
            problems.push_back(
                "PF_OUTPUT_PREFIX: must not start with '/' (keys have no leading slash)");
        } else if (prefix->empty() && config.output_bucket.empty()) {
            // Derivatives beside the photos would be photos themselves: the function could not
            // tell its own writes from uploads and would process its outputs forever.
            problems.push_back(
                "PF_OUTPUT_PREFIX: may be empty only with a separate PF_OUTPUT_BUCKET");
        } else {
            config.output_prefix = *prefix;
        }
    }
    if (auto topic = lookup(env, "PF_TOPIC_ARN"); topic && !topic->empty()) {
        if (valid_topic_arn(*topic)) {
            config.topic_arn = *topic;
        } else {
            problems.push_back(
                "PF_TOPIC_ARN: \"" + *topic +
                "\" is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)");
        }
    }
    if (auto flag = lookup(env, "PF_DELETE_DERIVATIVES"); flag && !flag->empty()) {
        if (auto value = parse_bool(*flag)) {
            config.delete_derivatives = *value;
        } else {
            problems.push_back("PF_DELETE_DERIVATIVES: \"" + *flag + "\" must be true or false");
        }
    }
    if (auto bytes = lookup(env, "PF_MAX_PHOTO_BYTES"); bytes && !bytes->empty()) {
        auto value = parse_unsigned(*bytes);
        if (!value || *value == 0 || *value > kMaxPhotoBytesLimit) {
            problems.push_back("PF_MAX_PHOTO_BYTES: \"" + *bytes +
                               "\" must be a number of bytes from 1 to " +
                               std::to_string(kMaxPhotoBytesLimit));
        } else {
            config.max_photo_bytes = *value;
        }
    }
    if (auto threads = lookup(env, "PF_VIPS_CONCURRENCY"); threads && !threads->empty()) {
        auto value = parse_unsigned(*threads);
        if (!value || *value > 1024) {
            problems.push_back("PF_VIPS_CONCURRENCY: \"" + *threads +
                               "\" must be 0 (one per core) to 1024");
        } else {
            config.vips_concurrency = static_cast<int>(*value);
        }
    }

    if (!problems.empty()) {
        std::string message = "invalid function configuration:";
        for (const auto& p : problems) {
            message += "\n  " + p;
        }
        return make_error(ErrorCode::InvalidArgument, message);
    }
    config.imaging.limits.max_input_bytes = config.max_photo_bytes;
    config.imaging.concurrency = config.vips_concurrency;
    return config;
}

}  // namespace pf::function
