// Browser POST uploads: the policy document (base64 JSON with an expiration and conditions) and its
// evaluation against the submitted form fields and the file size. Every condition is enforced and
// every submitted field must be covered by one, as S3 does.
#pragma once

#include "base/result.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::aws {

struct PostPolicy {
    std::chrono::system_clock::time_point expiration;
    enum class Match { Exact, StartsWith };
    struct FieldCondition {
        std::string field; // lowercase, without '$' ("key", "content-type", "x-amz-meta-uuid")
        Match match = Match::Exact;
        std::string value;
    };
    std::vector<FieldCondition> conditions;
    std::optional<std::pair<std::uint64_t, std::uint64_t>> content_length_range;
};

// Parses the base64 policy. InvalidArgument with a message naming the problem (bad base64, bad
// JSON, missing expiration, unknown condition form). The JSON is limited to max_bytes.
Result<PostPolicy> parse_post_policy(std::string_view policy_base64, std::size_t max_bytes = 20480);

// Form fields as submitted (names as sent; compared case-insensitively), before the file.
using FormFields = std::vector<std::pair<std::string, std::string>>;

// Checks expiration (Forbidden "Invalid according to Policy: Policy expired"), that every
// condition holds ("bucket" is checked against `bucket`; "key" after ${filename} substitution),
// and that every submitted field other than x-amz-signature, file, policy and x-ignore-* is
// covered by a condition (Forbidden "Invalid according to Policy: Extra input fields: <name>").
Result<void> check_post_policy_fields(const PostPolicy& policy, const FormFields& fields,
                                      std::string_view bucket, std::string_view key,
                                      std::chrono::system_clock::time_point now);

// Checks the uploaded size against content-length-range: TooLarge (EntityTooLarge) above,
// LimitExceeded (EntityTooSmall) below.
Result<void> check_post_policy_size(const PostPolicy& policy, std::uint64_t file_size);

} // namespace pf::aws
