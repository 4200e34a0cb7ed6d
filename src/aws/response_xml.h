// Reading the XML documents AWS services answer with (S3 results and errors, SNS Query API
// responses) and escaping text for the few XML bodies the clients send. A response comes from a
// configured endpoint but is still bounded: the size is capped before parsing, a DOCTYPE is
// refused (so no entity tricks), and element lookups ignore namespaces (S3 error documents have
// none, results have S3's). pugixml stays behind this header.
#pragma once

#include "base/result.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pf::aws {

class XmlElement {
public:
    std::string_view name() const;  // local name: prefix and namespace dropped
    std::string text() const;       // the element's own character data
    std::optional<XmlElement> child(std::string_view name) const;
    std::vector<XmlElement> children(std::string_view name) const;
    // Text of the first child with that name; empty when there is none.
    std::string child_text(std::string_view name) const;

private:
    friend class XmlResponse;
    explicit XmlElement(void* node) : node_(node) {}
    void* node_;  // pugi::xml_node_struct*, owned by the document
};

class XmlResponse {
public:
    static constexpr std::size_t kMaxBytes = 16u << 20;
    // InvalidArgument when larger than kMaxBytes, not well-formed, empty, or with a DOCTYPE.
    static Result<XmlResponse> parse(std::string_view text);
    XmlResponse(XmlResponse&&) noexcept;
    XmlResponse& operator=(XmlResponse&&) noexcept;
    ~XmlResponse();
    XmlElement root() const;

private:
    struct State;
    explicit XmlResponse(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

// Text escaped for element content and attribute values (& < > " ').
std::string xml_escape(std::string_view text);

}  // namespace pf::aws
