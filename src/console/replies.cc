#include "console/replies.h"

#include "base/json_depth.h"
#include "console/activity_feed.h"

namespace pf::console {

void reply_json(http::Response& response, int status, const nlohmann::json& body,
                HeaderPairs extra) {
    // error_handler replace: a store key that is not valid UTF-8 must not throw here.
    std::string text = dump_json(body);
    text.push_back('\n');
    HeaderPairs headers = {{"Content-Type", "application/json"},
                           {"Cache-Control", "no-store"},
                           {"X-Content-Type-Options", "nosniff"}};
    for (auto& header : extra) {
        headers.push_back(std::move(header));
    }
    if (response.start(status, std::move(headers), text.size())) {
        (void)response.write(text);
    }
}

void reply_error(http::Response& response, int status, std::string_view code,
                 std::string_view message, HeaderPairs extra) {
    reply_json(response, status, {{"error", code}, {"message", message}}, std::move(extra));
}

void reply_result_error(http::Response& response, const Error& error) {
    switch (error.code) {
    case ErrorCode::NotFound:
        return reply_error(response, 404, "not_found", error.client_message());
    case ErrorCode::InvalidArgument:
    case ErrorCode::CorruptInput:
        return reply_error(response, 400, "bad_request", error.client_message());
    case ErrorCode::AlreadyExists:
    case ErrorCode::PreconditionFailed:
        return reply_error(response, 409, "conflict", error.client_message());
    case ErrorCode::TooLarge:
        return reply_error(response, 413, "too_large", error.client_message());
    case ErrorCode::Unavailable:
    case ErrorCode::Timeout:
        return reply_error(response, 503, "unavailable", error.client_message(),
                           {{"Retry-After", "5"}});
    default:
        return reply_error(response, 500, "internal", "internal error");
    }
}

void reply_no_content(http::Response& response, HeaderPairs extra) {
    extra.emplace_back("Cache-Control", "no-store");
    (void)response.start(204, std::move(extra), 0);
}

Result<std::string> read_body(const http::Request& request, http::RequestBody& body,
                              std::size_t limit) {
    auto too_large = [&] {
        return make_error(ErrorCode::TooLarge, "the request body is over the limit of " +
                                                   std::to_string(limit) + " bytes");
    };
    if (request.content_length && *request.content_length > limit) {
        return too_large();
    }
    std::string text;
    char buffer[16 * 1024];
    for (;;) {
        auto n = body.read(std::span<char>(buffer, sizeof buffer));
        if (!n) {
            return n.error();
        }
        if (*n == 0) {
            return text;
        }
        if (text.size() + *n > limit) {
            return too_large();
        }
        text.append(buffer, *n);
    }
}

Result<nlohmann::json> read_json_object(const http::Request& request, http::RequestBody& body) {
    auto text = read_body(request, body, kMaxJsonBody);
    if (!text) {
        return text.error();
    }
    if (json_nesting_exceeds(*text, kMaxJsonDepth)) {
        return make_error(ErrorCode::InvalidArgument, "the JSON body nests too deeply");
    }
    // Non-throwing parse: exceptions stay inside imaging/ (DESIGN.md).
    auto parsed = nlohmann::json::parse(*text, nullptr, false);
    if (parsed.is_discarded()) {
        return make_error(ErrorCode::InvalidArgument, "the body is not valid JSON");
    }
    if (!parsed.is_object()) {
        return make_error(ErrorCode::InvalidArgument, "the body must be a JSON object");
    }
    return parsed;
}

void reply_body_error(http::Response& response, const Error& error) {
    response.close_after();  // what is left of the body is not worth reading
    switch (error.code) {
    case ErrorCode::TooLarge:
        return reply_error(response, 413, "too_large", error.client_message());
    case ErrorCode::InvalidArgument:
        return reply_error(response, 400, "bad_request", error.client_message());
    case ErrorCode::Timeout:
        return reply_error(response, 408, "timeout", "the request body stopped arriving");
    default:
        return reply_error(response, 400, "bad_request", "the request body could not be read");
    }
}

}  // namespace pf::console
