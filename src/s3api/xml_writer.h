// A small builder for the XML documents S3 returns. Text and attribute values are escaped; the
// XML declaration is written first. Elements are opened and closed in order (close() closes the
// innermost), so a document cannot be malformed by construction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <initializer_list>
#include <utility>
#include <vector>

namespace pf::s3api {

inline constexpr std::string_view kS3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

class XmlWriter {
public:
    XmlWriter();
    // <name> or <name xmlns="...">
    XmlWriter& open(std::string_view name, std::string_view xml_namespace = {});
    // <name a="v" ...>
    XmlWriter& open_with(std::string_view name,
                         std::initializer_list<std::pair<std::string_view, std::string_view>> attrs);
    XmlWriter& close();
    XmlWriter& element(std::string_view name, std::string_view text);
    XmlWriter& element(std::string_view name, const std::string& text) {
        return element(name, std::string_view(text));
    }
    // Without this, a string literal would convert to bool before string_view.
    XmlWriter& element(std::string_view name, const char* text) {
        return element(name, std::string_view(text));
    }
    XmlWriter& element(std::string_view name, std::uint64_t number);
    XmlWriter& element(std::string_view name, bool flag);
    // Closes what is open and returns the document.
    std::string take();

private:
    void escape(std::string_view text);
    std::string out_;
    std::vector<std::string> open_;
};

}  // namespace pf::s3api
