#include "function/photo_messages.h"

namespace pf::function {
namespace {

using nlohmann::json;

const json* member(const json& object, const char* name, json::value_t type) {
    if (!object.is_object()) {
        return nullptr;
    }
    auto it = object.find(name);
    if (it == object.end()) {
        return nullptr;
    }
    // Integers arrive as unsigned or signed depending on their sign; treat them alike.
    if (type == json::value_t::number_unsigned && it->is_number_integer() && *it >= 0) {
        return &*it;
    }
    return it->type() == type ? &*it : nullptr;
}

const std::string* string_member(const json& object, const char* name) {
    const json* value = member(object, name, json::value_t::string);
    return value ? &value->get_ref<const std::string&>() : nullptr;
}

}  // namespace

std::string derivative_folder(std::string_view output_prefix, std::string_view source_key) {
    std::string folder;
    folder.reserve(output_prefix.size() + source_key.size() + 1);
    folder.append(output_prefix).append(source_key).push_back('/');
    return folder;
}

Result<void> check_output_keys(std::string_view folder, const imaging::Recipe& recipe) {
    std::string longest(kManifestFile);
    for (const auto& output : recipe.outputs()) {
        std::string file = output.name + "." + imaging::file_extension(output.encoding.format);
        if (file.size() > longest.size()) {
            longest = std::move(file);
        }
    }
    if (folder.size() + longest.size() > kMaxS3KeyBytes) {
        return make_error(ErrorCode::InvalidArgument,
                          "the derivative key " + std::string(folder) + longest + " would be " +
                              std::to_string(folder.size() + longest.size()) +
                              " bytes, over S3's limit of " + std::to_string(kMaxS3KeyBytes),
                          "The photo's key is too long to store its derivatives under");
    }
    return {};
}

json stored_manifest(const imaging::ProcessResult& result, const PhotoRef& source,
                     std::string_view output_bucket, std::string_view folder,
                     std::string_view recipe_hash) {
    json manifest = imaging::to_json(result.manifest);
    json& src = manifest["source"];
    src["bucket"] = source.bucket;
    src["key"] = source.key;
    src["etag"] = source.etag;
    manifest["recipeHash"] = recipe_hash;
    json& outputs = manifest["outputs"];
    for (auto& output : outputs) {
        output["bucket"] = output_bucket;
        output["key"] = std::string(folder) + output.value("file", std::string());
    }
    return manifest;
}

Result<std::string> processed_message(const json& manifest, std::string_view manifest_key) {
    auto invalid = [](const std::string& what) {
        return make_error(ErrorCode::InvalidArgument, "stored manifest: " + what);
    };
    const json* source = member(manifest, "source", json::value_t::object);
    if (source == nullptr) {
        return invalid("no source object");
    }
    const std::string* bucket = string_member(*source, "bucket");
    const std::string* key = string_member(*source, "key");
    const std::string* etag = string_member(*source, "etag");
    const std::string* hash = string_member(manifest, "recipeHash");
    const json* outputs = member(manifest, "outputs", json::value_t::array);
    if (!bucket || !key || !etag) {
        return invalid("source.bucket, source.key or source.etag missing");
    }
    if (!hash) {
        return invalid("recipeHash missing");
    }
    if (!outputs) {
        return invalid("outputs missing");
    }
    json listed = json::array();
    for (const json& output : *outputs) {
        const std::string* name = string_member(output, "name");
        const std::string* out_bucket = string_member(output, "bucket");
        const std::string* out_key = string_member(output, "key");
        const std::string* content_type = string_member(output, "content_type");
        const std::string* format = string_member(output, "format");
        const json* width = member(output, "width", json::value_t::number_unsigned);
        const json* height = member(output, "height", json::value_t::number_unsigned);
        const json* bytes = member(output, "bytes", json::value_t::number_unsigned);
        if (!name || !out_bucket || !out_key || !content_type || !format || !width || !height ||
            !bytes) {
            return invalid("an output lacks name, bucket, key, content_type, format, width, "
                           "height or bytes");
        }
        listed.push_back({{"name", *name},
                          {"bucket", *out_bucket},
                          {"key", *out_key},
                          {"contentType", *content_type},
                          {"format", *format},
                          {"width", *width},
                          {"height", *height},
                          {"bytes", *bytes}});
    }
    json shared = manifest;
    if (auto exif = shared.find("exif"); exif != shared.end() && exif->is_object()) {
        exif->erase("gps");
    }
    json message = {{"type", kProcessedSubject},
                    {"bucket", *bucket},
                    {"key", *key},
                    {"etag", *etag},
                    {"recipeHash", *hash},
                    {"manifestKey", manifest_key},
                    {"outputs", std::move(listed)},
                    {"manifest", std::move(shared)}};
    std::string text = message.dump();
    // Room for the attributes (event, bucket, key: names, types and values).
    const std::size_t attributes = 64 + 2 * bucket->size() + key->size() + 64;
    if (text.size() + attributes > kMaxSnsMessageBytes) {
        message.erase("manifest");  // subscribers can still fetch it at manifestKey
        text = message.dump();
        if (text.size() + attributes > kMaxSnsMessageBytes) {
            return invalid("even without the manifest the message is over SNS's limit");
        }
    }
    return text;
}

std::string failed_message(const PhotoRef& photo, std::string_view reason,
                           std::string_view error_type) {
    return json{{"type", kFailedSubject}, {"bucket", photo.bucket}, {"key", photo.key},
                {"etag", photo.etag},     {"reason", reason},       {"errorType", error_type}}
        .dump();
}

std::string deleted_message(std::string_view bucket, std::string_view key) {
    return json{{"type", kDeletedSubject}, {"bucket", bucket}, {"key", key}}.dump();
}

bool is_permanent_photo_error(const Error& error) {
    switch (error.code) {
    case ErrorCode::UnsupportedFormat:
    case ErrorCode::CorruptInput:
    case ErrorCode::TooLarge:
    case ErrorCode::LimitExceeded:
    case ErrorCode::InvalidArgument:  // a crop outside this photo, a key too long
        return true;
    default:
        return false;
    }
}

FetchFailure classify_fetch_error(const Error& error) {
    switch (error.code) {
    case ErrorCode::PreconditionFailed:
        return FetchFailure::Superseded;
    case ErrorCode::NotFound:
        return FetchFailure::Deleted;
    case ErrorCode::Forbidden:
        return FetchFailure::Rejected;
    default:
        return FetchFailure::Retry;
    }
}

}  // namespace pf::function
