// A small XML builder for SNS responses (notify may not include s3api's). Text is escaped, and
// characters XML 1.0 cannot carry (control characters, invalid UTF-8) become U+FFFD, so a
// document is well-formed whatever a stored attribute holds. Elements close in order (close()
// closes the innermost; take() closes the rest).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pf::notify {

inline constexpr std::string_view kSnsNamespace = "http://sns.amazonaws.com/doc/2010-03-31/";

class SnsXml {
public:
    // A fragment (declaration = false) is for the content of a Result element.
    explicit SnsXml(bool declaration = true);
    SnsXml& open(std::string_view name, std::string_view xml_namespace = {});
    SnsXml& close();
    SnsXml& element(std::string_view name, std::string_view text);
    // <entry><key>k</key><value>v</value></entry>
    SnsXml& entry(std::string_view key, std::string_view value);
    // Appends XML built by another (fragment) SnsXml.
    SnsXml& raw(std::string_view xml);
    std::string take();

    static std::string escape(std::string_view text);

private:
    std::string out_;
    std::vector<std::string> open_;
};

}  // namespace pf::notify
