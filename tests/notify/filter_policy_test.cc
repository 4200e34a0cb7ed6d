// Filter policies, as tables: one of messages that must (not) match a policy, in both scopes, and
// one of policies SNS refuses (with the substring of its error) or accepts at the limits. Where a
// row's expectation is SNS's documented or recorded behaviour, its name says what it pins down.
#include "notify/filter_policy.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace pf::notify {
namespace {

constexpr auto kAttrs = FilterScope::MessageAttributes;
constexpr auto kBody = FilterScope::MessageBody;

MessageAttribute attr(std::string name, std::string type, std::string value) {
    MessageAttribute attribute;
    attribute.name = std::move(name);
    attribute.data_type = std::move(type);
    if (attribute.is_binary()) {
        attribute.binary_value = std::move(value);
    } else {
        attribute.string_value = std::move(value);
    }
    return attribute;
}
MessageAttribute str(std::string name, std::string value) {
    return attr(std::move(name), "String", std::move(value));
}
MessageAttribute num(std::string name, std::string value) {
    return attr(std::move(name), "Number", std::move(value));
}
MessageAttribute arr(std::string name, std::string json) {
    return attr(std::move(name), "String.Array", std::move(json));
}
MessageAttribute bin(std::string name, std::string bytes) {
    return attr(std::move(name), "Binary", std::move(bytes));
}

struct MatchCase {
    std::string name;
    std::string policy;
    FilterScope scope;
    std::vector<MessageAttribute> attributes;  // MessageAttributes scope
    std::string body;                          // MessageBody scope
    bool expected;
};

// gtest prints a failing row by name, not as a byte dump.
void PrintTo(const MatchCase& row, std::ostream* out) {
    *out << row.name;
}

std::string match_case_name(const testing::TestParamInfo<MatchCase>& info) {
    return info.param.name;
}

// clang-format off
const std::vector<MatchCase> kMatchCases = {
    // ---- MessageAttributes: exact strings, AND / OR, absent keys
    {"attr_exact_string", R"({"store":["example_corp"]})", kAttrs, {str("store", "example_corp")}, "", true},
    {"attr_exact_string_other_value", R"({"store":["example_corp"]})", kAttrs, {str("store", "other")}, "", false},
    {"attr_exact_is_case_sensitive", R"({"store":["example_corp"]})", kAttrs, {str("store", "Example_Corp")}, "", false},
    {"attr_or_within_key", R"({"sport":["rugby","tennis"]})", kAttrs, {str("sport", "tennis")}, "", true},
    {"attr_and_across_keys", R"({"store":["a"],"event":["order_placed"]})", kAttrs,
     {str("event", "order_placed"), str("store", "a")}, "", true},
    {"attr_and_one_key_mismatch", R"({"store":["a"],"event":["order_placed"]})", kAttrs,
     {str("event", "order_cancelled"), str("store", "a")}, "", false},
    {"attr_absent_key_fails", R"({"store":["a"]})", kAttrs, {str("event", "a")}, "", false},
    {"attr_no_attributes_fails", R"({"store":["a"]})", kAttrs, {}, "", false},
    {"attr_ignores_unnamed_attributes", R"({"store":["a"]})", kAttrs, {str("store", "a"), str("x", "y")}, "", true},
    {"attr_custom_string_type", R"({"store":["a"]})", kAttrs, {attr("store", "String.shop", "a")}, "", true},
    // ---- String.Array: any element
    {"attr_string_array_any_element", R"({"interests":["rugby"]})", kAttrs, {arr("interests", R"(["soccer","rugby"])")}, "", true},
    {"attr_string_array_no_element", R"({"interests":["rugby"]})", kAttrs, {arr("interests", R"(["soccer","golf"])")}, "", false},
    {"attr_string_array_number_element", R"({"ids":[7]})", kAttrs, {arr("ids", "[3, 7.0]")}, "", true},
    {"attr_string_array_prefix", R"({"tags":[{"prefix":"img-"}]})", kAttrs, {arr("tags", R"(["raw","img-1"])")}, "", true},
    {"attr_string_array_empty", R"({"tags":["a"]})", kAttrs, {arr("tags", "[]")}, "", false},
    {"attr_string_array_empty_exists", R"({"tags":[{"exists":true}]})", kAttrs, {arr("tags", "[]")}, "", true},
    // ---- Number: numeric literal and typed comparison
    {"attr_number_literal", R"({"price":[301.5]})", kAttrs, {num("price", "3.015e2")}, "", true},
    {"attr_number_literal_other", R"({"price":[301.5]})", kAttrs, {num("price", "301.6")}, "", false},
    {"attr_number_literal_five_decimals", R"({"price":[1.000001]})", kAttrs, {num("price", "1")}, "", true},
    {"attr_number_literal_vs_string_attr", R"({"price":[301]})", kAttrs, {str("price", "301")}, "", false},
    {"attr_string_literal_vs_number_attr", R"({"price":["100"]})", kAttrs, {num("price", "100")}, "", false},
    {"attr_custom_number_type", R"({"price":[5]})", kAttrs, {attr("price", "Number.float", "5.0")}, "", true},
    {"attr_number_literal_beyond_range_exact", R"({"account":[123456789012]})", kAttrs, {num("account", "123456789012")}, "", true},
    // ---- numeric operator
    {"attr_numeric_range_top_inclusive", R"({"p":[{"numeric":[">",0,"<=",150]}]})", kAttrs, {num("p", "150")}, "", true},
    {"attr_numeric_range_bottom_exclusive", R"({"p":[{"numeric":[">",0,"<=",150]}]})", kAttrs, {num("p", "0")}, "", false},
    {"attr_numeric_range_above_top", R"({"p":[{"numeric":[">",0,"<=",150]}]})", kAttrs, {num("p", "150.00001")}, "", false},
    {"attr_numeric_five_decimals", R"({"p":[{"numeric":[">",0,"<=",150]}]})", kAttrs, {num("p", "150.000001")}, "", true},
    {"attr_numeric_ge_lt", R"({"p":[{"numeric":[">=",10,"<",20]}]})", kAttrs, {num("p", "10")}, "", true},
    {"attr_numeric_lt_excludes_top", R"({"p":[{"numeric":[">=",10,"<",20]}]})", kAttrs, {num("p", "20")}, "", false},
    {"attr_numeric_negative", R"({"p":[{"numeric":["<",0]}]})", kAttrs, {num("p", "-0.5")}, "", true},
    {"attr_numeric_equals", R"({"p":[{"numeric":["=",301.5]}]})", kAttrs, {num("p", "301.50")}, "", true},
    {"attr_numeric_on_string_attr", R"({"p":[{"numeric":[">",0]}]})", kAttrs, {str("p", "5")}, "", false},
    {"attr_numeric_value_beyond_range", R"({"p":[{"numeric":[">",0]}]})", kAttrs, {num("p", "2e9")}, "", false},
    {"attr_numeric_two_ranges_or", R"({"p":[{"numeric":["<",10]},{"numeric":[">",100]}]})", kAttrs, {num("p", "50")}, "", false},
    // ---- prefix / suffix / equals-ignore-case
    {"attr_prefix", R"({"i":[{"prefix":"bas"}]})", kAttrs, {str("i", "basketball")}, "", true},
    {"attr_prefix_mismatch", R"({"i":[{"prefix":"bas"}]})", kAttrs, {str("i", "rugby")}, "", false},
    {"attr_prefix_not_on_numbers", R"({"code":[{"prefix":"30"}]})", kAttrs, {num("code", "301")}, "", false},
    {"attr_suffix", R"({"key":[{"suffix":".jpg"}]})", kAttrs, {str("key", "cat.jpg")}, "", true},
    {"attr_suffix_mismatch", R"({"key":[{"suffix":".jpg"}]})", kAttrs, {str("key", "cat.jpg.png")}, "", false},
    {"attr_equals_ignore_case", R"({"ext":[{"equals-ignore-case":"JPG"}]})", kAttrs, {str("ext", "jPg")}, "", true},
    {"attr_equals_ignore_case_mismatch", R"({"ext":[{"equals-ignore-case":"JPG"}]})", kAttrs, {str("ext", "jpeg")}, "", false},
    // ---- anything-but
    {"attr_anything_but_list", R"({"s":[{"anything-but":["rugby","tennis"]}]})", kAttrs, {str("s", "baseball")}, "", true},
    {"attr_anything_but_list_excluded", R"({"s":[{"anything-but":["rugby","tennis"]}]})", kAttrs, {str("s", "rugby")}, "", false},
    {"attr_anything_but_array_one_outside", R"({"s":[{"anything-but":["rugby","tennis"]}]})", kAttrs, {arr("s", R"(["rugby","baseball"])")}, "", true},
    {"attr_anything_but_array_all_excluded", R"({"s":[{"anything-but":["rugby","tennis"]}]})", kAttrs, {arr("s", R"(["rugby","tennis"])")}, "", false},
    {"attr_anything_but_single_absent_key", R"({"a":[null,{"anything-but":"whatever"}]})", kAttrs, {str("other", "x")}, "", false},
    {"attr_anything_but_single", R"({"a":[{"anything-but":"whatever"}]})", kAttrs, {str("a", "x")}, "", true},
    {"attr_anything_but_numbers", R"({"p":[{"anything-but":[100,500]}]})", kAttrs, {num("p", "100.1")}, "", true},
    {"attr_anything_but_numbers_excluded", R"({"p":[{"anything-but":[100,500]}]})", kAttrs, {num("p", "1e2")}, "", false},
    {"attr_anything_but_prefix", R"({"e":[{"anything-but":{"prefix":"test-"}}]})", kAttrs, {str("e", "prod")}, "", true},
    {"attr_anything_but_prefix_excluded", R"({"e":[{"anything-but":{"prefix":"test-"}}]})", kAttrs, {str("e", "test-1")}, "", false},
    {"attr_anything_but_suffix", R"({"k":[{"anything-but":{"suffix":".tmp"}}]})", kAttrs, {str("k", "a.jpg")}, "", true},
    {"attr_anything_but_suffix_excluded", R"({"k":[{"anything-but":{"suffix":".tmp"}}]})", kAttrs, {str("k", "a.tmp")}, "", false},
    // ---- exists, Binary
    {"attr_exists_true", R"({"store":[{"exists":true}]})", kAttrs, {num("store", "99"), num("def", "1")}, "", true},
    {"attr_exists_true_absent", R"({"store":[{"exists":true}]})", kAttrs, {num("attr1", "111")}, "", false},
    {"attr_exists_false_absent", R"({"store":[{"exists":false}]})", kAttrs, {num("def", "99")}, "", true},
    {"attr_exists_false_present", R"({"store":[{"exists":false}]})", kAttrs, {str("store", "x")}, "", false},
    {"attr_exists_false_no_attributes", R"({"store":[{"exists":false}]})", kAttrs, {}, "", false},
    {"attr_exists_false_or_anything_but", R"({"a":[{"anything-but":["x"]},{"exists":false}]})", kAttrs, {str("b", "1")}, "", true},
    {"attr_binary_is_absent", R"({"data":[{"exists":true}]})", kAttrs, {bin("data", std::string("\x00\x01", 2))}, "", false},
    {"attr_binary_exists_false", R"({"data":[{"exists":false}]})", kAttrs, {bin("data", "x"), str("other", "y")}, "", true},
    {"attr_only_binary_is_no_attributes", R"({"data":[{"exists":false}]})", kAttrs, {bin("other", "x")}, "", false},
    {"attr_binary_value_not_compared", R"({"data":["x"]})", kAttrs, {bin("data", "x")}, "", false},
    {"attr_null_literal_no_string", R"({"a":[null]})", kAttrs, {str("a", "null")}, "", false},
    // ---- cidr and IP literals
    {"attr_cidr_ipv4", R"({"ip":[{"cidr":"10.0.0.0/24"}]})", kAttrs, {str("ip", "10.0.0.42")}, "", true},
    {"attr_cidr_ipv4_outside", R"({"ip":[{"cidr":"10.0.0.0/24"}]})", kAttrs, {str("ip", "10.0.1.1")}, "", false},
    {"attr_cidr_ipv6", R"({"ip":[{"cidr":"2001:db8::/32"}]})", kAttrs, {str("ip", "2001:db8:0:1::5")}, "", true},
    {"attr_cidr_ipv6_outside", R"({"ip":[{"cidr":"2001:db8::/32"}]})", kAttrs, {str("ip", "2001:db9::1")}, "", false},
    {"attr_cidr_other_family", R"({"ip":[{"cidr":"0.0.0.0/0"}]})", kAttrs, {str("ip", "::1")}, "", false},
    {"attr_cidr_not_an_address", R"({"ip":[{"cidr":"10.0.0.0/8"}]})", kAttrs, {str("ip", "10.0.0.1x")}, "", false},
    {"attr_cidr_keeps_written_bottom", R"({"ip":[{"cidr":"10.0.0.5/24"}]})", kAttrs, {str("ip", "10.0.0.4")}, "", false},
    {"attr_ip_literal_other_spelling", R"({"ip":["2001:db8::1"]})", kAttrs, {str("ip", "2001:0db8:0:0:0:0:0:1")}, "", true},
    // ---- $or
    {"attr_or_second_branch", R"({"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}]})",
     kAttrs, {str("source", "aws.cloudwatch"), str("namespace", "AWS/EC2")}, "", true},
    {"attr_or_no_branch", R"({"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}]})",
     kAttrs, {str("source", "aws.cloudwatch"), str("metricName", "ReadLatency")}, "", false},
    {"attr_or_and_outside_fails", R"({"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}]})",
     kAttrs, {str("source", "aws.events"), str("namespace", "AWS/EC2")}, "", false},
    {"attr_or_nested", R"({"$or":[{"a":["1"]},{"b":["2"],"$or":[{"c":["3"]},{"d":["4"]}]}]})",
     kAttrs, {str("b", "2"), str("d", "4")}, "", true},
    {"attr_or_nested_inner_fails", R"({"$or":[{"a":["1"]},{"b":["2"],"$or":[{"c":["3"]},{"d":["4"]}]}]})",
     kAttrs, {str("b", "2"), str("e", "4")}, "", false},
    {"attr_or_single_object_is_a_key", R"({"$or":[{"prefix":"x"}]})", kAttrs, {str("$or", "xyz")}, "", true},

    // ---- MessageBody: the body must be a JSON object
    {"body_exact", R"({"store":["a"]})", kBody, {}, R"({"store":"a"})", true},
    {"body_ignores_attributes", R"({"store":["a"]})", kBody, {str("store", "a")}, R"({"store":"b"})", false},
    {"body_not_json", R"({"store":["a"]})", kBody, {}, "store=a", false},
    {"body_json_array", R"({"store":["a"]})", kBody, {}, R"([{"store":"a"}])", false},
    {"body_absent_key", R"({"store":["a"]})", kBody, {}, R"({"shop":"a"})", false},
    // ---- nested keys and dotted paths
    {"body_nested", R"({"object":{"key":[{"prefix":"auto-"}]}})", kBody, {}, R"({"object":{"key":"auto-test"}})", true},
    {"body_nested_mismatch", R"({"object":{"key":[{"prefix":"auto-"}]}})", kBody, {}, R"({"object":{"key":"home-test"}})", false},
    {"body_nested_key_at_wrong_level", R"({"object":{"key":["v"]}})", kBody, {}, R"({"key":"v","object":{}})", false},
    {"body_dotted_policy_key", R"({"object.nested":["string.value"]})", kBody, {}, R"({"object":{"nested":"string.value"}})", true},
    {"body_dotted_body_key", R"({"object":{"nested":{"test":["v"]}}})", kBody, {}, R"({"object.nested":{"test":"v"}})", true},
    {"body_nested_and", R"({"detail":{"scope":["Service"],"type":["Alarm"]}})", kBody, {},
     R"({"detail":{"scope":"Service"}})", false},
    // ---- arrays in the body
    {"body_array_any_element", R"({"headers":{"route-to":["queue1"]}})", kBody, {}, R"({"headers":{"route-to":["queue1","queue2"]}})", true},
    {"body_array_no_element", R"({"headers":{"route-to":["queue1"]}})", kBody, {}, R"({"headers":{"route-to":["queue3"]}})", false},
    {"body_array_of_objects", R"({"Records":{"s3":{"object":{"key":[{"prefix":"auto-"}]}},"eventName":[{"prefix":"ObjectCreated:"}]}})",
     kBody, {}, R"({"Records":[{"eventName":"ObjectRemoved:Delete","s3":{"object":{"key":"home-1.xml"}}},{"eventName":"ObjectCreated:Put","s3":{"object":{"key":"auto-1.xml"}}}]})", true},
    {"body_nested_arrays", R"({"Records":{"s3":{"object":{"key":[{"prefix":"auto-"}]}}}})", kBody, {},
     R"({"Records":[{"s3":{"object":[[{"key":"auto-insurance-2314.xml","size":17}]]}}]})", true},
    {"body_array_anything_but_one_outside", R"({"c":[{"anything-but":["red"]}]})", kBody, {}, R"({"c":["red","blue"]})", true},
    // ---- typed values
    {"body_numeric", R"({"price":[{"numeric":[">=",100]}]})", kBody, {}, R"({"price":100})", true},
    {"body_numeric_on_string", R"({"price":[{"numeric":[">=",100]}]})", kBody, {}, R"({"price":"100"})", false},
    {"body_number_literal", R"({"price":[301.5]})", kBody, {}, R"({"price":3.015e2})", true},
    {"body_number_literal_vs_string", R"({"price":[301.5]})", kBody, {}, R"({"price":"301.5"})", false},
    {"body_boolean_literal", R"({"flag":[true]})", kBody, {}, R"({"flag":true})", true},
    {"body_boolean_literal_vs_string", R"({"flag":[true]})", kBody, {}, R"({"flag":"true"})", false},
    {"body_null_literal", R"({"x":[null]})", kBody, {}, R"({"x":null})", true},
    {"body_prefix_not_on_numbers", R"({"code":[{"prefix":"30"}]})", kBody, {}, R"({"code":301})", false},
    // ---- operators in the body
    {"body_suffix", R"({"key":[{"suffix":".png"}]})", kBody, {}, R"({"key":"a.png"})", true},
    {"body_equals_ignore_case", R"({"ext":[{"equals-ignore-case":"PNG"}]})", kBody, {}, R"({"ext":"png"})", true},
    {"body_anything_but", R"({"color":[{"anything-but":["red"]}]})", kBody, {}, R"({"color":"blue"})", true},
    {"body_anything_but_absent", R"({"color":[{"anything-but":["red"]}]})", kBody, {}, R"({"shade":"blue"})", false},
    {"body_anything_but_number", R"({"n":[{"anything-but":5}]})", kBody, {}, R"({"n":5.0})", false},
    {"body_anything_but_number_five_decimals", R"({"n":[{"anything-but":[100]}]})", kBody, {}, R"({"n":100.000001})", false},
    {"body_anything_but_prefix", R"({"k":[{"anything-but":{"prefix":"tmp/"}}]})", kBody, {}, R"({"k":"tmp/x"})", false},
    {"body_anything_but_suffix", R"({"k":[{"anything-but":{"suffix":".tmp"}}]})", kBody, {}, R"({"k":"x.jpg"})", true},
    {"body_cidr", R"({"client":{"ip":[{"cidr":"192.168.0.0/16"}]}})", kBody, {}, R"({"client":{"ip":"192.168.3.4"}})", true},
    {"body_cidr_number", R"({"ip":[{"cidr":"192.168.0.0/16"}]})", kBody, {}, R"({"ip":192.168})", false},
    // ---- exists in the body
    {"body_exists_true", R"({"store":[{"exists":true}]})", kBody, {}, R"({"store":"fans"})", true},
    {"body_exists_true_null", R"({"store":[{"exists":true}]})", kBody, {}, R"({"store":null})", false},
    {"body_exists_false_absent", R"({"store":[{"exists":false}]})", kBody, {}, R"({"customer_interests":["baseball"]})", true},
    {"body_exists_false_present", R"({"store":[{"exists":false}]})", kBody, {}, R"({"store":"fans"})", false},
    {"body_exists_intermediate_node", R"({"a":[{"exists":true}]})", kBody, {}, R"({"a":{"b":1}})", false},
    // ---- $or in the body, also nested inside an object
    {"body_or_nested_in_object", R"({"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}],"detail":{"scope":["Service"],"$or":[{"source":["aws.cloudwatch"]},{"type":["Alarm"]}]}})",
     kBody, {}, R"({"namespace":"AWS/EC2","detail":{"scope":"Service","type":"Alarm"}})", true},
    {"body_or_nested_in_object_fails", R"({"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}],"detail":{"scope":["Service"],"$or":[{"source":["aws.cloudwatch"]},{"type":["Alarm"]}]}})",
     kBody, {}, R"({"metricName":"CPUUtilization","detail":{"scope":"Service"}})", false},
};
// clang-format on

class FilterPolicyMatchTest : public testing::TestWithParam<MatchCase> {};

TEST_P(FilterPolicyMatchTest, Matches) {
    const MatchCase& row = GetParam();
    const auto policy = FilterPolicy::parse(row.policy, row.scope);
    ASSERT_TRUE(policy.has_value()) << policy.error().message;
    EXPECT_EQ(policy->matches(row.attributes, row.body), row.expected)
        << "policy " << row.policy << "\nbody " << row.body;
}

INSTANTIATE_TEST_SUITE_P(FilterPolicy, FilterPolicyMatchTest, testing::ValuesIn(kMatchCases),
                         match_case_name);

// ---- Refused policies, and the limits -----------------------------------------------------------

struct ParseCase {
    std::string name;
    std::string policy;
    FilterScope scope;
    std::string error;  // expected substring of the message; empty: the policy must be accepted
};

void PrintTo(const ParseCase& row, std::ostream* out) {
    *out << row.name;
}

std::string parse_case_name(const testing::TestParamInfo<ParseCase>& info) {
    return info.param.name;
}

// {"key":["v0", ..., "v<n-1>"]}
std::string key_with_values(const std::string& key, int n) {
    std::string out = "\"" + key + "\":[";
    for (int i = 0; i < n; ++i) {
        out += (i ? ",\"v" : "\"v") + std::to_string(i) + "\"";
    }
    return out + "]";
}

std::string keys(int n) {
    std::string out = "{";
    for (int i = 0; i < n; ++i) {
        out += (i ? "," : "") + key_with_values("key" + std::to_string(i), 1);
    }
    return out + "}";
}

// A valid policy padded with spaces to exactly `size` bytes.
std::string padded_policy(std::size_t size) {
    std::string out = R"({"k":["v"])";
    out.append(size - out.size() - 1, ' ');
    return out + "}";
}

std::string nested_arrays(int depth) {
    return R"({"k":)" + std::string(static_cast<std::size_t>(depth), '[') + "1" +
           std::string(static_cast<std::size_t>(depth), ']') + "}";
}

const std::string kPrefix = "Invalid parameter: FilterPolicy: ";

// clang-format off
std::vector<ParseCase> parse_cases() {
    return {
        // ---- shape of the document
        {"not_json", "store=a", kAttrs, kPrefix + "Filter policy is not valid JSON"},
        {"invalid_utf8", "{\"k\":[\"\xff\"]}", kAttrs, "not valid JSON"},
        {"top_level_array", R"([{"k":["v"]}])", kAttrs, kPrefix + "Filter is not an object"},
        {"empty_object", "{}", kAttrs, kPrefix + "Empty objects are not allowed"},
        {"empty_nested_object", R"({"a":{}})", kBody, "Empty objects are not allowed"},
        {"scalar_value", R"({"key_a":"value_one"})", kAttrs, kPrefix + "\"key_a\" must be an object or an array"},
        {"operator_without_array", R"({"key":{"suffix":"value"}})", kBody, "\"suffix\" must be an object or an array"},
        {"empty_array", R"({"key":[]})", kAttrs, kPrefix + "Empty arrays are not allowed"},
        {"array_in_array", R"({"key":[["value"]]})", kAttrs, "Match value must be String, number, true, false, or null"},
        {"nested_in_attribute_scope", R"({"object":{"key":[{"prefix":"auto-"}]}})", kAttrs,
         "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"},
        {"nested_in_attribute_scope_or_branch", R"({"$or":[{"a":["1"]},{"b":{"c":["2"]}}]})", kAttrs,
         "does not support nested filter policy"},
        {"or_single_object_is_a_key", R"({"$or":[{"a":["x"]}]})", kAttrs, "Unrecognized match type a"},
        {"or_with_operator_names_is_a_key", R"({"$or":[{"numeric":123},{"prefix":"abc"}]})", kAttrs,
         "Value of numeric must be an array."},
        {"or_empty_branch", R"({"$or":[{"a":["1"]},{}]})", kAttrs, "Empty objects are not allowed"},
        // ---- operators and their operands
        {"unknown_operator", R"({"key":[{"wrong-operator":true}]})", kAttrs, kPrefix + "Unrecognized match type wrong-operator"},
        {"empty_operator_object", R"({"key":[{}]})", kAttrs, "Match expression name not found"},
        {"two_operators", R"({"key":[{"suffix":"value","prefix":"value2"}]})", kAttrs, "Only one key allowed in match expression"},
        {"suffix_number", R"({"key":[{"suffix":100}]})", kAttrs, kPrefix + "suffix match pattern must be a string"},
        {"prefix_null", R"({"key":[{"prefix":null}]})", kAttrs, "prefix match pattern must be a string"},
        {"equals_ignore_case_number", R"({"key":[{"equals-ignore-case":5}]})", kAttrs, "equals-ignore-case match pattern must be a string"},
        {"exists_null", R"({"key":[{"exists":null}]})", kAttrs, "exists match pattern must be either true or false."},
        {"exists_string", R"({"key":[{"exists":"no"}]})", kAttrs, "exists match pattern must be either true or false."},
        {"numeric_not_array", R"({"key":[{"numeric":5}]})", kAttrs, "Value of numeric must be an array."},
        {"numeric_empty", R"({"key":[{"numeric":[]}]})", kAttrs, "Invalid member in numeric match: ]"},
        {"numeric_unknown_operator", R"({"key":[{"numeric":["operator"]}]})", kAttrs, "Unrecognized numeric range operator: operator"},
        {"numeric_value_first", R"({"key":[{"numeric":[1,"<="]}]})", kAttrs, "Invalid member in numeric match: 1"},
        {"numeric_equals_string", R"({"key":[{"numeric":["=","000"]}]})", kAttrs, "Value of equals must be numeric"},
        {"numeric_missing_value", R"({"key":[{"numeric":[">="]}]})", kAttrs, "Value of >= must be numeric"},
        {"numeric_lt_then_more", R"({"key":[{"numeric":["<",100,">",10]}]})", kAttrs, "Too many elements in numeric expression"},
        {"numeric_two_lower_bounds", R"({"key":[{"numeric":[">=",1,">",2]}]})", kAttrs, "Bad numeric range operator: >"},
        {"numeric_bottom_above_top", R"({"key":[{"numeric":[">",3,"<",1]}]})", kAttrs, "Bottom must be less than top"},
        {"numeric_missing_top", R"({"key":[{"numeric":[">",20,"<="]}]})", kAttrs, "Value of <= must be numeric"},
        {"numeric_missing_top_operator", R"({"key":[{"numeric":[">",20,30]}]})", kAttrs, "Bad value in numeric range: 30"},
        {"numeric_wrong_top_operator", R"({"key":[{"numeric":[">",20,"test"]}]})", kAttrs, "Bad numeric range operator: test"},
        {"numeric_string_bound", R"({"key":[{"numeric":[">","20","<","30"]}]})", kAttrs, "Value of > must be numeric"},
        {"numeric_too_many_terms", R"({"key":[{"numeric":[">",20,"<",30,"<",50]}]})", kAttrs, "Too many terms in numeric range expression"},
        {"numeric_out_of_range", R"({"key":[{"numeric":[">",1e10]}]})", kAttrs, "Value must be between -1.0E9 and 1.0E9, inclusive"},
        {"numeric_extra_key", R"({"key":[{"numeric":[">",1],"prefix":"x"}]})", kAttrs, "Too many elements in numeric expression"},
        {"anything_but_unknown_pattern", R"({"key":[{"anything-but":{"wrong-operator":null}}]})", kAttrs, "Unsupported anything-but pattern: wrong-operator"},
        {"anything_but_exists", R"({"key":[{"anything-but":{"exists":false}}]})", kAttrs, "Unsupported anything-but pattern: exists"},
        {"anything_but_prefix_not_string", R"({"key":[{"anything-but":{"prefix":false}}]})", kAttrs, "prefix match pattern must be a string"},
        {"anything_but_empty_suffix", R"({"key":[{"anything-but":{"suffix":""}}]})", kAttrs, "Null prefix/suffix not allowed"},
        {"anything_but_mixed_list", R"({"key":[{"anything-but":["a",1]}]})", kAttrs, "mixed type is not supported"},
        {"anything_but_empty_list", R"({"key":[{"anything-but":[]}]})", kAttrs, "mixed type is not supported"},
        {"anything_but_null_in_list", R"({"key":[{"anything-but":[null]}]})", kAttrs, "Inside anything but list, start|null|boolean is not supported."},
        {"anything_but_boolean", R"({"key":[{"anything-but":true}]})", kAttrs, "Value of anything-but must be an array or single string/number value."},
        {"anything_but_number_out_of_range", R"({"key":[{"anything-but":[2e9]}]})", kAttrs, "Value must be between -1.0E9 and 1.0E9"},
        {"cidr_no_slash", R"({"ip":[{"cidr":"10.0.0.0"}]})", kAttrs, "Malformed CIDR, one '/' required"},
        {"cidr_bits_not_integer", R"({"ip":[{"cidr":"10.0.0.0/x"}]})", kAttrs, "Malformed CIDR, mask bits must be an integer"},
        {"cidr_negative_bits", R"({"ip":[{"cidr":"10.0.0.0/-1"}]})", kAttrs, "mask bits must not be negative"},
        {"cidr_ipv4_bits", R"({"ip":[{"cidr":"10.0.0.1/32"}]})", kAttrs, "IPv4 mask bits must be < 32"},
        {"cidr_ipv6_bits", R"({"ip":[{"cidr":"::/128"}]})", kAttrs, "IPv6 mask bits must be < 128"},
        {"cidr_bad_address", R"({"ip":[{"cidr":"300.0.0.0/8"}]})", kAttrs, "Nonstandard IP address: 300.0.0.0"},
        {"cidr_not_string", R"({"ip":[{"cidr":5}]})", kAttrs, "prefix match pattern must be a string"},
        // ---- keys: 5 at most
        {"five_keys", keys(5), kAttrs, ""},
        {"six_keys", keys(6), kAttrs, kPrefix + "Filter policy can not have more than 5 keys"},
        {"six_keys_body", keys(6), kBody, "Filter policy can not have more than 5 keys"},
        {"six_keys_with_or", R"({"a":["1"],"b":["1"],"c":["1"],"d":["1"],"$or":[{"e":["1"]},{"f":["1"]}]})", kAttrs,
         "can not have more than 5 keys"},
        {"body_nested_keys_not_counted", R"({"a":{"b":["1"],"c":["1"],"d":["1"]},"e":{"f":["1"],"g":["1"],"h":["1"]}})", kBody, ""},
        // ---- combinations: 150 at most
        {"combinations_150", "{" + key_with_values("key", 150) + "}", kAttrs, ""},
        {"combinations_151", "{" + key_with_values("key", 151) + "}", kAttrs, kPrefix + "Filter policy is too complex"},
        {"combinations_two_keys", "{" + key_with_values("key1", 100) + "," + key_with_values("key2", 51) + "}", kAttrs,
         "Filter policy is too complex"},
        // (source * metricName) + (source * metricType * metricId) + (source * metricType * spaceId)
        {"combinations_or_150", R"({"source":["a","b","c"],"$or":[{"metricName":["1","2","3","4","5","6"]},{"metricType":["1","2","3","4"],"$or":[{"metricId":[1,2,3,4]},{"spaceId":[1,2,3,4,5,6,7]}]}]})",
         kAttrs, ""},
        {"combinations_or_152", R"({"source":["a","b","c","d"],"$or":[{"metricName":["1","2","3","4","5","6"]},{"metricType":["1","2","3","4"],"$or":[{"metricId":[1,2,3,4]},{"spaceId":[1,2,3,4]}]}]})",
         kAttrs, "Filter policy is too complex"},
        // Nested keys count their depth: 3 x 4 x 2 x 3 x 1 x 3 = 216.
        {"combinations_nested_depth", R"({"key_a":{"key_b":{"key_c":["1","2","3","4"]}},"key_d":{"key_e":["1","2","3"]},"key_f":["1","2","3"]})",
         kBody, kPrefix + "Filter policy is too complex"},
        // (3 + 2) x (2 x 2) x (1 x 2 + 3 x 2) = 160.
        {"combinations_nested_or", R"({"$or":[{"metricName":["1","2","3"]},{"namespace":["1","2"]}],"detail":{"scope":["1","2"],"$or":[{"source":["1"]},{"type":["1","2","3"]}]}})",
         kBody, "Filter policy is too complex"},
        // ---- size and depth
        {"size_256_kib", padded_policy(FilterPolicy::kMaxPolicyBytes), kAttrs, ""},
        {"size_over_256_kib", padded_policy(FilterPolicy::kMaxPolicyBytes + 1), kAttrs, kPrefix + "Filter policy is larger than 262144 bytes"},
        {"depth_over_limit", nested_arrays(FilterPolicy::kMaxJsonDepth), kAttrs, "nests deeper than 64 levels"},
        {"depth_at_limit_checks_operands", nested_arrays(FilterPolicy::kMaxJsonDepth - 1), kAttrs,
         "Match value must be String, number, true, false, or null"},
    };
}
// clang-format on

class FilterPolicyParseTest : public testing::TestWithParam<ParseCase> {};

TEST_P(FilterPolicyParseTest, RefusesOrAccepts) {
    const ParseCase& row = GetParam();
    const auto policy = FilterPolicy::parse(row.policy, row.scope);
    if (row.error.empty()) {
        EXPECT_TRUE(policy.has_value()) << policy.error().message;
        return;
    }
    ASSERT_FALSE(policy.has_value()) << "accepted: " << row.policy.substr(0, 200);
    EXPECT_EQ(policy.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(policy.error().message.find(row.error), std::string::npos)
        << "message: " << policy.error().message << "\nexpected: " << row.error;
    EXPECT_EQ(policy.error().client_message(), policy.error().message);
}

INSTANTIATE_TEST_SUITE_P(FilterPolicy, FilterPolicyParseTest, testing::ValuesIn(parse_cases()),
                         parse_case_name);

TEST(FilterScopeTest, ParsesBothNamesAndRefusesOthers) {
    EXPECT_EQ(*parse_filter_scope("MessageAttributes"), FilterScope::MessageAttributes);
    EXPECT_EQ(*parse_filter_scope("MessageBody"), FilterScope::MessageBody);
    EXPECT_EQ(to_string(FilterScope::MessageBody), "MessageBody");
    const auto bad = parse_filter_scope("messagebody");
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().message,
              "Invalid parameter: FilterPolicyScope: Invalid value [messagebody]. Please use "
              "either MessageBody or MessageAttributes");
}

}  // namespace
}  // namespace pf::notify
