#include "aws/post_policy.h"

#include "base/json_depth.h"

#include "aws/time_format.h"
#include "crypto/encoding.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>

namespace pf::aws {
namespace {

constexpr std::size_t kMaxJsonDepth = 8;

std::string lowercase(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

Error bad_policy(const std::string& detail) {
    std::string text = "invalid POST policy: " + detail;
    return make_error(ErrorCode::InvalidArgument, text, text);
}

Error policy_denied(const std::string& detail) {
    std::string text = "Invalid according to Policy: " + detail;
    return make_error(ErrorCode::Forbidden, text, text);
}

// content-length-range bounds arrive as numbers (botocore) or as digit strings (some SDKs).
std::optional<std::uint64_t> as_size(const nlohmann::json& value) {
    if (value.is_number_unsigned()) {
        return value.get<std::uint64_t>();
    }
    if (value.is_number_integer()) {
        const auto v = value.get<std::int64_t>();
        return v < 0 ? std::nullopt : std::optional<std::uint64_t>(static_cast<std::uint64_t>(v));
    }
    if (value.is_string()) {
        const auto& s = value.get_ref<const std::string&>();
        if (s.empty() || s.size() > 19 ||
            !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            return std::nullopt;
        }
        return std::stoull(s);
    }
    return std::nullopt;
}

std::string describe(const nlohmann::json& condition) {
    std::string text = condition.dump();
    if (text.size() > 200) {
        text.resize(200);
        text += "...";
    }
    return text;
}

Result<void> parse_condition(const nlohmann::json& condition, PostPolicy& policy) {
    if (condition.is_object()) {
        // {"field": "value"}: exact match.
        for (const auto& [name, value] : condition.items()) {
            if (!value.is_string()) {
                return bad_policy("condition " + describe(condition) + " must have a string value");
            }
            policy.conditions.push_back(
                {lowercase(name), PostPolicy::Match::Exact, value.get<std::string>()});
        }
        return {};
    }
    if (!condition.is_array() || condition.empty() || !condition[0].is_string()) {
        return bad_policy("condition " + describe(condition) +
                          " is neither an object nor an array");
    }
    const std::string op = lowercase(condition[0].get<std::string>());
    if (op == "content-length-range") {
        if (condition.size() != 3) {
            return bad_policy("content-length-range needs a minimum and a maximum");
        }
        const auto low = as_size(condition[1]);
        const auto high = as_size(condition[2]);
        if (!low || !high || *low > *high) {
            return bad_policy("content-length-range " + describe(condition) + " is invalid");
        }
        policy.content_length_range = std::make_pair(*low, *high);
        return {};
    }
    PostPolicy::Match match;
    if (op == "eq") {
        match = PostPolicy::Match::Exact;
    } else if (op == "starts-with") {
        match = PostPolicy::Match::StartsWith;
    } else {
        return bad_policy("unknown condition '" + condition[0].get<std::string>() + "'");
    }
    if (condition.size() != 3 || !condition[1].is_string() || !condition[2].is_string()) {
        return bad_policy("condition " + describe(condition) + " needs a \"$field\" and a value");
    }
    const std::string& field = condition[1].get_ref<const std::string&>();
    if (field.size() < 2 || field[0] != '$') {
        return bad_policy("condition " + describe(condition) + " must name a field as \"$name\"");
    }
    policy.conditions.push_back(
        {lowercase(std::string_view(field).substr(1)), match, condition[2].get<std::string>()});
    return {};
}

Result<PostPolicy> parse_policy_json(const std::string& json) {
    const nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
        return bad_policy("the policy is not valid JSON");
    }
    if (!doc.is_object()) {
        return bad_policy("the policy is not a JSON object");
    }
    PostPolicy policy;
    const auto expiration = doc.find("expiration");
    if (expiration == doc.end() || !expiration->is_string()) {
        return bad_policy("missing \"expiration\"");
    }
    const auto when = parse_iso8601(expiration->get_ref<const std::string&>());
    if (!when) {
        return bad_policy("\"expiration\" is not an ISO 8601 time");
    }
    policy.expiration = *when;
    const auto conditions = doc.find("conditions");
    if (conditions == doc.end() || !conditions->is_array()) {
        return bad_policy("missing \"conditions\" array");
    }
    for (const auto& condition : *conditions) {
        auto parsed = parse_condition(condition, policy);
        if (!parsed) {
            return parsed.error();
        }
    }
    return policy;
}

const std::string* find_field(const FormFields& fields, std::string_view lower_name) {
    for (const auto& [name, value] : fields) {
        if (name.size() == lower_name.size() && lowercase(name) == lower_name) {
            return &value;
        }
    }
    return nullptr;
}

bool exempt_from_coverage(std::string_view lower_name) {
    return lower_name == "x-amz-signature" || lower_name == "file" || lower_name == "policy" ||
           lower_name.rfind("x-ignore-", 0) == 0;
}

} // namespace

Result<PostPolicy> parse_post_policy(std::string_view policy_base64, std::size_t max_bytes) {
    if (policy_base64.size() / 4 * 3 > max_bytes + 3) {
        return bad_policy("the policy is larger than " + std::to_string(max_bytes) + " bytes");
    }
    // Browsers and form encoders sometimes wrap long base64 lines.
    std::string compact;
    compact.reserve(policy_base64.size());
    for (const char c : policy_base64) {
        if (c != '\r' && c != '\n' && c != ' ') {
            compact.push_back(c);
        }
    }
    const auto json = crypto::base64_decode(compact);
    if (!json) {
        return bad_policy("the policy is not valid base64");
    }
    if (json->size() > max_bytes) {
        return bad_policy("the policy is larger than " + std::to_string(max_bytes) + " bytes");
    }
    if (json_nesting_exceeds(*json, kMaxJsonDepth)) {  // small and shallow, or hostile
        return bad_policy("the policy nests deeper than " + std::to_string(kMaxJsonDepth) +
                          " levels");
    }
    try {
        return parse_policy_json(*json);
    } catch (const nlohmann::json::exception& e) {
        // Type checks above should make this unreachable; the edge still never lets one escape.
        return bad_policy(std::string("the policy could not be read: ") + e.what());
    }
}

Result<void> check_post_policy_fields(const PostPolicy& policy, const FormFields& fields,
                                      std::string_view bucket, std::string_view key,
                                      std::chrono::system_clock::time_point now) {
    if (now > policy.expiration) {
        return policy_denied("Policy expired.");
    }
    bool bucket_covered = false;
    for (const auto& condition : policy.conditions) {
        std::string_view actual;
        if (condition.field == "bucket") {
            actual = bucket;
            bucket_covered = true;
        } else if (condition.field == "key") {
            actual = key;
        } else if (const std::string* value = find_field(fields, condition.field)) {
            actual = *value;
        }
        // An absent field is the empty string, so ["starts-with", "$x", ""] admits its absence.
        const bool holds = condition.match == PostPolicy::Match::Exact
                               ? actual == condition.value
                               : actual.substr(0, condition.value.size()) == condition.value;
        if (!holds) {
            const char* op = condition.match == PostPolicy::Match::Exact ? "eq" : "starts-with";
            return policy_denied("Policy Condition failed: [\"" + std::string(op) + "\", \"$" +
                                 condition.field + "\", \"" + condition.value + "\"]");
        }
    }
    if (!bucket_covered) {
        return policy_denied("Policy Condition failed: the policy has no condition on bucket");
    }
    for (const auto& [name, value] : fields) {
        const std::string lower = lowercase(name);
        if (exempt_from_coverage(lower) || lower == "bucket") {
            continue;
        }
        const bool covered =
            std::any_of(policy.conditions.begin(), policy.conditions.end(),
                        [&](const PostPolicy::FieldCondition& c) { return c.field == lower; });
        if (!covered) {
            return policy_denied("Extra input fields: " + name);
        }
    }
    return {};
}

Result<void> check_post_policy_size(const PostPolicy& policy, std::uint64_t file_size) {
    if (!policy.content_length_range) {
        return {};
    }
    const auto [low, high] = *policy.content_length_range;
    if (file_size > high) {
        return make_error(ErrorCode::TooLarge,
                          "POST upload of " + std::to_string(file_size) +
                              " bytes is over the policy maximum of " + std::to_string(high),
                          "Your proposed upload exceeds the maximum allowed size");
    }
    if (file_size < low) {
        return make_error(ErrorCode::LimitExceeded,
                          "POST upload of " + std::to_string(file_size) +
                              " bytes is under the policy minimum of " + std::to_string(low),
                          "Your proposed upload is smaller than the minimum allowed size");
    }
    return {};
}

} // namespace pf::aws
