// Parses a recipe from YAML (or JSON, a subset of YAML) into an immutable, validated Recipe.
// A bad recipe reports every problem at once, each with its path:
//   outputs[1].resize.fit: must be one of cover, contain, fill, inside, outside
#pragma once

#include "base/result.h"
#include "imaging/recipe.h"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace pf::imaging {

struct RecipeContext {
    // Relative watermark files are resolved against this directory (the recipe file's own).
    std::filesystem::path base_dir = ".";
};

// On failure the Error's message is "invalid recipe:" followed by one line per problem.
Result<Recipe> parse_recipe(std::string_view text, const RecipeContext& context = {});

// Reads and parses a recipe file; relative paths in it resolve against its directory.
Result<Recipe> load_recipe_file(const std::filesystem::path& path);

// The built-in recipe: a 320 px square WebP thumbnail (attention crop) and a 1280 px JPEG preview.
const Recipe& default_recipe();
std::string_view default_recipe_yaml();

// The problems listed in an error returned by parse_recipe, one per entry.
std::vector<std::string> recipe_problems(const Error& error);

}  // namespace pf::imaging
