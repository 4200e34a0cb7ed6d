#include "notify/filter_policy.h"

#include "base/json_depth.h"

#include "base/ascii.h"

#include <arpa/inet.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

namespace pf::notify {

namespace {

using PolicyJson = nlohmann::ordered_json;  // document order, so the first error is SNS's first

// A published body may be as large as a message (256 KiB); deeper nesting than this is hostile.
constexpr int kMaxBodyDepth = 128;
// SNS's numeric domain: -1e9..1e9 with 5 decimal places, compared as scaled integers.
constexpr double kNumberLimit = 1e9;
constexpr double kNumberScale = 1e5;
// Saturation point for the complexity count: far above the limit, far below overflow.
constexpr long kComplexityCap = 1'000'000'000L;

Error policy_error(const std::string& detail) {
    std::string text = "Invalid parameter: FilterPolicy: " + detail;
    return make_error(ErrorCode::InvalidArgument, text, text);
}

std::optional<std::int64_t> scaled(double value) {
    if (!(value >= -kNumberLimit && value <= kNumberLimit)) {
        return std::nullopt;  // also NaN
    }
    return std::llround(value * kNumberScale);
}

// ---- IP addresses (cidr, and string literals that are addresses) -------------------------------

struct IpAddress {
    std::size_t length = 0;  // 4 or 16
    std::array<std::uint8_t, 16> bytes{};
};

std::optional<IpAddress> parse_ip(std::string_view text) {
    if (text.empty() || text.size() > 64) {
        return std::nullopt;
    }
    const std::string copy(text);  // inet_pton wants a terminated string
    IpAddress ip;
    if (copy.find(':') == std::string::npos) {
        if (inet_pton(AF_INET, copy.c_str(), ip.bytes.data()) != 1) {
            return std::nullopt;
        }
        ip.length = 4;
    } else {
        if (inet_pton(AF_INET6, copy.c_str(), ip.bytes.data()) != 1) {
            return std::nullopt;
        }
        ip.length = 16;
    }
    return ip;
}

// ---- Compiled form ------------------------------------------------------------------------------

enum class ValueType { String, Number, Boolean, Null };

struct Literal {
    ValueType type = ValueType::Null;
    std::string text;             // String
    double number = 0;            // Number
    bool boolean = false;         // Boolean
    std::optional<IpAddress> ip;  // String that is an IP address: also matches its other spellings
};

struct Bound {
    std::int64_t scaled = 0;
    bool inclusive = false;
};

enum class ConditionKind {
    Exact,
    Prefix,
    Suffix,
    EqualsIgnoreCase,
    AnythingBut,
    AnythingButPrefix,
    AnythingButSuffix,
    Numeric,
    Exists,
    Cidr,
};

struct Condition {
    ConditionKind kind = ConditionKind::Exact;
    Literal literal;                // Exact
    std::string text;               // Prefix, Suffix, EqualsIgnoreCase, AnythingButPrefix/Suffix
    std::vector<Literal> excluded;  // AnythingBut: all strings or all numbers
    std::optional<Bound> lower;     // Numeric
    std::optional<Bound> upper;     // Numeric
    bool exists = false;            // Exists
    IpAddress range_low;            // Cidr: inclusive byte range, as SNS computes it
    IpAddress range_high;
};

struct KeyRule {
    std::size_t path_index = 0;  // into Compiled::paths
    std::vector<Condition> conditions;
};

struct Branch {
    std::vector<KeyRule> keys;  // all must match
};

}  // namespace

struct FilterPolicy::Compiled {
    FilterScope scope = FilterScope::MessageAttributes;
    std::vector<std::string> paths;  // every key the policy names, as dotted paths
    std::vector<Branch> branches;    // "$or" expanded: any branch may match
};

namespace {

// ---- Parsing ------------------------------------------------------------------------------------

// One policy object before "$or" expansion: its keys, nested objects and "$or" alternatives.
struct PolicyNode {
    int depth = 1;
    std::vector<KeyRule> leaves;
    std::vector<PolicyNode> children;
    std::vector<std::vector<PolicyNode>> ors;
};

bool is_operator_name(std::string_view name) {
    return name == "prefix" || name == "suffix" || name == "equals-ignore-case" ||
           name == "anything-but" || name == "numeric" || name == "exists" || name == "cidr" ||
           name == "exact" || name == "wildcard";
}

// SNS recognises "$or" only as an array of at least 2 objects that are not operator objects.
bool is_or_relationship(const PolicyJson& value) {
    if (!value.is_array() || value.size() < 2) {
        return false;
    }
    for (const auto& element : value) {
        if (!element.is_object()) {
            return false;
        }
        for (auto it = element.begin(); it != element.end(); ++it) {
            if (is_operator_name(it.key())) {
                return false;
            }
        }
    }
    return true;
}

// How SNS's JSON parser would print the offending token in a message.
std::string token_text(const PolicyJson& value) {
    if (value.is_string()) {
        return value.get<std::string>();
    }
    if (value.is_object()) {
        return "{";
    }
    if (value.is_array()) {
        return "[";
    }
    return value.dump();
}

std::string number_range_message() {
    return "Value must be between -1.0E9 and 1.0E9, inclusive";
}

class PolicyParser {
public:
    explicit PolicyParser(FilterScope scope) : scope_(scope) {}

    std::optional<Error> parse_object(const PolicyJson& object, const std::string& prefix,
                                      int depth, PolicyNode& node) {
        node.depth = depth;
        if (object.empty()) {
            return policy_error("Empty objects are not allowed");
        }
        for (const auto& [key, value] : object.items()) {
            if (key == "$or" && is_or_relationship(value)) {
                std::vector<PolicyNode> alternatives(value.size());
                for (std::size_t i = 0; i < value.size(); ++i) {
                    // Branches sit at the depth of the object holding "$or", as SNS counts them.
                    if (auto error = parse_object(value[i], prefix, depth, alternatives[i])) {
                        return error;
                    }
                }
                node.ors.push_back(std::move(alternatives));
                continue;
            }
            const std::string path = prefix.empty() ? key : prefix + "." + key;
            if (value.is_object()) {
                if (scope_ == FilterScope::MessageAttributes) {
                    std::string text = "Invalid parameter: Filter policy scope MessageAttributes "
                                       "does not support nested filter policy";
                    return make_error(ErrorCode::InvalidArgument, text, text);
                }
                PolicyNode child;
                if (auto error = parse_object(value, path, depth + 1, child)) {
                    return error;
                }
                node.children.push_back(std::move(child));
            } else if (value.is_array()) {
                KeyRule rule;
                rule.path_index = intern(path);
                if (auto error = parse_match_list(value, rule)) {
                    return error;
                }
                node.leaves.push_back(std::move(rule));
            } else {
                return policy_error("\"" + key + "\" must be an object or an array");
            }
        }
        return std::nullopt;
    }

    std::vector<std::string> take_paths() { return std::move(paths_); }

private:
    std::size_t intern(const std::string& path) {
        const auto it = std::find(paths_.begin(), paths_.end(), path);
        if (it != paths_.end()) {
            return static_cast<std::size_t>(it - paths_.begin());
        }
        paths_.push_back(path);
        return paths_.size() - 1;
    }

    static std::optional<Error> parse_match_list(const PolicyJson& list, KeyRule& rule) {
        for (const auto& value : list) {
            Condition condition;
            if (value.is_object()) {
                if (auto error = parse_match_expression(value, condition)) {
                    return error;
                }
            } else if (auto literal = to_literal(value)) {
                condition.kind = ConditionKind::Exact;
                condition.literal = std::move(*literal);
            } else {
                return policy_error("Match value must be String, number, true, false, or null");
            }
            rule.conditions.push_back(std::move(condition));
        }
        if (rule.conditions.empty()) {
            return policy_error("Empty arrays are not allowed");
        }
        return std::nullopt;
    }

    static std::optional<Literal> to_literal(const PolicyJson& value) {
        Literal literal;
        if (value.is_string()) {
            literal.type = ValueType::String;
            literal.text = value.get<std::string>();
            literal.ip = parse_ip(literal.text);
        } else if (value.is_number()) {
            literal.type = ValueType::Number;
            literal.number = value.get<double>();
        } else if (value.is_boolean()) {
            literal.type = ValueType::Boolean;
            literal.boolean = value.get<bool>();
        } else if (value.is_null()) {
            literal.type = ValueType::Null;
        } else {
            return std::nullopt;
        }
        return literal;
    }

    // {"operator": operand}. SNS checks the operand before complaining about extra keys, and says
    // "Too many elements in numeric expression" for extra keys after numeric and anything-but.
    static std::optional<Error> parse_match_expression(const PolicyJson& expression,
                                                       Condition& condition) {
        if (expression.empty()) {
            return policy_error("Match expression name not found");
        }
        const auto first = expression.begin();
        const std::string& name = first.key();
        const PolicyJson& operand = first.value();
        const bool extra_keys = expression.size() > 1;
        const auto one_key = [&]() -> std::optional<Error> {
            if (extra_keys) {
                return policy_error("Only one key allowed in match expression");
            }
            return std::nullopt;
        };

        if (name == "prefix" || name == "suffix" || name == "equals-ignore-case") {
            if (!operand.is_string()) {
                return policy_error(name + " match pattern must be a string");
            }
            condition.kind = name == "prefix"   ? ConditionKind::Prefix
                             : name == "suffix" ? ConditionKind::Suffix
                                                : ConditionKind::EqualsIgnoreCase;
            condition.text = operand.get<std::string>();
            return one_key();
        }
        if (name == "exists") {
            if (!operand.is_boolean()) {
                return policy_error("exists match pattern must be either true or false.");
            }
            condition.kind = ConditionKind::Exists;
            condition.exists = operand.get<bool>();
            return one_key();
        }
        if (name == "cidr") {
            if (!operand.is_string()) {
                // SNS's wording for this case, verbatim (its parser reuses the prefix message).
                return policy_error("prefix match pattern must be a string");
            }
            if (auto error = parse_cidr(operand.get<std::string>(), condition)) {
                return error;
            }
            return one_key();
        }
        if (name == "numeric") {
            if (!operand.is_array()) {
                return policy_error("Value of numeric must be an array.");
            }
            if (auto error = parse_numeric(operand, condition)) {
                return error;
            }
            if (extra_keys) {
                return policy_error("Too many elements in numeric expression");
            }
            return std::nullopt;
        }
        if (name == "anything-but") {
            if (auto error = parse_anything_but(operand, condition)) {
                return error;
            }
            if (extra_keys) {
                return policy_error("Too many elements in numeric expression");
            }
            return std::nullopt;
        }
        return policy_error("Unrecognized match type " + name);
    }

    static std::optional<Error> parse_anything_but(const PolicyJson& operand,
                                                   Condition& condition) {
        if (operand.is_object()) {
            if (operand.empty()) {
                return policy_error("Anything-But expression name not found");
            }
            const auto first = operand.begin();
            const std::string& name = first.key();
            if (name != "prefix" && name != "suffix") {
                return policy_error("Unsupported anything-but pattern: " + name);
            }
            if (!first.value().is_string()) {
                return policy_error(name + " match pattern must be a string");
            }
            condition.text = first.value().get<std::string>();
            if (condition.text.empty()) {
                return policy_error("Null prefix/suffix not allowed");
            }
            if (operand.size() > 1) {
                return policy_error("Only one key allowed in match expression");
            }
            condition.kind = name == "prefix" ? ConditionKind::AnythingButPrefix
                                              : ConditionKind::AnythingButSuffix;
            return std::nullopt;
        }

        condition.kind = ConditionKind::AnythingBut;
        const auto add = [&](const PolicyJson& value) -> std::optional<Error> {
            auto literal = to_literal(value);
            if (literal->type == ValueType::Number && !scaled(literal->number)) {
                return policy_error(number_range_message());
            }
            condition.excluded.push_back(std::move(*literal));
            return std::nullopt;
        };
        if (operand.is_string() || operand.is_number()) {
            return add(operand);
        }
        if (!operand.is_array()) {
            return policy_error(
                "Value of anything-but must be an array or single string/number value.");
        }
        bool has_string = false;
        bool has_number = false;
        for (const auto& value : operand) {
            if (!value.is_string() && !value.is_number()) {
                return policy_error(
                    "Inside anything but list, start|null|boolean is not supported.");
            }
            (value.is_string() ? has_string : has_number) = true;
            if (auto error = add(value)) {
                return error;
            }
        }
        if (has_string == has_number) {  // mixed, or an empty list
            return policy_error("Inside anything but list, either all values are number or string, "
                                "mixed type is not supported");
        }
        return std::nullopt;
    }

    static std::optional<Error> numeric_operand(const PolicyJson& list, std::size_t index,
                                                const std::string& op, Bound& bound,
                                                bool inclusive) {
        if (index >= list.size() || !list[index].is_number()) {
            return policy_error("Value of " + (op == "=" ? std::string("equals") : op) +
                                " must be numeric");
        }
        const auto value = scaled(list[index].get<double>());
        if (!value) {
            return policy_error(number_range_message());
        }
        bound = Bound{*value, inclusive};
        return std::nullopt;
    }

    static std::optional<Error> parse_numeric(const PolicyJson& list, Condition& condition) {
        condition.kind = ConditionKind::Numeric;
        if (list.empty()) {
            return policy_error("Invalid member in numeric match: ]");
        }
        if (!list[0].is_string()) {
            return policy_error("Invalid member in numeric match: " + token_text(list[0]));
        }
        const std::string op = list[0].get<std::string>();
        Bound bound;
        if (op == "=") {
            if (auto error = numeric_operand(list, 1, op, bound, true)) {
                return error;
            }
            if (list.size() > 2) {
                return policy_error("Too many elements in numeric expression");
            }
            condition.lower = bound;
            condition.upper = bound;
            return std::nullopt;
        }
        if (op == "<" || op == "<=") {
            if (auto error = numeric_operand(list, 1, op, bound, op == "<=")) {
                return error;
            }
            if (list.size() > 2) {
                return policy_error("Too many elements in numeric expression");
            }
            condition.upper = bound;
            return std::nullopt;
        }
        if (op != ">" && op != ">=") {
            return policy_error("Unrecognized numeric range operator: " + op);
        }
        if (auto error = numeric_operand(list, 1, op, bound, op == ">=")) {
            return error;
        }
        condition.lower = bound;
        if (list.size() == 2) {
            return std::nullopt;
        }
        // A range: [">" | ">=", low, "<" | "<=", high].
        if (!list[2].is_string()) {
            return policy_error("Bad value in numeric range: " + token_text(list[2]));
        }
        const std::string top_op = list[2].get<std::string>();
        if (top_op != "<" && top_op != "<=") {
            return policy_error("Bad numeric range operator: " + top_op);
        }
        if (auto error = numeric_operand(list, 3, top_op, bound, top_op == "<=")) {
            return error;
        }
        if (list.size() > 4) {
            return policy_error("Too many terms in numeric range expression");
        }
        if (condition.lower->scaled >= bound.scaled) {
            return policy_error("Bottom must be less than top");
        }
        condition.upper = bound;
        return std::nullopt;
    }

    static std::optional<Error> parse_cidr(const std::string& text, Condition& condition) {
        const auto slash = text.find('/');
        if (slash == std::string::npos || slash + 1 == text.size() ||
            text.find('/', slash + 1) != std::string::npos) {
            return policy_error("Malformed CIDR, one '/' required");
        }
        std::string_view digits = std::string_view(text).substr(slash + 1);
        if (digits.front() == '+') {
            digits.remove_prefix(1);  // SNS's integer parser takes a sign
        }
        int bits = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
        if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
            return policy_error("Malformed CIDR, mask bits must be an integer");
        }
        if (bits < 0) {
            return policy_error("Malformed CIDR, mask bits must not be negative");
        }
        const std::string address = text.substr(0, slash);
        const auto ip = parse_ip(address);
        if (!ip) {
            return policy_error("Nonstandard IP address: " + address);
        }
        if (ip->length == 4 && bits > 31) {
            return policy_error("IPv4 mask bits must be < 32");
        }
        if (ip->length == 16 && bits > 127) {
            return policy_error("IPv6 mask bits must be < 128");
        }
        // As SNS does, the range runs from the address as written (host bits kept) to the top of
        // its block: "10.0.0.5/24" covers 10.0.0.5 .. 10.0.0.255.
        condition.kind = ConditionKind::Cidr;
        condition.range_low = *ip;
        condition.range_high = *ip;
        int host_bits = static_cast<int>(ip->length) * 8 - bits;
        for (std::size_t i = ip->length; i-- > 0 && host_bits > 0; host_bits -= 8) {
            const int n = std::min(host_bits, 8);
            condition.range_high.bytes[i] |= static_cast<std::uint8_t>((1u << n) - 1u);
        }
        return std::nullopt;
    }

    FilterScope scope_;
    std::vector<std::string> paths_;
};

long saturating_multiply(long a, long b) {
    if (a != 0 && b > kComplexityCap / a) {
        return kComplexityCap;
    }
    return std::min(a * b, kComplexityCap);
}

// SNS's "total combination": values per array times the depth of its object, multiplied across
// keys; an "$or" adds up its branches. Saturates, since hostile policies could overflow.
long complexity(const PolicyNode& node) {
    long total = 1;
    for (const auto& leaf : node.leaves) {
        total = saturating_multiply(total, static_cast<long>(leaf.conditions.size()) *
                                               static_cast<long>(node.depth));
    }
    for (const auto& child : node.children) {
        total = saturating_multiply(total, complexity(child));
    }
    for (const auto& alternatives : node.ors) {
        long sum = 0;
        for (const auto& branch : alternatives) {
            sum = std::min(sum + complexity(branch), kComplexityCap);
        }
        total = saturating_multiply(total, sum);
    }
    return total;
}

// Keys toward the limit of 5: the object's own keys and those of its "$or" branches; nested
// objects count as one key (in MessageAttributes scope there are none).
long key_count(const PolicyNode& node) {
    long count = static_cast<long>(node.leaves.size() + node.children.size());
    for (const auto& alternatives : node.ors) {
        for (const auto& branch : alternatives) {
            count += key_count(branch);
        }
    }
    return count;
}

std::vector<Branch> cross(const std::vector<Branch>& left, const std::vector<Branch>& right) {
    std::vector<Branch> out;
    out.reserve(left.size() * right.size());
    for (const auto& a : left) {
        for (const auto& b : right) {
            Branch joined = a;
            joined.keys.insert(joined.keys.end(), b.keys.begin(), b.keys.end());
            out.push_back(std::move(joined));
        }
    }
    return out;
}

// Called only after the complexity check, which bounds the number of branches by 150.
std::vector<Branch> expand(const PolicyNode& node) {
    std::vector<Branch> branches{Branch{node.leaves}};
    for (const auto& child : node.children) {
        branches = cross(branches, expand(child));
    }
    for (const auto& alternatives : node.ors) {
        std::vector<Branch> any;
        for (const auto& branch : alternatives) {
            auto expanded = expand(branch);
            any.insert(any.end(), expanded.begin(), expanded.end());
        }
        branches = cross(branches, any);
    }
    return branches;
}

// ---- Matching -----------------------------------------------------------------------------------

struct Value {
    ValueType type = ValueType::Null;
    std::string_view text;  // String
    double number = 0;      // Number
    bool boolean = false;   // Boolean
};

struct KeyValues {
    bool exists = false;        // for {"exists": ...}: present with a non-null value
    std::vector<Value> values;  // every value the message has at this key
};

bool numbers_equal(double a, double b) {
    const auto sa = scaled(a);
    const auto sb = scaled(b);
    if (sa && sb) {
        return *sa == *sb;
    }
    return a == b;  // outside SNS's numeric domain only identical numbers are equal
}

bool literal_equals(const Literal& literal, const Value& value) {
    if (literal.type != value.type) {
        return false;
    }
    switch (literal.type) {
    case ValueType::String:
        if (literal.text == value.text) {
            return true;
        }
        if (literal.ip) {
            const auto ip = parse_ip(value.text);
            return ip && ip->length == literal.ip->length && ip->bytes == literal.ip->bytes;
        }
        return false;
    case ValueType::Number:
        return numbers_equal(literal.number, value.number);
    case ValueType::Boolean:
        return literal.boolean == value.boolean;
    case ValueType::Null:
        return true;
    }
    return false;
}

bool in_numeric_range(const Condition& condition, double number) {
    const auto value = scaled(number);
    if (!value) {
        return false;
    }
    if (condition.lower && (condition.lower->inclusive ? *value < condition.lower->scaled
                                                       : *value <= condition.lower->scaled)) {
        return false;
    }
    if (condition.upper && (condition.upper->inclusive ? *value > condition.upper->scaled
                                                       : *value >= condition.upper->scaled)) {
        return false;
    }
    return true;
}

bool in_cidr(const Condition& condition, std::string_view text) {
    const auto ip = parse_ip(text);
    if (!ip || ip->length != condition.range_low.length) {
        return false;
    }
    const auto begin = ip->bytes.begin();
    const auto end = begin + static_cast<std::ptrdiff_t>(ip->length);
    return !std::lexicographical_compare(begin, end, condition.range_low.bytes.begin(),
                                         condition.range_low.bytes.begin() + (end - begin)) &&
           !std::lexicographical_compare(condition.range_high.bytes.begin(),
                                         condition.range_high.bytes.begin() + (end - begin), begin,
                                         end);
}

bool value_matches(const Condition& condition, const Value& value) {
    const bool is_string = value.type == ValueType::String;
    switch (condition.kind) {
    case ConditionKind::Exact:
        return literal_equals(condition.literal, value);
    case ConditionKind::Prefix:
        return is_string && value.text.starts_with(condition.text);
    case ConditionKind::Suffix:
        return is_string && value.text.ends_with(condition.text);
    case ConditionKind::EqualsIgnoreCase:
        return is_string && ascii_iequals(value.text, condition.text);
    case ConditionKind::AnythingBut:
        return std::none_of(
            condition.excluded.begin(), condition.excluded.end(),
            [&](const Literal& excluded) { return literal_equals(excluded, value); });
    case ConditionKind::AnythingButPrefix:
        return !(is_string && value.text.starts_with(condition.text));
    case ConditionKind::AnythingButSuffix:
        return !(is_string && value.text.ends_with(condition.text));
    case ConditionKind::Numeric:
        return value.type == ValueType::Number && in_numeric_range(condition, value.number);
    case ConditionKind::Cidr:
        return is_string && in_cidr(condition, value.text);
    case ConditionKind::Exists:
        return false;  // decided on the key, not on a value
    }
    return false;
}

bool key_matches(const KeyRule& rule, const KeyValues& key, bool absence_can_match) {
    for (const auto& condition : rule.conditions) {
        if (condition.kind == ConditionKind::Exists) {
            if (condition.exists ? key.exists : (!key.exists && absence_can_match)) {
                return true;
            }
            continue;
        }
        for (const auto& value : key.values) {
            if (value_matches(condition, value)) {
                return true;
            }
        }
    }
    return false;
}

bool any_branch_matches(const FilterPolicy::Compiled& policy, const std::vector<KeyValues>& keys,
                        bool absence_can_match) {
    return std::any_of(policy.branches.begin(), policy.branches.end(), [&](const Branch& branch) {
        return std::all_of(branch.keys.begin(), branch.keys.end(), [&](const KeyRule& rule) {
            return key_matches(rule, keys[rule.path_index], absence_can_match);
        });
    });
}

std::optional<Value> json_value(const nlohmann::json& json) {
    Value value;
    if (json.is_string()) {
        value.type = ValueType::String;
        value.text = json.get_ref<const std::string&>();
    } else if (json.is_number()) {
        value.type = ValueType::Number;
        value.number = json.get<double>();
    } else if (json.is_boolean()) {
        value.type = ValueType::Boolean;
        value.boolean = json.get<bool>();
    } else if (json.is_null()) {
        value.type = ValueType::Null;
    } else {
        return std::nullopt;
    }
    return value;
}

std::optional<double> parse_number(std::string_view text) {
    if (!text.empty() && text.front() == '+') {
        text.remove_prefix(1);
    }
    double number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
        !std::isfinite(number)) {
        return std::nullopt;
    }
    return number;
}

enum class AttributeKind { String, StringArray, Number, Ignored };

// Custom types carry a suffix ("Number.float", "String.Array.ids"); Binary is never compared.
AttributeKind attribute_kind(std::string_view type) {
    if (type == "String.Array" || type.starts_with("String.Array.")) {
        return AttributeKind::StringArray;
    }
    const std::string_view base = type.substr(0, type.find('.'));
    if (base == "String") {
        return AttributeKind::String;
    }
    if (base == "Number") {
        return AttributeKind::Number;
    }
    return AttributeKind::Ignored;
}

bool matches_attributes(const FilterPolicy::Compiled& policy,
                        const std::vector<MessageAttribute>& attributes) {
    bool any_attribute = false;
    std::vector<KeyValues> keys(policy.paths.size());
    std::deque<nlohmann::json> arrays;  // keeps String.Array elements alive for the string views
    for (const auto& attribute : attributes) {
        const AttributeKind kind = attribute_kind(attribute.data_type);
        if (kind == AttributeKind::Ignored) {
            continue;
        }
        any_attribute = true;
        const auto path = std::find(policy.paths.begin(), policy.paths.end(), attribute.name);
        if (path == policy.paths.end()) {
            continue;
        }
        KeyValues& key = keys[static_cast<std::size_t>(path - policy.paths.begin())];
        key.exists = true;
        switch (kind) {
        case AttributeKind::String:
            key.values.push_back(Value{ValueType::String, attribute.string_value, 0, false});
            break;
        case AttributeKind::Number:
            // Publish validated it; a value that still does not parse compares as nothing.
            if (const auto number = parse_number(attribute.string_value)) {
                key.values.push_back(Value{ValueType::Number, {}, *number, false});
            }
            break;
        case AttributeKind::StringArray: {
            if (json_nesting_exceeds(attribute.string_value, kMaxBodyDepth)) {
                break;
            }
            auto& array = arrays.emplace_back(
                nlohmann::json::parse(attribute.string_value, nullptr, /*allow_exceptions=*/false));
            if (!array.is_array()) {
                break;
            }
            for (const auto& element : array) {
                if (const auto value = json_value(element)) {
                    key.values.push_back(*value);
                }
            }
            break;
        }
        case AttributeKind::Ignored:
            break;
        }
    }
    // SNS: {"exists": false} does not match a message without attributes.
    return any_branch_matches(policy, keys, /*absence_can_match=*/any_attribute);
}

// Records every leaf of the body under its dotted path, when the policy asks about that path.
void collect_leaves(const nlohmann::json& json, const std::string& path,
                    const FilterPolicy::Compiled& policy, std::vector<KeyValues>& keys) {
    if (json.is_object()) {
        for (const auto& [name, child] : json.items()) {
            collect_leaves(child, path.empty() ? name : path + "." + name, policy, keys);
        }
        return;
    }
    if (json.is_array()) {
        for (const auto& element : json) {
            collect_leaves(element, path, policy, keys);
        }
        return;
    }
    const auto it = std::find(policy.paths.begin(), policy.paths.end(), path);
    if (it == policy.paths.end()) {
        return;
    }
    KeyValues& key = keys[static_cast<std::size_t>(it - policy.paths.begin())];
    if (const auto value = json_value(json)) {
        key.values.push_back(*value);
        key.exists = key.exists || value->type != ValueType::Null;
    }
}

bool matches_body(const FilterPolicy::Compiled& policy, std::string_view body) {
    // Depth is checked on the text first, so collect_leaves recurses at most kMaxBodyDepth deep.
    if (json_nesting_exceeds(body, kMaxBodyDepth)) {
        return false;
    }
    const nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) {
        return false;  // also a body that is not JSON at all
    }
    std::vector<KeyValues> keys(policy.paths.size());
    collect_leaves(json, "", policy, keys);
    return any_branch_matches(policy, keys, /*absence_can_match=*/true);
}

Result<FilterPolicy::Compiled> compile(std::string_view json, FilterScope scope) {
    if (json.size() > FilterPolicy::kMaxPolicyBytes) {
        return policy_error("Filter policy is larger than " +
                            std::to_string(FilterPolicy::kMaxPolicyBytes) + " bytes");
    }
    if (json_nesting_exceeds(json, FilterPolicy::kMaxJsonDepth)) {
        return policy_error("Filter policy nests deeper than " +
                            std::to_string(FilterPolicy::kMaxJsonDepth) + " levels");
    }
    const PolicyJson document = PolicyJson::parse(json, nullptr, /*allow_exceptions=*/false);
    if (document.is_discarded()) {
        return policy_error("Filter policy is not valid JSON");
    }
    if (!document.is_object()) {
        return policy_error("Filter is not an object");
    }
    PolicyParser parser(scope);
    PolicyNode root;
    if (auto error = parser.parse_object(document, "", 1, root)) {
        return *error;
    }
    if (key_count(root) > FilterPolicy::kMaxKeys) {
        return policy_error("Filter policy can not have more than " +
                            std::to_string(FilterPolicy::kMaxKeys) + " keys");
    }
    if (complexity(root) > FilterPolicy::kMaxCombinations) {
        return policy_error("Filter policy is too complex");
    }
    FilterPolicy::Compiled compiled;
    compiled.scope = scope;
    compiled.paths = parser.take_paths();
    compiled.branches = expand(root);
    return compiled;
}

}  // namespace

Result<FilterScope> parse_filter_scope(std::string_view text) {
    if (text == "MessageAttributes") {
        return FilterScope::MessageAttributes;
    }
    if (text == "MessageBody") {
        return FilterScope::MessageBody;
    }
    std::string message = "Invalid parameter: FilterPolicyScope: Invalid value [" +
                          std::string(text) +
                          "]. Please use either MessageBody or MessageAttributes";
    return make_error(ErrorCode::InvalidArgument, message, message);
}

std::string_view to_string(FilterScope scope) {
    return scope == FilterScope::MessageBody ? "MessageBody" : "MessageAttributes";
}

FilterPolicy::FilterPolicy(std::shared_ptr<const Compiled> compiled)
    : compiled_(std::move(compiled)) {}

Result<FilterPolicy> FilterPolicy::parse(std::string_view json, FilterScope scope) {
    try {
        auto compiled = compile(json, scope);
        if (!compiled) {
            return compiled.error();
        }
        return FilterPolicy(std::make_shared<const Compiled>(std::move(compiled).value()));
    } catch (const nlohmann::json::exception& e) {
        // Every access above is type-checked first; the edge still never lets one escape.
        return policy_error(std::string("Filter policy could not be read: ") + e.what());
    }
}

bool FilterPolicy::matches(const std::vector<MessageAttribute>& attributes,
                           std::string_view body) const {
    try {
        return compiled_->scope == FilterScope::MessageBody
                   ? matches_body(*compiled_, body)
                   : matches_attributes(*compiled_, attributes);
    } catch (const nlohmann::json::exception&) {
        return false;  // unreachable by construction; a message we cannot read matches nothing
    }
}

FilterScope FilterPolicy::scope() const {
    return compiled_->scope;
}

}  // namespace pf::notify
