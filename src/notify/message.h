// What a publisher sends: the message, its subject and attributes, as Publish received them (after
// validation). Shared by the SNS API, filter policies, fan-out and envelopes.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pf::notify {

struct MessageAttribute {
    std::string name;
    std::string data_type;     // "String", "String.Array", "Number", "Binary" (+ ".custom" suffix)
    std::string string_value;  // String, String.Array (JSON array text), Number
    std::string binary_value;  // Binary: the raw bytes (base64 only on the wire)

    bool is_binary() const { return data_type == "Binary" || data_type.starts_with("Binary."); }
};

struct PublishedMessage {
    std::string message_id;               // uuid minted by Publish
    std::string topic_arn;
    std::optional<std::string> subject;
    std::string message;                  // the Message parameter as sent
    bool json_structure = false;          // MessageStructure=json: `message` maps protocol -> text
    std::vector<MessageAttribute> attributes;
    std::string timestamp;                // "2012-05-02T00:54:06.655Z", fixed at Publish
};

}  // namespace pf::notify
