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

void XmlWriter::escape(std::string_view text) {
    for (char c : text) {
        switch (c) {
        case '<': out_ += "&lt;"; break;
        case '>': out_ += "&gt;"; break;
        case '&': out_ += "&amp;"; break;
        case '"': out_ += "&quot;"; break;
        case '\'': out_ += "&apos;"; break;
        case '\r': out_ += "&#13;"; break;
        default:
            // Control characters are not allowed in XML 1.0; keys may hold them, so they are
            // written as character references S3's clients decode.
            if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
                out_ += "&#" + std::to_string(static_cast<int>(c)) + ";";
            } else {
                out_ += c;
            }
        }
    }
}

}  // namespace pf::s3api
