// Parsing of the XML bodies clients send (Delete, CompleteMultipartUpload, bucket configuration).
// Untrusted input: the size is capped before parsing, a DOCTYPE (and with it every entity trick,
// "billion laughs" included) is refused outright, and nesting depth is bounded. Element lookup
// ignores namespaces, since some clients send S3's xmlns and some do not.
#pragma once

#include "base/result.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pf::s3api {

class XmlNode {
public:
    // Local name (prefix and namespace ignored).
    std::string_view name() const;
    std::string text() const;
    // First child with that local name.
    std::optional<XmlNode> child(std::string_view name) const;
    std::vector<XmlNode> children(std::string_view name) const;
    std::vector<XmlNode> all_children() const;

private:
    friend class XmlDocument;
    explicit XmlNode(void* node) : node_(node) {}
    void* node_;  // pugi::xml_node_struct*, a handle into the document that owns it
};

class XmlDocument {
public:
    // InvalidArgument (-> MalformedXML) when not well-formed, when it has a DOCTYPE, or when it
    // nests deeper than max_depth.
    static Result<XmlDocument> parse(std::string_view text, int max_depth = 16);
    XmlDocument(XmlDocument&&) noexcept;
    ~XmlDocument();
    XmlNode root() const;

private:
    struct State;
    explicit XmlDocument(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

}  // namespace pf::s3api
