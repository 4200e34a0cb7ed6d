#include "s3api/xml_reader.h"

#include <pugixml.hpp>

namespace pf::s3api {
namespace {

pugi::xml_node as_node(void* p) { return pugi::xml_node(static_cast<pugi::xml_node_struct*>(p)); }

std::string_view local_name(const char* name) {
    std::string_view n(name);
    auto colon = n.find(':');
    return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

// Depth of element nesting, measured on the raw text before building a tree, so a deeply nested
// document is refused without the parser ever holding it.
bool nesting_within(std::string_view text, int max_depth) {
    int depth = 0;
    for (std::size_t i = 0; i + 1 < text.size(); ++i) {
        if (text[i] != '<') {
            continue;
        }
        char next = text[i + 1];
        if (next == '/') {
            --depth;
        } else if (next != '?' && next != '!') {
            auto end = text.find('>', i);
            if (end == std::string_view::npos) {
                return true;  // the parser reports it as malformed
            }
            if (text[end - 1] != '/' && ++depth > max_depth) {
                return false;
            }
        }
    }
    return true;
}

}  // namespace

std::string_view XmlNode::name() const { return local_name(as_node(node_).name()); }

std::string XmlNode::text() const { return as_node(node_).child_value(); }

std::optional<XmlNode> XmlNode::child(std::string_view name) const {
    for (pugi::xml_node c : as_node(node_).children()) {
        if (c.type() == pugi::node_element && local_name(c.name()) == name) {
            return XmlNode(c.internal_object());
        }
    }
    return std::nullopt;
}

std::vector<XmlNode> XmlNode::children(std::string_view name) const {
    std::vector<XmlNode> out;
    for (pugi::xml_node c : as_node(node_).children()) {
        if (c.type() == pugi::node_element && local_name(c.name()) == name) {
            out.push_back(XmlNode(c.internal_object()));
        }
    }
    return out;
}

std::vector<XmlNode> XmlNode::all_children() const {
    std::vector<XmlNode> out;
    for (pugi::xml_node c : as_node(node_).children()) {
        if (c.type() == pugi::node_element) {
            out.push_back(XmlNode(c.internal_object()));
        }
    }
    return out;
}

struct XmlDocument::State {
    pugi::xml_document doc;
};

XmlDocument::XmlDocument(std::unique_ptr<State> state) : state_(std::move(state)) {}
XmlDocument::XmlDocument(XmlDocument&&) noexcept = default;
XmlDocument::~XmlDocument() = default;

XmlNode XmlDocument::root() const { return XmlNode(state_->doc.document_element().internal_object()); }

Result<XmlDocument> XmlDocument::parse(std::string_view text, int max_depth) {
    if (text.find("<!DOCTYPE") != std::string_view::npos ||
        text.find("<!ENTITY") != std::string_view::npos) {
        return make_error(ErrorCode::InvalidArgument, "XML with a DOCTYPE or entity declarations",
                          "DOCTYPE and entity declarations are not accepted");
    }
    if (!nesting_within(text, max_depth)) {
        return make_error(ErrorCode::InvalidArgument, "XML nested too deeply",
                          "The XML is nested deeper than " + std::to_string(max_depth) +
                              " levels");
    }
    auto state = std::make_unique<State>();
    // Only the five predefined entities and character references are expanded; no DTD is read.
    auto parsed = state->doc.load_buffer(text.data(), text.size(),
                                         pugi::parse_default & ~pugi::parse_doctype,
                                         pugi::encoding_utf8);
    if (!parsed) {
        return make_error(ErrorCode::InvalidArgument,
                          std::string("malformed XML: ") + parsed.description());
    }
    if (!state->doc.document_element()) {
        return make_error(ErrorCode::InvalidArgument, "XML without a root element");
    }
    return XmlDocument(std::move(state));
}

}  // namespace pf::s3api
