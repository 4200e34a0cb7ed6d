#include "app/photo_walk.h"

#include "imaging/decode.h"

#include <algorithm>
#include <map>

namespace pf::app {
namespace {

bool hidden(const std::filesystem::path& p) {
    auto name = p.filename().string();
    return !name.empty() && name[0] == '.';
}

}  // namespace

Result<WalkResult> collect_photos(const std::vector<std::string>& arguments) {
    WalkResult result;
    std::map<std::filesystem::path, std::filesystem::path> claimed;  // relative -> source
    auto add = [&](const std::filesystem::path& path,
                   const std::filesystem::path& relative) -> Result<void> {
        auto [it, inserted] = claimed.emplace(relative, path);
        if (!inserted) {
            return make_error(ErrorCode::InvalidArgument,
                              "two inputs would write to the same place (" + relative.string() +
                                  "): " + it->second.string() + " and " + path.string());
        }
        result.photos.push_back({path, relative});
        return {};
    };
    for (const std::string& argument : arguments) {
        std::filesystem::path root(argument);
        std::error_code ec;
        auto status = std::filesystem::status(root, ec);
        if (ec || !std::filesystem::exists(status)) {
            return make_error(ErrorCode::NotFound, argument + ": no such file or directory");
        }
        if (std::filesystem::is_directory(status)) {
            std::vector<std::filesystem::path> files;
            auto options = std::filesystem::directory_options::skip_permission_denied;
            for (auto it = std::filesystem::recursive_directory_iterator(root, options, ec);
                 !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
                if (hidden(it->path())) {
                    if (it->is_directory()) {
                        it.disable_recursion_pending();
                    }
                    continue;
                }
                if (it->is_regular_file()) {
                    files.push_back(it->path());
                }
            }
            if (ec) {
                return make_error(ErrorCode::Internal, argument + ": " + ec.message());
            }
            std::sort(files.begin(), files.end());
            for (const auto& file : files) {
                if (!imaging::looks_like_image(file)) {
                    result.skipped.push_back(file);
                    continue;
                }
                // Lexical, not std::filesystem::relative: that resolves symlinks, and a linked
                // photo must land under its link's name inside --out, never beside its target.
                if (auto r = add(file, file.lexically_relative(root)); !r) {
                    return r.error();
                }
            }
        } else {
            if (auto r = add(root, root.filename()); !r) {
                return r.error();
            }
        }
    }
    return result;
}

}  // namespace pf::app
