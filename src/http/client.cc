// HttpClient on libcurl's easy interface: one easy handle per send(), so calls on different
// threads share nothing but the immutable options. The AddressPolicy sits in the socket-open
// callback (every address curl tries, after DNS) and again in the pre-request callback (the
// address actually connected), see client.h.
#include "http/client.h"

#include "base/ascii.h"
#include "http/curl_support.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>

namespace pf::http {
namespace {

constexpr std::size_t kMaxUrlBytes = 16 * 1024;

bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

bool has_control_or_space(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
    });
}

// A header value may hold tabs and visible characters (and obs-text), never CR, LF or NUL.
bool is_header_value(std::string_view s) {
    return std::none_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && u != '\t') || u == 0x7f;
    });
}

struct UrlDeleter {
    void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using Url = std::unique_ptr<CURLU, UrlDeleter>;

// One URL part as a string, or empty when absent.
std::string url_part(CURLU* url, CURLUPart part) {
    char* value = nullptr;
    if (curl_url_get(url, part, &value, 0) != CURLUE_OK || value == nullptr) {
        return {};
    }
    std::string out = value;
    curl_free(value);
    return out;
}

// Where a response body goes: decided at its first byte, once the status is known.
enum class BodyTarget { Undecided, Buffer, Sink };

// State one transfer's callbacks share with send().
struct Transfer {
    const ClientOptions* options = nullptr;
    CURL* handle = nullptr;
    ClientResponse response;
    // Streamed request body (ClientRequest::body_source).
    ByteSource* source = nullptr;
    std::uint64_t source_length = 0;
    std::uint64_t source_sent = 0;
    std::optional<Error> source_error;
    // Streamed 2xx response body (ClientRequest::response_sink).
    ByteSink* sink = nullptr;
    BodyTarget target = BodyTarget::Undecided;
    std::optional<Error> sink_error;
    std::size_t header_bytes = 0;
    std::vector<std::string> refusals;  // every address the policy refused, with the reason
    bool tried_allowed_address = false;
    bool refused_before_request = false;  // the pre-request check refused the connected peer
};

curl_socket_t open_socket(void* clientp, curlsocktype purpose, curl_sockaddr* address) {
    auto* transfer = static_cast<Transfer*>(clientp);
    if (purpose != CURLSOCKTYPE_IPCXN) {
        return CURL_SOCKET_BAD;
    }
    const std::size_t needed =
        address->family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    const AddressPolicy& policy = transfer->options->address_policy;
    if ((address->family != AF_INET && address->family != AF_INET6) || address->addrlen < needed) {
        transfer->refusals.push_back("a non-IP address (family " + std::to_string(address->family) +
                                     ")");
        return CURL_SOCKET_BAD;
    }
    if (!policy.allows(&address->addr)) {
        transfer->refusals.push_back(policy.describe_refusal(&address->addr));
        return CURL_SOCKET_BAD;
    }
    transfer->tried_allowed_address = true;
    const int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    return fd < 0 ? CURL_SOCKET_BAD : fd;
}

// Called once connected, before the request goes out: the connected peer must be allowed too.
int before_request(void* clientp, char* primary_ip, char* /*local_ip*/, int /*primary_port*/,
                   int /*local_port*/) {
    auto* transfer = static_cast<Transfer*>(clientp);
    std::string_view text = primary_ip != nullptr ? primary_ip : "";
    text = text.substr(0, text.find('%'));  // an IPv6 zone id
    const auto ip = IpAddress::parse(text);
    const AddressPolicy& policy = transfer->options->address_policy;
    if (!ip || !policy.allows(*ip)) {
        transfer->refusals.push_back(ip ? policy.describe_refusal(*ip)
                                        : "\"" + std::string(text) + "\" is not an IP address");
        transfer->refused_before_request = true;
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* userdata) {
    auto* transfer = static_cast<Transfer*>(userdata);
    const std::size_t bytes = size * count;
    if (transfer->target == BodyTarget::Undecided) {
        long status = 0;
        curl_easy_getinfo(transfer->handle, CURLINFO_RESPONSE_CODE, &status);
        transfer->target = transfer->sink != nullptr && status >= 200 && status <= 299
                               ? BodyTarget::Sink
                               : BodyTarget::Buffer;
    }
    if (transfer->target == BodyTarget::Sink) {
        auto written = transfer->sink->write(std::span<const char>(data, bytes));
        if (!written) {
            transfer->sink_error = written.error();
            return 0;  // stops the transfer with CURLE_WRITE_ERROR; send() returns this error
        }
        transfer->response.sink_bytes += bytes;
        return bytes;
    }
    std::string& body = transfer->response.body;
    const std::size_t room = transfer->options->max_response_bytes - body.size();
    if (bytes > room) {
        body.append(data, room);
        transfer->response.body_truncated = true;
        return 0;  // stops the transfer (CURLE_WRITE_ERROR, turned back into success)
    }
    body.append(data, bytes);
    return bytes;
}

// Feeds a streamed request body to curl, never past the declared length; a source that ends early
// or fails aborts the transfer with its reason kept for send().
std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* userdata) {
    auto* transfer = static_cast<Transfer*>(userdata);
    const std::uint64_t remaining = transfer->source_length - transfer->source_sent;
    if (remaining == 0) {
        return 0;
    }
    const std::size_t room = static_cast<std::size_t>(
        std::min<std::uint64_t>(remaining, static_cast<std::uint64_t>(size) * count));
    auto n = transfer->source->read(std::span<char>(buffer, room));
    if (!n) {
        transfer->source_error = n.error();
        return CURL_READFUNC_ABORT;
    }
    if (*n == 0) {
        transfer->source_error =
            make_error(ErrorCode::InvalidArgument,
                       "the request body ended after " + std::to_string(transfer->source_sent) +
                           " of the " + std::to_string(transfer->source_length) +
                           " bytes announced");
        return CURL_READFUNC_ABORT;
    }
    transfer->source_sent += *n;
    return *n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* userdata) {
    auto* transfer = static_cast<Transfer*>(userdata);
    const std::size_t bytes = size * count;
    std::string_view line(data, bytes);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
        line.remove_suffix(1);
    }
    auto& headers = transfer->response.headers;
    if (line.starts_with("HTTP/")) {
        headers.clear();  // a new response head (after a 1xx): keep only the final one
        transfer->header_bytes = 0;
        return bytes;
    }
    if (line.empty()) {
        return bytes;
    }
    transfer->header_bytes += line.size();
    if (transfer->header_bytes > transfer->options->max_response_header_bytes) {
        return bytes;  // kept no more; the transfer goes on
    }
    auto trim = [](std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
            s.remove_prefix(1);
        }
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
            s.remove_suffix(1);
        }
        return s;
    };
    if ((line.front() == ' ' || line.front() == '\t') && !headers.empty()) {
        headers.back().second += " " + std::string(trim(line));  // obsolete line folding
        return bytes;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        return bytes;
    }
    headers.emplace_back(ascii_lowercase(trim(line.substr(0, colon))),
                         std::string(trim(line.substr(colon + 1))));
    return bytes;
}

// Applies options, remembering the first failure (an option libcurl does not know, no memory).
class Setter {
public:
    explicit Setter(CURL* handle) : handle_(handle) {}
    template <typename T>
    void operator()(CURLoption option, T value) {
        if (result_ == CURLE_OK) {
            result_ = curl_easy_setopt(handle_, option, value);
            if (result_ != CURLE_OK) {
                failed_option_ = static_cast<int>(option);
            }
        }
    }
    CURLcode result() const { return result_; }
    int failed_option() const { return failed_option_; }

private:
    CURL* handle_;
    CURLcode result_ = CURLE_OK;
    int failed_option_ = 0;
};

}  // namespace

std::string ClientResponse::header(std::string_view lowercase_name) const {
    for (const auto& [name, value] : headers) {
        if (name == lowercase_name) {
            return value;
        }
    }
    return {};
}

std::string redact_url(const std::string& url) {
    curl::ensure_global_init();
    Url parsed(curl_url());
    if (!parsed || curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
        return "<invalid URL>";
    }
    std::string out = url_part(parsed.get(), CURLUPART_SCHEME) + "://";
    const std::string host = url_part(parsed.get(), CURLUPART_HOST);
    out += host;
    const std::string port = url_part(parsed.get(), CURLUPART_PORT);
    if (!port.empty()) {
        out += ":" + port;
    }
    out += url_part(parsed.get(), CURLUPART_PATH);
    return out;
}

HttpClient::HttpClient(ClientOptions options) : options_(std::move(options)) {
    curl::ensure_global_init();
}

Result<ClientResponse> HttpClient::send(const ClientRequest& request) const {
    // Everything about the request is checked before any connection is made.
    if (!is_token(request.method) || request.method.size() > 32) {
        return make_error(ErrorCode::InvalidArgument,
                          "invalid HTTP method \"" + request.method.substr(0, 32) + "\"");
    }
    if (request.url.size() > kMaxUrlBytes || has_control_or_space(request.url)) {
        return make_error(ErrorCode::InvalidArgument,
                          "invalid URL: longer than 16 KiB or contains spaces/control characters");
    }
    Url url(curl_url());
    if (!url) {
        return make_error(ErrorCode::Internal, "libcurl: out of memory");
    }
    // CURLU_PATH_AS_IS: the path goes out as given; dot segments are data in an S3 key (and the
    // S3 signature covers the path exactly as sent).
    if (const CURLUcode rc =
            curl_url_set(url.get(), CURLUPART_URL, request.url.c_str(), CURLU_PATH_AS_IS);
        rc != CURLUE_OK) {
        return make_error(ErrorCode::InvalidArgument,
                          std::string("invalid URL: ") + curl_url_strerror(rc));
    }
    const std::string scheme = ascii_lowercase(url_part(url.get(), CURLUPART_SCHEME));
    if (scheme != "http" && scheme != "https") {
        return make_error(ErrorCode::InvalidArgument,
                          "invalid URL: scheme \"" + scheme + "\" is not http or https");
    }
    if (url_part(url.get(), CURLUPART_HOST).empty()) {
        return make_error(ErrorCode::InvalidArgument, "invalid URL: no host");
    }
    const std::string what = request.method + " " + redact_url(request.url);
    const bool streams_body = request.body_source != nullptr;
    if (request.method == "HEAD" && (!request.body.empty() || streams_body)) {
        return make_error(ErrorCode::InvalidArgument, what + ": a HEAD request has no body");
    }
    if (streams_body && !request.body.empty()) {
        return make_error(ErrorCode::InvalidArgument,
                          what + ": a request has either a body or a body source, not both");
    }
    if (request.body_length > static_cast<std::uint64_t>(
                                  std::numeric_limits<curl_off_t>::max())) {
        return make_error(ErrorCode::InvalidArgument, what + ": body length out of range");
    }

    curl::StringList headers;
    bool has_content_type = false;
    for (const auto& [name, value] : request.headers) {
        if (!is_token(name) || !is_header_value(value)) {
            return make_error(ErrorCode::InvalidArgument,
                              what + ": invalid header \"" + name.substr(0, 64) +
                                  "\" (names are tokens; values hold no CR, LF or NUL)");
        }
        if (ascii_iequals(name, "Content-Length") || ascii_iequals(name, "Transfer-Encoding") ||
            ascii_iequals(name, "Host") || ascii_iequals(name, "Connection") ||
            ascii_iequals(name, "Expect")) {
            return make_error(ErrorCode::InvalidArgument,
                              what + ": header \"" + name + "\" is managed by the client");
        }
        has_content_type = has_content_type || ascii_iequals(name, "Content-Type");
        // "Name;" is curl's spelling of a header with an empty value ("Name:" would remove it).
        if (!headers.append(value.empty() ? name + ";" : name + ": " + value)) {
            return make_error(ErrorCode::Internal, "libcurl: out of memory");
        }
    }
    // No "Expect: 100-continue" for big bodies (one round trip, and receivers that mishandle it),
    // and no made-up form Content-Type when the caller gave none.
    if (!headers.append("Expect:") || (!has_content_type && !headers.append("Content-Type:"))) {
        return make_error(ErrorCode::Internal, "libcurl: out of memory");
    }

    curl::Easy easy = curl::make_easy();
    if (!easy) {
        return make_error(ErrorCode::Internal, "libcurl: out of memory");
    }
    CURL* h = easy.get();
    Transfer transfer;
    transfer.options = &options_;
    transfer.handle = h;
    transfer.source = request.body_source;
    transfer.source_length = request.body_length;
    transfer.sink = request.response_sink;
    char error_buffer[CURL_ERROR_SIZE] = {};

    Setter set(h);
    set(CURLOPT_ERRORBUFFER, error_buffer);
    set(CURLOPT_CURLU, url.get());
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_PROXY, "");  // no proxy, whatever the environment says
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    // 0 is libcurl's "no timeout"; curl::timeout_ms never yields it, so an expired budget stays
    // a (1 ms) budget and only an explicit no_timeout means none.
    set(CURLOPT_TIMEOUT_MS, request.no_timeout
                                ? 0L
                                : curl::timeout_ms(request.timeout.value_or(options_.timeout)));
    set(CURLOPT_CONNECTTIMEOUT_MS, curl::timeout_ms(options_.connect_timeout));
    if (request.no_timeout) {
        // A long poll may wait for hours; TCP keep-alive notices a peer that vanished meanwhile.
        set(CURLOPT_TCP_KEEPALIVE, 1L);
    }
    set(CURLOPT_USERAGENT, options_.user_agent.c_str());
    set(CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
    set(CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
    if (!options_.ca_file.empty()) {
        set(CURLOPT_CAINFO, options_.ca_file.c_str());
    }
    set(CURLOPT_OPENSOCKETFUNCTION, &open_socket);
    set(CURLOPT_OPENSOCKETDATA, &transfer);
    set(CURLOPT_PREREQFUNCTION, &before_request);
    set(CURLOPT_PREREQDATA, &transfer);
    set(CURLOPT_WRITEFUNCTION, &on_body);
    set(CURLOPT_WRITEDATA, &transfer);
    set(CURLOPT_HEADERFUNCTION, &on_header);
    set(CURLOPT_HEADERDATA, &transfer);
    set(CURLOPT_HTTPHEADER, headers.get());

    const bool sends_body = !request.body.empty() || request.method == "POST" ||
                            request.method == "PUT" || request.method == "PATCH";
    if (streams_body) {
        // An upload of known size: curl sends Content-Length and pulls the bytes from on_read.
        set(CURLOPT_UPLOAD, 1L);
        set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body_length));
        set(CURLOPT_READFUNCTION, &on_read);
        set(CURLOPT_READDATA, &transfer);
        if (request.method != "PUT") {
            set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
        }
    } else if (request.method == "GET" && request.body.empty()) {
        set(CURLOPT_HTTPGET, 1L);
    } else if (request.method == "HEAD") {
        set(CURLOPT_NOBODY, 1L);
    } else {
        if (sends_body) {
            set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
            set(CURLOPT_POSTFIELDS, request.body.data());
        }
        if (request.method != "POST") {
            set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
        }
    }
    if (set.result() != CURLE_OK) {
        return make_error(ErrorCode::Internal, what + ": libcurl refused option " +
                                                   std::to_string(set.failed_option()) + ": " +
                                                   curl_easy_strerror(set.result()));
    }

    const CURLcode rc = curl_easy_perform(h);

    auto refusals = [&] {
        std::string out;
        for (const std::string& r : transfer.refusals) {
            out += (out.empty() ? "" : "; ") + r;
        }
        return out;
    };
    if (transfer.sink_error) {
        Error error = *transfer.sink_error;
        error.message = what + ": writing the response body: " + error.message;
        return error;
    }
    if (transfer.source_error) {
        Error error = *transfer.source_error;
        error.message = what + ": reading the request body: " + error.message;
        return error;
    }
    const bool completed =
        rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && transfer.response.body_truncated);
    if (completed) {
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        transfer.response.status = static_cast<int>(status);
        char* ip = nullptr;
        if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip != nullptr) {
            transfer.response.remote_address = ip;
        }
        return std::move(transfer.response);
    }
    if (transfer.refused_before_request ||
        (!transfer.refusals.empty() && !transfer.tried_allowed_address)) {
        return make_error(ErrorCode::Forbidden,
                          what + ": refused destination: " + refusals() +
                              " (an allowed-destinations CIDR in the config can permit it)",
                          "the destination address is not allowed");
    }
    std::string message = what + ": " + curl::describe(rc, error_buffer);
    if (!transfer.refusals.empty()) {
        message += "; also refused: " + refusals();
    }
    return curl::transfer_error(rc, message);
}

}  // namespace pf::http
