// The SNS Query API's request parameters: form decoding of the body (and query string), and the
// flattened collections of the query protocol:
//   maps                Attributes.entry.N.key / Attributes.entry.N.value
//   message attributes  MessageAttributes.entry.N.Name / .Value.DataType / .Value.StringValue /
//                       .Value.BinaryValue (base64)
//   lists               Tags.member.N.Key / Tags.member.N.Value,
//                       PublishBatchRequestEntries.member.N.<field>
// N starts at 1; entries come back in N order. Values are checked for valid UTF-8 here, once.
#pragma once

#include "notify/message.h"
#include "notify/sns_error.h"

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace pf::notify {

template <typename T>
using SnsResult = std::variant<T, SnsError>;

template <typename T>
const SnsError* error_of(const SnsResult<T>& r) {
    return std::get_if<SnsError>(&r);
}

class SnsParams {
public:
    // Parses "a=1&b=x+y" (plus as space, percent escapes once). A name given twice keeps its first
    // value. Errors: a malformed escape, or a name or value that is not valid UTF-8.
    static SnsResult<SnsParams> parse(std::string_view form);

    // Adds the parameters of `other` whose names are not present yet.
    void merge(const SnsParams& other);
    void set(std::string name, std::string value) { values_[std::move(name)] = std::move(value); }

    std::optional<std::string_view> get(std::string_view name) const;
    bool has(std::string_view name) const { return get(name).has_value(); }
    // The parameters whose names start with `prefix`, with the prefix removed.
    SnsParams under(std::string_view prefix) const;
    // The distinct N of names "<prefix>N.<rest>" (prefix ends with '.'), ascending. N outside
    // 1..max_index is an error.
    SnsResult<std::vector<std::size_t>> indexes(std::string_view prefix,
                                                std::size_t max_index = 10000) const;
    const std::map<std::string, std::string, std::less<>>& all() const { return values_; }

private:
    std::map<std::string, std::string, std::less<>> values_;
};

bool is_valid_utf8(std::string_view text);
// Number of Unicode code points in valid UTF-8 text.
std::size_t utf8_length(std::string_view text);

// <prefix>.entry.N.key / value -> map. Errors: an entry without a key or a repeated key.
SnsResult<std::map<std::string, std::string>> parse_attribute_map(const SnsParams& params,
                                                                  std::string_view prefix);
// Tags.member.N.Key / Value, in N order. Errors: missing Key, repeated Key.
SnsResult<std::vector<std::pair<std::string, std::string>>> parse_tags(const SnsParams& params);
// MessageAttributes.entry.N.*, in N order; BinaryValue is base64-decoded. Only the structure is
// checked here (sns_validation checks names, types and values).
struct RawMessageAttribute {
    std::string name;
    std::optional<std::string> data_type;
    std::optional<std::string> string_value;
    std::optional<std::string> binary_value_base64;
};
SnsResult<std::vector<RawMessageAttribute>> parse_message_attributes(const SnsParams& params);

}  // namespace pf::notify
