#include "notify/sns_validation.h"

#include "base/ascii.h"
#include "crypto/encoding.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>

namespace pf::notify {
namespace {

bool is_name_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

bool is_attribute_name_char(char c) {
    return is_name_char(c) || c == '.';
}

bool has_control_or_space(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7F;
    });
}

std::optional<nlohmann::json> parse_json(std::string_view text) {
    auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        return std::nullopt;
    }
    return j;
}

std::optional<std::string> check_http_url(std::string_view protocol, std::string_view url) {
    const std::string scheme = std::string(protocol) + "://";
    if (url.size() < scheme.size() || !ascii_iequals(url.substr(0, scheme.size()), scheme)) {
        return "Endpoint must match the specified protocol (" + std::string(protocol) +
               " needs a " + scheme + " URL)";
    }
    if (url.size() > 2048) {
        return std::string("Endpoint URL is longer than 2048 characters");
    }
    if (has_control_or_space(url) || std::any_of(url.begin(), url.end(), [](char c) {
            return static_cast<unsigned char>(c) >= 0x80;
        })) {
        return std::string("Endpoint URL contains spaces, control or non-ASCII characters");
    }
    std::string_view rest = url.substr(scheme.size());
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
        authority = authority.substr(at + 1);
    }
    std::string_view host = authority;
    std::string_view port;
    if (authority.starts_with('[')) {
        auto close = authority.find(']');
        if (close == std::string_view::npos) {
            return std::string("Endpoint URL has an unterminated IPv6 address");
        }
        host = authority.substr(0, close + 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') {
                return std::string("Endpoint URL has a malformed host");
            }
            port = after.substr(1);
            if (port.empty()) {
                return std::string("Endpoint URL has an empty port");
            }
        }
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
        if (port.empty()) {
            return std::string("Endpoint URL has an empty port");
        }
    }
    if (host.empty() || host == "[]") {
        return std::string("Endpoint URL has no host");
    }
    if (!port.empty()) {
        if (port.size() > 5 ||
            !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            return std::string("Endpoint URL has an invalid port");
        }
        int value = std::stoi(std::string(port));
        if (value < 1 || value > 65535) {
            return std::string("Endpoint URL has an invalid port");
        }
    }
    return std::nullopt;
}

std::optional<std::string> check_email(std::string_view address) {
    if (address.size() > 254) {
        return std::string("Endpoint e-mail address is longer than 254 characters");
    }
    auto at = address.rfind('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) {
        return std::string("Endpoint is not a valid e-mail address");
    }
    std::string_view local = address.substr(0, at);
    std::string_view domain = address.substr(at + 1);
    constexpr std::string_view kForbidden = "<>()[],;:\\\"@";
    bool bad_local = local.size() > 64 || has_control_or_space(local) ||
                     local.find_first_of(kForbidden) != std::string_view::npos;
    bool bad_domain =
        has_control_or_space(domain) || domain.find('.') == std::string_view::npos ||
        domain.starts_with('.') || domain.ends_with('.') ||
        domain.find("..") != std::string_view::npos ||
        !std::all_of(domain.begin(), domain.end(), [](char c) {
            return is_name_char(c) || c == '.' || static_cast<unsigned char>(c) >= 0x80;
        });
    if (bad_local || bad_domain) {
        return std::string("Endpoint is not a valid e-mail address");
    }
    return std::nullopt;
}

// Decimal syntax with optional exponent; at most 38 significant digits; 0 or a magnitude in
// [1e-128, 1e126] (the range SNS and SQS give the Number type).
bool valid_number(std::string_view text) {
    std::size_t i = 0;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
        ++i;
    }
    std::string digits;        // all mantissa digits, in order
    long long point_pos = -1;  // digits before the decimal point
    bool any = false;
    for (; i < text.size(); ++i) {
        char c = text[i];
        if (c >= '0' && c <= '9') {
            digits.push_back(c);
            any = true;
        } else if (c == '.' && point_pos < 0) {
            point_pos = static_cast<long long>(digits.size());
        } else {
            break;
        }
    }
    if (!any) {
        return false;
    }
    if (point_pos < 0) {
        point_pos = static_cast<long long>(digits.size());
    }
    long long exponent = 0;
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        bool negative = false;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
            negative = text[i] == '-';
            ++i;
        }
        std::size_t start = i;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
            if (exponent < 100000) {
                exponent = exponent * 10 + (text[i] - '0');
            }
        }
        if (i == start) {
            return false;
        }
        if (negative) {
            exponent = -exponent;
        }
    }
    if (i != text.size()) {
        return false;
    }
    auto first = digits.find_first_not_of('0');
    if (first == std::string::npos) {
        return true;  // zero
    }
    auto last = digits.find_last_not_of('0');
    if (last - first + 1 > 38) {
        return false;
    }
    // value = 0.d1d2... * 10^(point_pos - first + exponent); magnitude exponent of the leading
    // significant digit:
    long long magnitude = point_pos - static_cast<long long>(first) - 1 + exponent;
    return magnitude >= -128 && magnitude <= 125;
}

// "String", "Number", "Binary", "String.Array", each optionally followed by ".<custom>".
std::optional<std::string_view> base_data_type(std::string_view type) {
    for (std::string_view base : {"String.Array", "String", "Number", "Binary"}) {
        if (type == base) {
            return base;
        }
        if (type.size() > base.size() + 1 && type.starts_with(base) && type[base.size()] == '.') {
            std::string_view custom = type.substr(base.size() + 1);
            if (base == "String" && (custom == "Array" || custom.starts_with("Array."))) {
                continue;  // handled as String.Array
            }
            if (std::all_of(custom.begin(), custom.end(), is_attribute_name_char)) {
                return base;
            }
            return std::nullopt;
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> json_object_check(std::string_view json) {
    auto j = parse_json(json);
    if (!j) {
        return std::string("not valid JSON");
    }
    if (!j->is_object()) {
        return std::string("not a JSON object");
    }
    return std::nullopt;
}

std::optional<SnsError> validate_topic_name(std::string_view name) {
    if (name.ends_with(".fifo")) {
        return invalid_parameter("Topic Name",
                                 "FIFO topics (names ending in .fifo) are not supported by this "
                                 "server; create a standard topic");
    }
    if (name.empty() || name.size() > 256 || !std::all_of(name.begin(), name.end(), is_name_char)) {
        return invalid_parameter("Topic Name",
                                 "must be 1-256 characters of A-Z, a-z, 0-9, '_' and '-'");
    }
    return std::nullopt;
}

std::optional<SnsError> validate_subscription_endpoint(std::string_view protocol,
                                                       std::string_view endpoint) {
    static constexpr std::array<std::string_view, 6> kAwsOnly = {
        "sms", "sqs", "lambda", "firehose", "application", "email-json-v2"};
    std::optional<std::string> problem;
    if (protocol == kProtocolHttp || protocol == kProtocolHttps) {
        problem = check_http_url(protocol, endpoint);
    } else if (protocol == kProtocolEmail || protocol == kProtocolEmailJson) {
        problem = check_email(endpoint);
    } else if (protocol == kProtocolSse) {
        bool printable = std::all_of(endpoint.begin(), endpoint.end(),
                                     [](char c) { return c >= 0x20 && c <= 0x7E; });
        if (endpoint.empty() || endpoint.size() > 512 || !printable) {
            problem = std::string("an sse Endpoint must be 1-512 printable ASCII characters");
        }
    } else if (std::find(kAwsOnly.begin(), kAwsOnly.end(), protocol) != kAwsOnly.end()) {
        return invalid_parameter("Protocol", std::string(protocol) +
                                                 " is not supported by this server (supported: "
                                                 "http, https, email, email-json, sse)");
    } else {
        return invalid_parameter("Amazon SNS does not support this protocol string: " +
                                 std::string(protocol));
    }
    if (problem) {
        return invalid_parameter("Endpoint", *problem);
    }
    return std::nullopt;
}

std::optional<SnsError> validate_subject(std::string_view subject) {
    constexpr std::string_view kRule =
        "Subject must be ASCII text that begins with a letter, number, or punctuation mark; must "
        "not include line breaks or control characters; and must be less than 100 characters "
        "long.";
    if (subject.empty() || subject.size() >= 100 || subject[0] == ' ') {
        return invalid_parameter("Subject", kRule);
    }
    for (char c : subject) {
        if (c < 0x20 || c > 0x7E) {
            return invalid_parameter("Subject", kRule);
        }
    }
    return std::nullopt;
}

std::optional<SnsError> validate_json_structure(std::string_view message) {
    auto j = parse_json(message);
    if (!j || !j->is_object()) {
        return sns_error(SnsErrorCode::InvalidParameter,
                         "Invalid parameter: Message Structure - JSON message body failed to "
                         "parse");
    }
    auto def = j->find("default");
    if (def == j->end() || !def->is_string()) {
        return sns_error(SnsErrorCode::InvalidParameter,
                         "Invalid parameter: Message Structure - No default entry in JSON "
                         "message body");
    }
    for (auto it = j->begin(); it != j->end(); ++it) {
        if (!it.value().is_string()) {
            return sns_error(SnsErrorCode::InvalidParameter,
                             "Invalid parameter: Message Structure - the value of \"" + it.key() +
                                 "\" is not a string");
        }
    }
    return std::nullopt;
}

SnsResult<std::vector<MessageAttribute>>
validate_message_attributes(const std::vector<RawMessageAttribute>& raw) {
    if (raw.size() > kMaxMessageAttributes) {
        return invalid_parameter("MessageAttributes",
                                 "Number of message attributes [" + std::to_string(raw.size()) +
                                     "] exceeds the allowed maximum [" +
                                     std::to_string(kMaxMessageAttributes) + "].");
    }
    std::vector<MessageAttribute> out;
    for (const auto& a : raw) {
        const std::string& name = a.name;
        auto bad_name = [&](std::string_view why) {
            return invalid_parameter("MessageAttributes", "invalid message attribute name '" +
                                                              name + "': " + std::string(why));
        };
        if (name.empty() || name.size() > 256) {
            return bad_name("must be 1-256 characters");
        }
        if (!std::all_of(name.begin(), name.end(), is_attribute_name_char)) {
            return bad_name("only A-Z, a-z, 0-9, '_', '-' and '.' are allowed");
        }
        if (name.front() == '.' || name.back() == '.' || name.find("..") != std::string::npos) {
            return bad_name("must not start or end with '.' or contain '..'");
        }
        std::string lower = ascii_lowercase(name);
        if (lower.starts_with("aws.") || lower.starts_with("amazon.")) {
            return bad_name("names starting with AWS. or Amazon. are reserved");
        }
        if (std::any_of(out.begin(), out.end(),
                        [&](const MessageAttribute& m) { return m.name == name; })) {
            return bad_name("given twice");
        }
        if (!a.data_type || a.data_type->empty()) {
            return invalid_parameter("MessageAttributes", "The message attribute '" + name +
                                                              "' must contain a DataType.");
        }
        const std::string& type = *a.data_type;
        auto base = type.size() <= 256 ? base_data_type(type) : std::nullopt;
        if (!base) {
            return invalid_parameter(
                "MessageAttributes",
                "The message attribute '" + name + "' has an invalid message attribute type '" +
                    type +
                    "'; use String, String.Array, Number or Binary, optionally with a "
                    "custom suffix (String.custom).");
        }
        MessageAttribute m;
        m.name = name;
        m.data_type = type;
        if (*base == "Binary") {
            if (a.string_value) {
                return invalid_parameter("MessageAttributes",
                                         "The message attribute '" + name +
                                             "' with type 'Binary' must use field 'Binary'.");
            }
            auto decoded = a.binary_value_base64 ? crypto::base64_decode(*a.binary_value_base64)
                                                 : std::nullopt;
            if (!a.binary_value_base64 || a.binary_value_base64->empty()) {
                return invalid_parameter("MessageAttributes",
                                         "The message attribute '" + name +
                                             "' must contain non-empty message attribute value "
                                             "for message attribute type 'Binary'.");
            }
            if (!decoded) {
                return invalid_parameter("MessageAttributes", "The message attribute '" + name +
                                                                  "' has a BinaryValue that is "
                                                                  "not valid base64.");
            }
            m.binary_value = std::move(*decoded);
        } else {
            if (a.binary_value_base64) {
                return invalid_parameter("MessageAttributes",
                                         "The message attribute '" + name + "' with type '" +
                                             std::string(*base) + "' must use field 'String'.");
            }
            if (!a.string_value || a.string_value->empty()) {
                return invalid_parameter("MessageAttributes",
                                         "The message attribute '" + name +
                                             "' must contain non-empty message attribute value "
                                             "for message attribute type '" +
                                             std::string(*base) + "'.");
            }
            m.string_value = *a.string_value;
            if (*base == "Number" && !valid_number(m.string_value)) {
                return invalid_parameter("MessageAttributes",
                                         "Could not cast message attribute '" + name +
                                             "' value to number (up to 38 significant digits, "
                                             "magnitude between 10^-128 and 10^126).");
            }
            if (*base == "String.Array") {
                auto j = parse_json(m.string_value);
                bool ok =
                    j && j->is_array() &&
                    std::all_of(j->begin(), j->end(), [](const nlohmann::json& e) {
                        return e.is_string() || e.is_number() || e.is_boolean() || e.is_null();
                    });
                if (!ok) {
                    return invalid_parameter(
                        "MessageAttributes",
                        "The message attribute '" + name +
                            "' with type 'String.Array' must be a JSON array of strings, "
                            "numbers, true, false or null.");
                }
            }
        }
        out.push_back(std::move(m));
    }
    return out;
}

std::size_t publish_size(std::string_view message,
                         const std::vector<MessageAttribute>& attributes) {
    std::size_t size = message.size();
    for (const auto& a : attributes) {
        size += a.name.size() + a.data_type.size() + a.string_value.size() + a.binary_value.size();
    }
    return size;
}

std::optional<std::string> redrive_policy_check(std::string_view json) {
    auto j = parse_json(json);
    if (!j || !j->is_object()) {
        return std::string("RedrivePolicy must be a JSON object");
    }
    auto target = j->find("deadLetterTargetArn");
    if (target == j->end() || !target->is_string()) {
        return std::string("RedrivePolicy must contain a string deadLetterTargetArn");
    }
    std::string arn = target->get<std::string>();
    if (!arn.starts_with("arn:") || std::count(arn.begin(), arn.end(), ':') < 5) {
        return std::string("deadLetterTargetArn is not a valid ARN");
    }
    for (auto it = j->begin(); it != j->end(); ++it) {
        if (it.key() != "deadLetterTargetArn") {
            return "RedrivePolicy has an unknown key " + it.key();
        }
    }
    return std::nullopt;
}

}  // namespace pf::notify
