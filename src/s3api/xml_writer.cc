#include "s3api/xml_writer.h"

namespace pf::s3api {

XmlWriter::XmlWriter() { out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"; }

XmlWriter& XmlWriter::open(std::string_view name, std::string_view xml_namespace) {
    out_ += '<';
    out_ += name;
    if (!xml_namespace.empty()) {
        out_ += " xmlns=\"";
        escape(xml_namespace);
        out_ += '"';
    }
    out_ += '>';
    open_.emplace_back(name);
    return *this;
}

XmlWriter& XmlWriter::open_with(
    std::string_view name, std::initializer_list<std::pair<std::string_view, std::string_view>> attrs) {
    out_ += '<';
    out_ += name;
    for (const auto& [attr, value] : attrs) {
        out_ += ' ';
        out_ += attr;
        out_ += "=\"";
        escape(value);
        out_ += '"';
    }
    out_ += '>';
    open_.emplace_back(name);
    return *this;
}

XmlWriter& XmlWriter::close() {
    if (!open_.empty()) {
        out_ += "</";
        out_ += open_.back();
        out_ += '>';
        open_.pop_back();
    }
    return *this;
}

XmlWriter& XmlWriter::element(std::string_view name, std::string_view text) {
    out_ += '<';
    out_ += name;
    out_ += '>';
    escape(text);
    out_ += "</";
    out_ += name;
    out_ += '>';
    return *this;
}

XmlWriter& XmlWriter::element(std::string_view name, std::uint64_t number) {
    return element(name, std::string_view(std::to_string(number)));
}

XmlWriter& XmlWriter::element(std::string_view name, bool flag) {
    return element(name, std::string_view(flag ? "true" : "false"));
}

std::string XmlWriter::take() {
    while (!open_.empty()) {
        close();
    }
    return std::move(out_);
}

namespace {

// Length of the valid UTF-8 sequence at the start of `s`, or 0 when it is not one.
std::size_t utf8_sequence(std::string_view s) {
    auto c = static_cast<unsigned char>(s[0]);
    std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || len > s.size()) {
        return 0;
    }
    std::uint32_t cp = len == 1 ? c : c & (0xFF >> (len + 1));
    for (std::size_t i = 1; i < len; ++i) {
        auto cc = static_cast<unsigned char>(s[i]);
        if ((cc & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (cc & 0x3F);
    }
    bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

}  // namespace

void XmlWriter::escape(std::string_view text) {
    // XML 1.0 cannot carry invalid UTF-8 or most control characters, not even as character
    // references; they become U+FFFD so a document is always well-formed (keys with them are
    // refused on the way in; this guards echoes of what a client sent, such as <Resource>).
    constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
    std::size_t i = 0;
    while (i < text.size()) {
        char c = text[i];
        auto uc = static_cast<unsigned char>(c);
        if (uc >= 0x80) {
            std::size_t len = utf8_sequence(text.substr(i));
            if (len == 0) {
                out_ += kReplacement;
                ++i;
            } else {
                out_ += text.substr(i, len);
                i += len;
            }
            continue;
        }
        switch (c) {
        case '<': out_ += "&lt;"; break;
        case '>': out_ += "&gt;"; break;
        case '&': out_ += "&amp;"; break;
        case '"': out_ += "&quot;"; break;
        case '\'': out_ += "&apos;"; break;
        case '\r': out_ += "&#13;"; break;
        case '\n':
        case '\t': out_ += c; break;
        default:
            if (uc < 0x20) {
                out_ += kReplacement;
            } else {
                out_ += c;
            }
        }
        ++i;
    }
}

}  // namespace pf::s3api
