// What an S3 write tells the store about itself for the event it produces (storage::ChangeCause):
// the event name, the response's request ids, the client address and principal, and the trace id
// the event carries on to whatever it triggers.
#pragma once

#include "s3api/authenticator.h"
#include "s3api/cors.h"
#include "s3api/s3_request.h"
#include "storage/object_store.h"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace pf::s3api {

inline constexpr std::size_t kMaxTraceIdBytes = 256;

// The client's IP without the port: "127.0.0.1:5312" -> "127.0.0.1", "[::1]:5312" -> "::1".
std::string client_ip(std::string_view remote_address);

// An X-Amzn-Trace-Id header value worth passing on: at most 256 bytes of visible ASCII without
// quotes, backslashes or spaces, with a Root= field. nullopt otherwise (then one is generated).
std::optional<std::string> valid_trace_header(std::string_view value);

// "Root=1-<8 hex: Unix seconds>-<24 hex>": the request id's hex digits, then random ones.
std::string new_trace_id(std::string_view request_id, std::chrono::system_clock::time_point now);

// The cause of a write made by `request`. `response_headers` are the ones every response of the
// request carries (x-amz-request-id, x-amz-id-2): the event repeats them.
storage::ChangeCause
change_cause(const S3Request& request, const Principal& principal, std::string_view event_name,
             const HeaderPairs& response_headers,
             std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace pf::s3api
