// How the console's JSON endpoints talk: replies with Content-Type application/json and
// Cache-Control no-store, errors as {"error", "message"}, and request bodies read with a size
// limit and parsed with a depth limit.
#pragma once

#include "base/result.h"
#include "http/server.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::console {

using HeaderPairs = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::size_t kMaxJsonBody = 64 * 1024;
inline constexpr std::size_t kMaxJsonDepth = 16;

void reply_json(http::Response& response, int status, const nlohmann::json& body,
                HeaderPairs extra = {});
void reply_error(http::Response& response, int status, std::string_view code,
                 std::string_view message, HeaderPairs extra = {});
// Maps a store or service error to the contract's statuses (404, 400, 409, 503, 500).
void reply_result_error(http::Response& response, const Error& error);
void reply_no_content(http::Response& response, HeaderPairs extra = {});

// Reads the whole body, refusing more than `limit` bytes: TooLarge (413) when it is bigger,
// Timeout / Unavailable / CorruptInput when the connection fails.
Result<std::string> read_body(const http::Request& request, http::RequestBody& body,
                              std::size_t limit);
// Reads and parses a JSON object body; InvalidArgument (400) with the parser's message, TooLarge
// (413) over kMaxJsonBody.
Result<nlohmann::json> read_json_object(const http::Request& request, http::RequestBody& body);
// Replies with the status that fits a body-reading error (400, 408, 413).
void reply_body_error(http::Response& response, const Error& error);

}  // namespace pf::console
