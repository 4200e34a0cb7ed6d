#include "aws/uri_encoding.h"
#include "crypto/encoding.h"

namespace pf::aws {
namespace {

constexpr char kUpperHex[] = "0123456789ABCDEF";

bool is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

void append_escape(std::string& out, unsigned char c) {
    out.push_back('%');
    out.push_back(kUpperHex[c >> 4]);
    out.push_back(kUpperHex[c & 0x0F]);
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '%') {
            if (i + 2 >= text.size()) { // "%" or "%A" at the end
                return std::nullopt;
            }
            const int hi = crypto::hex_digit_value(text[i + 1]);
            const int lo = crypto::hex_digit_value(text[i + 2]);
            if (hi < 0 || lo < 0) {
                return std::nullopt;
            }
            out.push_back(static_cast<char>((hi << 4) | lo));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

} // namespace

std::string uri_encode(std::string_view bytes, bool keep_slash) {
    std::string out;
    out.reserve(bytes.size() + bytes.size() / 2);
    for (const char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            out.push_back(ch);
        } else {
            append_escape(out, c);
        }
    }
    return out;
}

std::optional<std::string> percent_decode_path(std::string_view text) {
    return percent_decode(text, false);
}

std::optional<std::string> form_decode(std::string_view text) {
    return percent_decode(text, true);
}

std::string form_encode(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() + bytes.size() / 2);
    for (const char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (is_unreserved(c)) {
            out.push_back(ch);
        } else if (c == ' ') {
            out.push_back('+');
        } else {
            append_escape(out, c);
        }
    }
    return out;
}

std::optional<QueryParams> parse_query(std::string_view query) {
    QueryParams params;
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view piece = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (piece.empty()) {
            continue; // "a=1&&b=2" and a trailing '&' carry no parameter
        }
        const std::size_t eq = piece.find('=');
        auto name = form_decode(piece.substr(0, eq));
        auto value = eq == std::string_view::npos ? std::optional<std::string>(std::string{})
                                                  : form_decode(piece.substr(eq + 1));
        if (!name || !value) {
            return std::nullopt;
        }
        params.emplace_back(std::move(*name), std::move(*value));
    }
    return params;
}

} // namespace pf::aws
