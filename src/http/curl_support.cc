#include "http/curl_support.h"

#include "base/check.h"

#include <mutex>

namespace pf::http::curl {

void ensure_global_init() {
    static std::once_flag once;
    std::call_once(once, [] { PF_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK); });
}

Easy make_easy() {
    ensure_global_init();
    return Easy(curl_easy_init());
}

bool StringList::append(const std::string& item) {
    curl_slist* grown = curl_slist_append(list_, item.c_str());
    if (grown == nullptr) {
        return false;
    }
    list_ = grown;
    return true;
}

std::string describe(CURLcode code, const char* error_buffer) {
    std::string out = curl_easy_strerror(code);
    if (error_buffer != nullptr && error_buffer[0] != '\0') {
        std::string detail = error_buffer;
        while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) {
            detail.pop_back();
        }
        if (detail != out) {
            out += " (" + detail + ")";
        }
    }
    return out;
}

Error transfer_error(CURLcode code, std::string message) {
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
        return make_error(ErrorCode::Timeout, std::move(message));
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return make_error(ErrorCode::InvalidArgument, std::move(message));
    case CURLE_OUT_OF_MEMORY:
    case CURLE_FAILED_INIT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
        return make_error(ErrorCode::Internal, std::move(message));
    default:
        return make_error(ErrorCode::Unavailable, std::move(message));
    }
}

}  // namespace pf::http::curl
