// Internal to http/: what the libcurl adapters (client.cc, smtp_client.cc) share. Not for use
// outside this folder; nothing here appears in a public header.
#pragma once

#include "base/result.h"

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace pf::http::curl {

// curl_global_init, exactly once per process, thread-safe (std::call_once). Never cleaned up:
// the process keeps libcurl (and OpenSSL) until it exits.
void ensure_global_init();

struct EasyDeleter {
    void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;

// A new easy handle (after ensure_global_init()); null only when libcurl is out of memory.
Easy make_easy();

// A curl_slist that frees itself.
class StringList {
public:
    StringList() = default;
    StringList(const StringList&) = delete;
    StringList& operator=(const StringList&) = delete;
    ~StringList() { curl_slist_free_all(list_); }
    // False when libcurl is out of memory.
    bool append(const std::string& item);
    curl_slist* get() const { return list_; }

private:
    curl_slist* list_ = nullptr;
};

// A timeout for CURLOPT_*TIMEOUT_MS: at least 1 ms, because 0 means "none" (or curl's default)
// there, and a budget that ran out must not turn into no budget at all.
inline long timeout_ms(std::chrono::milliseconds timeout) {
    return timeout.count() < 1 ? 1L : static_cast<long>(timeout.count());
}

// "Timeout was reached (Connection timed out after 200 milliseconds)": curl's text for a code
// plus the detail from CURLOPT_ERRORBUFFER when there is one.
std::string describe(CURLcode code, const char* error_buffer);

// The Error a failed transfer becomes, by what the caller should do: Timeout, InvalidArgument (a
// bad URL or scheme: permanent), Internal (libcurl itself failed), else Unavailable (DNS, connect,
// TLS, a broken answer: may pass later). Protocol answers (HTTP status, SMTP replies) are the
// caller's to classify first.
Error transfer_error(CURLcode code, std::string message);

}  // namespace pf::http::curl
