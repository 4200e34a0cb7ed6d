#include "aws/response_xml.h"

#include <pugixml.hpp>

namespace pf::aws {
namespace {

pugi::xml_node as_node(void* p) {
    return pugi::xml_node(static_cast<pugi::xml_node_struct*>(p));
}

std::string_view local_name(const char* name) {
    const std::string_view n(name);
    const std::size_t colon = n.find(':');
    return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

}  // namespace

std::string_view XmlElement::name() const {
    return local_name(as_node(node_).name());
}

std::string XmlElement::text() const {
    return as_node(node_).child_value();
}

std::optional<XmlElement> XmlElement::child(std::string_view name) const {
    for (pugi::xml_node c : as_node(node_).children()) {
        if (c.type() == pugi::node_element && local_name(c.name()) == name) {
            return XmlElement(c.internal_object());
        }
    }
    return std::nullopt;
}

std::vector<XmlElement> XmlElement::children(std::string_view name) const {
    std::vector<XmlElement> out;
    for (pugi::xml_node c : as_node(node_).children()) {
        if (c.type() == pugi::node_element && local_name(c.name()) == name) {
            out.push_back(XmlElement(c.internal_object()));
        }
    }
    return out;
}

std::string XmlElement::child_text(std::string_view name) const {
    const auto c = child(name);
    return c ? c->text() : std::string();
}

struct XmlResponse::State {
    pugi::xml_document doc;
};

XmlResponse::XmlResponse(std::unique_ptr<State> state) : state_(std::move(state)) {}
XmlResponse::XmlResponse(XmlResponse&&) noexcept = default;
XmlResponse& XmlResponse::operator=(XmlResponse&&) noexcept = default;
XmlResponse::~XmlResponse() = default;

Result<XmlResponse> XmlResponse::parse(std::string_view text) {
    if (text.size() > kMaxBytes) {
        return make_error(ErrorCode::InvalidArgument,
                          "XML response of " + std::to_string(text.size()) +
                              " bytes is over the 16 MiB limit");
    }
    auto state = std::make_unique<State>();
    // parse_doctype keeps a DOCTYPE node, so one can be found and refused below.
    const unsigned flags = pugi::parse_default | pugi::parse_doctype;
    const pugi::xml_parse_result parsed =
        state->doc.load_buffer(text.data(), text.size(), flags, pugi::encoding_utf8);
    if (!parsed) {
        return make_error(ErrorCode::InvalidArgument,
                          std::string("malformed XML response: ") + parsed.description() +
                              " at byte " + std::to_string(parsed.offset));
    }
    for (pugi::xml_node n : state->doc.children()) {
        if (n.type() == pugi::node_doctype) {
            return make_error(ErrorCode::InvalidArgument, "XML response has a DOCTYPE");
        }
    }
    if (!state->doc.document_element()) {
        return make_error(ErrorCode::InvalidArgument, "XML response has no root element");
    }
    return XmlResponse(std::move(state));
}

XmlElement XmlResponse::root() const {
    return XmlElement(state_->doc.document_element().internal_object());
}

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default: out.push_back(c);
        }
    }
    return out;
}

}  // namespace pf::aws
