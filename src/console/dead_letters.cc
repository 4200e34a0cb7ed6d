#include "console/dead_letters.h"

#include "aws/time_format.h"
#include "aws/uri_encoding.h"
#include "base/json_depth.h"

#include <chrono>

namespace pf::console {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxDepth = 64;

json parse_limited(const std::string& text) {
    if (text.empty() || json_nesting_exceeds(text, kMaxDepth)) {
        return json(json::value_t::discarded);
    }
    return json::parse(text, nullptr, false);
}

// object[a][b]... as a string, or "" when any step is missing.
std::string path_string(const json& root, std::initializer_list<const char*> path) {
    const json* at = &root;
    for (const char* name : path) {
        if (!at->is_object()) {
            return {};
        }
        auto it = at->find(name);
        if (it == at->end()) {
            return {};
        }
        at = &*it;
    }
    return at->is_string() ? at->get<std::string>() : std::string();
}

}  // namespace

json dead_letter_json(const lambda::StoredDeadLetter& letter) {
    const auto& invocation = letter.invocation;
    json payload = parse_limited(invocation.payload);
    std::string bucket;
    std::string key;
    if (payload.is_object()) {
        auto records = payload.find("Records");
        if (records != payload.end() && records->is_array() && !records->empty()) {
            const json& first = records->front();
            bucket = path_string(first, {"s3", "bucket", "name"});
            std::string raw_key = path_string(first, {"s3", "object", "key"});
            key = aws::form_decode(raw_key).value_or(raw_key);
        }
    }
    std::string error_type = invocation.last_error_type;
    std::string error_message = invocation.last_error_message;
    if (error_type.empty() && error_message.empty()) {
        json record = parse_limited(letter.record);
        if (record.is_object()) {
            error_type = path_string(record, {"responsePayload", "errorType"});
            error_message = path_string(record, {"responsePayload", "errorMessage"});
        }
    }
    auto nullable = [](const std::string& text) { return text.empty() ? json(nullptr) : json(text); };
    return {{"request_id", invocation.request_id},
            {"function", invocation.function},
            {"bucket", nullable(bucket)},
            {"key", nullable(key)},
            {"error_type", nullable(error_type)},
            {"error_message", nullable(error_message)},
            {"condition", letter.condition},
            {"attempts", invocation.attempts},
            {"failed_at", aws::format_iso8601_millis(std::chrono::system_clock::time_point(
                              std::chrono::milliseconds(letter.dead_at_ms)))},
            {"payload", payload.is_discarded() ? json(invocation.payload) : payload}};
}

}  // namespace pf::console
