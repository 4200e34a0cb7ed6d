#include "notify/sns_xml.h"

#include <cstdint>

namespace pf::notify {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence starting at text[i] (0 when invalid), and its code point.
std::size_t utf8_sequence(std::string_view text, std::size_t i, std::uint32_t& cp) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    std::size_t n = 0;
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    }
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
        return 0;
    }
    if (i + n > text.size()) {
        return 0;
    }
    for (std::size_t k = 1; k < n; ++k) {
        const auto b = static_cast<unsigned char>(text[i + k]);
        if ((b & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (b & 0x3Fu);
    }
    const bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (overlong || surrogate || cp > 0x10FFFF) {
        return 0;
    }
    return n;
}

}  // namespace

std::string SnsXml::escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        std::uint32_t cp = 0;
        std::size_t n = utf8_sequence(text, i, cp);
        if (n == 0) {
            out.append(kReplacement);
            ++i;
            continue;
        }
        if (n == 1) {
            char c = text[i];
            switch (c) {
            case '<':
                out.append("&lt;");
                break;
            case '>':
                out.append("&gt;");
                break;
            case '&':
                out.append("&amp;");
                break;
            case '"':
                out.append("&quot;");
                break;
            case '\'':
                out.append("&apos;");
                break;
            case '\r':
                out.append("&#xD;");
                break;
            default:
                if (cp < 0x20 && c != '\n' && c != '\t') {
                    out.append(kReplacement);
                } else {
                    out.push_back(c);
                }
            }
        } else if (cp == 0xFFFE || cp == 0xFFFF) {
            out.append(kReplacement);
        } else {
            out.append(text.substr(i, n));
        }
        i += n;
    }
    return out;
}

SnsXml::SnsXml(bool declaration) {
    if (declaration) {
        out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    }
}

SnsXml& SnsXml::open(std::string_view name, std::string_view xml_namespace) {
    out_.push_back('<');
    out_.append(name);
    if (!xml_namespace.empty()) {
        out_.append(" xmlns=\"");
        out_.append(escape(xml_namespace));
        out_.push_back('"');
    }
    out_.push_back('>');
    open_.emplace_back(name);
    return *this;
}

SnsXml& SnsXml::close() {
    if (!open_.empty()) {
        out_.append("</");
        out_.append(open_.back());
        out_.push_back('>');
        open_.pop_back();
    }
    return *this;
}

SnsXml& SnsXml::element(std::string_view name, std::string_view text) {
    out_.push_back('<');
    out_.append(name);
    out_.push_back('>');
    out_.append(escape(text));
    out_.append("</");
    out_.append(name);
    out_.push_back('>');
    return *this;
}

SnsXml& SnsXml::entry(std::string_view key, std::string_view value) {
    open("entry");
    element("key", key);
    element("value", value);
    return close();
}

SnsXml& SnsXml::raw(std::string_view xml) {
    out_.append(xml);
    return *this;
}

std::string SnsXml::take() {
    while (!open_.empty()) {
        close();
    }
    return std::move(out_);
}

}  // namespace pf::notify
