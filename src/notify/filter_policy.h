// Subscription filter policies (SNS FilterPolicy + FilterPolicyScope): parsed and validated once,
// when Subscribe or SetSubscriptionAttributes sets them, then evaluated for every subscription of a
// topic on every Publish. Shared by the SNS API (validation) and fan-out (matching).
//
// Amazon SNS compiles filter policies with AWS's event-ruler, so validation and matching follow it,
// and every error keeps SNS's wording ("Invalid parameter: FilterPolicy: ...", ErrorCode
// InvalidArgument, client_message() safe to return): the SNS API layer maps them to
// InvalidParameter 400 unchanged. SNS appends a parser position ("\n at [Source: ...]"); we don't.
//
// What parse() refuses, in this order:
//   - more than 256 KiB of policy text, text nesting deeper than 64 levels, invalid JSON or UTF-8;
//   - anything but a non-empty JSON object; empty nested objects; empty arrays;
//   - a key whose value is neither an array of match values nor an object (objects only in
//     MessageBody scope: MessageAttributes scope does not support nested policies);
//   - match values other than strings, numbers, true, false, null and one-key operator objects;
//   - unknown operators and operand types: prefix / suffix / equals-ignore-case need a string;
//     exists needs true or false; anything-but takes one string or number, a non-empty list of
//     strings only or numbers only, or {"prefix": s} / {"suffix": s} with s non-empty; numeric
//     takes ["=", n], [op, n] or [">" | ">=", low, "<" | "<=", high] with low < high; cidr takes
//     "address/bits" (IPv4 bits 0..31, IPv6 0..127, as SNS: a single address is an exact string);
//   - numbers in numeric and anything-but outside -1e9..1e9 (literal numbers may be anything);
//   - more than 5 keys: in MessageAttributes scope every key counts, those inside "$or" branches
//     too; in MessageBody scope only top-level keys (and top-level keys of "$or" branches) count;
//   - more than 150 combinations: the product over keys of (values in the key's array x the depth
//     of its object, top level = 1), where an "$or" contributes the sum over its branches.
// "$or" is an operator only when its value is an array of at least 2 objects none of whose keys is
// an operator name; otherwise it is an ordinary key, as SNS documents.
//
// Matching: all keys must match (AND), any value of a key's array may (OR), "$or" branches are
// alternatives. A key absent from the message fails every condition except {"exists": false}.
//   - MessageAttributes: String values are strings, Number values numbers, String.Array values
//     the elements of the JSON array (any element may match); Binary attributes are ignored, so
//     they behave as absent. As SNS documents, {"exists": false} never matches a message that has
//     no (non-Binary) attributes at all.
//   - MessageBody: the body must be a JSON object (else nothing matches, as on SNS). Nested policy
//     objects mirror the body; keys are compared as dotted paths, so {"a": {"b": [...]}} and
//     {"a.b": [...]} both look at {"a": {"b": v}} and at {"a.b": v}. Arrays in the body (nested or
//     of objects) contribute all their elements to a path; any element may match. null is a value
//     (the policy's null literal matches it) but does not satisfy {"exists": true}.
//   - Strings compare exactly and case-sensitively (equals-ignore-case folds ASCII only; a string
//     literal that is an IP address also matches other spellings of that address); numbers
//     compare as numbers, rounded to 5 decimal places, and only within -1e9..1e9 for numeric
//     ranges; a string never equals a number. anything-but matches any present value not excluded
//     (so with String.Array or body arrays, any one value outside the list is enough).
#pragma once

#include "base/result.h"
#include "notify/message.h"

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

namespace pf::notify {

enum class FilterScope { MessageAttributes, MessageBody };

// "MessageAttributes" or "MessageBody", exactly; anything else is SNS's InvalidParameter text.
Result<FilterScope> parse_filter_scope(std::string_view text);
std::string_view to_string(FilterScope scope);

class FilterPolicy {
public:
    static constexpr std::size_t kMaxPolicyBytes = 256 * 1024;
    static constexpr int kMaxJsonDepth = 64;
    static constexpr int kMaxKeys = 5;
    static constexpr long kMaxCombinations = 150;

    static Result<FilterPolicy> parse(std::string_view json, FilterScope scope);

    // `attributes` are the published message's attributes (MessageAttributes scope); `body` is the
    // message text (MessageBody scope). The other argument is ignored.
    bool matches(const std::vector<MessageAttribute>& attributes, std::string_view body) const;

    FilterScope scope() const;

    struct Compiled;  // defined in filter_policy.cc

private:
    explicit FilterPolicy(std::shared_ptr<const Compiled> compiled);

    // Immutable once parsed, so copies of a subscription's policy share one compilation.
    std::shared_ptr<const Compiled> compiled_;
};

}  // namespace pf::notify
