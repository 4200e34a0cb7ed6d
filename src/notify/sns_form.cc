#include "notify/sns_form.h"

#include "aws/uri_encoding.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace pf::notify {

bool is_valid_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto b0 = static_cast<unsigned char>(text[i]);
        if (b0 < 0x80) {
            ++i;
            continue;
        }
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (b0 >= 0xC2 && b0 <= 0xDF) {
            n = 2;
            cp = b0 & 0x1Fu;
        } else if (b0 >= 0xE0 && b0 <= 0xEF) {
            n = 3;
            cp = b0 & 0x0Fu;
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            n = 4;
            cp = b0 & 0x07u;
        } else {
            return false;
        }
        if (i + n > text.size()) {
            return false;
        }
        for (std::size_t k = 1; k < n; ++k) {
            const auto b = static_cast<unsigned char>(text[i + k]);
            if ((b & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (b & 0x3Fu);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) ||
            cp > 0x10FFFF) {
            return false;
        }
        i += n;
    }
    return true;
}

std::size_t utf8_length(std::string_view text) {
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

SnsResult<SnsParams> SnsParams::parse(std::string_view form) {
    SnsParams params;
    if (form.empty()) {
        return params;
    }
    auto pairs = aws::parse_query(form);
    if (!pairs) {
        return invalid_parameter("the request", "malformed percent-encoding");
    }
    for (auto& [name, value] : *pairs) {
        if (!is_valid_utf8(name) || !is_valid_utf8(value)) {
            return invalid_parameter(is_valid_utf8(name) ? name : std::string("a parameter name"),
                                     "not valid UTF-8");
        }
        params.values_.emplace(std::move(name), std::move(value));
    }
    return params;
}

void SnsParams::merge(const SnsParams& other) {
    for (const auto& [name, value] : other.values_) {
        values_.emplace(name, value);
    }
}

std::optional<std::string_view> SnsParams::get(std::string_view name) const {
    auto it = values_.find(name);
    if (it == values_.end()) {
        return std::nullopt;
    }
    return std::string_view(it->second);
}

SnsParams SnsParams::under(std::string_view prefix) const {
    SnsParams out;
    for (auto it = values_.lower_bound(prefix); it != values_.end(); ++it) {
        if (!std::string_view(it->first).starts_with(prefix)) {
            break;
        }
        out.values_.emplace(it->first.substr(prefix.size()), it->second);
    }
    return out;
}

SnsResult<std::vector<std::size_t>> SnsParams::indexes(std::string_view prefix,
                                                       std::size_t max_index) const {
    std::set<std::size_t> found;
    for (auto it = values_.lower_bound(prefix); it != values_.end(); ++it) {
        std::string_view name = it->first;
        if (!name.starts_with(prefix)) {
            break;
        }
        std::string_view rest = name.substr(prefix.size());
        std::size_t dot = rest.find('.');
        std::string_view digits = rest.substr(0, dot);
        std::size_t n = 0;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || n < 1 ||
            n > max_index || dot == std::string_view::npos) {
            return invalid_parameter(name, "not a valid collection member name");
        }
        found.insert(n);
    }
    return std::vector<std::size_t>(found.begin(), found.end());
}

SnsResult<std::map<std::string, std::string>> parse_attribute_map(const SnsParams& params,
                                                                  std::string_view prefix) {
    const std::string entry_prefix = std::string(prefix) + ".entry.";
    auto indexes = params.indexes(entry_prefix);
    if (auto e = error_of(indexes)) {
        return *e;
    }
    std::map<std::string, std::string> out;
    for (std::size_t n : std::get<0>(indexes)) {
        const std::string base = entry_prefix + std::to_string(n) + ".";
        auto key = params.get(base + "key");
        if (!key) {
            return invalid_parameter(prefix, "entry " + std::to_string(n) + " has no key");
        }
        auto value = params.get(base + "value");
        if (!out.emplace(std::string(*key), std::string(value.value_or(""))).second) {
            return invalid_parameter(prefix, "the key " + std::string(*key) + " is given twice");
        }
    }
    return out;
}

SnsResult<std::vector<std::pair<std::string, std::string>>> parse_tags(const SnsParams& params) {
    auto indexes = params.indexes("Tags.member.");
    if (auto e = error_of(indexes)) {
        return *e;
    }
    std::vector<std::pair<std::string, std::string>> out;
    for (std::size_t n : std::get<0>(indexes)) {
        const std::string base = "Tags.member." + std::to_string(n) + ".";
        auto key = params.get(base + "Key");
        if (!key) {
            return invalid_parameter("Tags", "tag " + std::to_string(n) + " has no Key");
        }
        bool repeated =
            std::any_of(out.begin(), out.end(), [&](const auto& tag) { return tag.first == *key; });
        if (repeated) {
            return invalid_parameter("Tags",
                                     "the tag key " + std::string(*key) + " is given twice");
        }
        out.emplace_back(std::string(*key), std::string(params.get(base + "Value").value_or("")));
    }
    return out;
}

SnsResult<std::vector<RawMessageAttribute>> parse_message_attributes(const SnsParams& params) {
    auto indexes = params.indexes("MessageAttributes.entry.");
    if (auto e = error_of(indexes)) {
        return *e;
    }
    std::vector<RawMessageAttribute> out;
    for (std::size_t n : std::get<0>(indexes)) {
        const std::string base = "MessageAttributes.entry." + std::to_string(n) + ".";
        auto name = params.get(base + "Name");
        if (!name) {
            return invalid_parameter("MessageAttributes",
                                     "entry " + std::to_string(n) + " has no Name");
        }
        RawMessageAttribute a;
        a.name = std::string(*name);
        auto optional = [&](const char* field) -> std::optional<std::string> {
            auto v = params.get(base + field);
            return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
        };
        a.data_type = optional("Value.DataType");
        a.string_value = optional("Value.StringValue");
        a.binary_value_base64 = optional("Value.BinaryValue");
        out.push_back(std::move(a));
    }
    return out;
}

}  // namespace pf::notify
