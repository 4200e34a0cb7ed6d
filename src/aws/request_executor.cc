#include "aws/request_executor.h"

#include "aws/time_format.h"
#include "aws/uri_encoding.h"
#include "base/ascii.h"
#include "crypto/digest.h"

#include <algorithm>
#include <array>
#include <thread>

namespace pf::aws {
namespace {

using std::chrono::milliseconds;

bool is_one_of(std::string_view code, std::initializer_list<std::string_view> codes) {
    return std::find(codes.begin(), codes.end(), code) != codes.end();
}

bool is_throttling(std::string_view code) {
    return is_one_of(code, {"SlowDown", "Throttling", "ThrottlingException", "Throttled",
                            "RequestLimitExceeded", "RequestThrottled", "TooManyRequestsException"});
}

bool is_skew(std::string_view code) {
    return is_one_of(code, {"RequestTimeTooSkewed", "RequestExpired"});
}

// What an error answer means for the caller (s3_client.h / sns_client.h list the contract).
struct Verdict {
    ErrorCode code;
    bool retry;
};

Verdict classify(int status, std::string_view code) {
    if (status >= 500 || status == 429 || is_throttling(code)) {
        return {ErrorCode::Unavailable, true};
    }
    if (status == 404 || is_one_of(code, {"NoSuchKey", "NoSuchBucket", "NoSuchUpload", "NotFound"})) {
        return {ErrorCode::NotFound, false};
    }
    if (status == 412 || code == "PreconditionFailed") {
        return {ErrorCode::PreconditionFailed, false};
    }
    if (status == 403 ||
        is_one_of(code, {"AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId",
                         "AuthorizationError", "InvalidClientTokenId"})) {
        return {ErrorCode::Forbidden, false};
    }
    return {ErrorCode::InvalidArgument, false};
}

// A name for an answer without an error document (HEAD errors have no body).
std::string status_name(int status) {
    switch (status) {
    case 400: return "BadRequest";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 412: return "PreconditionFailed";
    case 416: return "InvalidRange";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    default: return "HTTP" + std::to_string(status);
    }
}

class CountingSink final : public ByteSink {
public:
    explicit CountingSink(ByteSink& inner) : inner_(inner) {}
    Result<void> write(std::span<const char> bytes) override {
        count_ += bytes.size();
        return inner_.write(bytes);
    }
    std::uint64_t count() const { return count_; }

private:
    ByteSink& inner_;
    std::uint64_t count_ = 0;
};

class CountingSource final : public ByteSource {
public:
    explicit CountingSource(ByteSource& inner) : inner_(inner) {}
    Result<std::size_t> read(std::span<char> out) override {
        ++reads_;
        return inner_.read(out);
    }
    bool touched() const { return reads_ > 0; }

private:
    ByteSource& inner_;
    std::uint64_t reads_ = 0;
};

}  // namespace

std::string wire_url(const EndpointUrl& endpoint, std::string_view path, const QueryParams& query) {
    std::string url = endpoint.scheme + "://" + endpoint.authority();
    url += path.empty() ? std::string("/") : uri_encode(path, true);
    char separator = '?';
    for (const auto& [name, value] : query) {
        url.push_back(separator);
        separator = '&';
        url += uri_encode(name, false);
        if (!value.empty()) {
            url += "=" + uri_encode(value, false);
        }
    }
    return url;
}

std::string unquote_etag(std::string_view etag) {
    if (etag.starts_with("W/")) {
        etag.remove_prefix(2);
    }
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
        etag = etag.substr(1, etag.size() - 2);
    }
    return std::string(etag);
}

RequestExecutor::RequestExecutor(HttpTransport& transport, ExecutorConfig config)
    : transport_(transport), config_(std::move(config)), rng_(std::random_device{}()) {}

std::chrono::system_clock::time_point RequestExecutor::now() const {
    const auto local = config_.clock ? config_.clock() : std::chrono::system_clock::now();
    return local + milliseconds(offset_ms_.load());
}

milliseconds RequestExecutor::backoff(int retry_index) {
    const std::int64_t base = std::max<std::int64_t>(0, config_.retry.base_delay.count());
    const std::int64_t cap = std::max<std::int64_t>(0, config_.retry.max_delay.count());
    std::int64_t ceiling = base;
    for (int i = 0; i < retry_index && ceiling < cap; ++i) {
        ceiling *= 2;
    }
    ceiling = std::min(ceiling, cap);
    std::lock_guard lock(rng_mutex_);
    return milliseconds(std::uniform_int_distribution<std::int64_t>(0, ceiling)(rng_));
}

void RequestExecutor::pause(milliseconds delay) const {
    if (config_.sleep) {
        config_.sleep(delay);
    } else if (delay.count() > 0) {
        std::this_thread::sleep_for(delay);
    }
}

Result<TransportResponse> RequestExecutor::execute(const OutgoingRequest& request) {
    const bool s3 = config_.service == "s3";
    std::string payload_hash;
    if (request.body_source != nullptr) {
        if (!s3) {
            return make_error(ErrorCode::Internal,
                              request.what + ": streamed bodies are signed for S3 only");
        }
        payload_hash = std::string(kUnsignedPayload);
    } else {
        payload_hash = crypto::sha256_hex(request.body);
    }
    const std::string url = wire_url(request.endpoint, request.path, request.query);
    const int max_attempts = std::max(1, config_.retry.max_attempts);

    std::optional<CountingSink> sink;
    if (request.sink != nullptr) {
        sink.emplace(*request.sink);
    }
    std::optional<CountingSource> source;
    if (request.body_source != nullptr) {
        source.emplace(*request.body_source);
    }

    bool skew_corrected = false;
    int retries = 0;  // backoff exponent: retries so far that waited
    std::optional<Error> last_error;
    for (int attempt = 1; attempt <= max_attempts; ++attempt) {
        HeaderList to_sign;
        to_sign.emplace_back("host", request.endpoint.authority());
        for (const auto& header : request.headers) {
            to_sign.push_back(header);
        }
        for (const auto& [name, value] : config_.extra_headers) {
            to_sign.emplace_back(ascii_lowercase(name), value);
        }
        SignRequest sign;
        sign.method = request.method;
        sign.path = request.path.empty() ? std::string("/") : request.path;
        sign.query = request.query;
        sign.headers = to_sign;
        sign.payload_hash = payload_hash;
        sign.region = config_.region;
        sign.service = config_.service;
        sign.now = now();
        const HeaderList added = sign_request(sign, config_.credentials);

        TransportRequest wire;
        wire.method = request.method;
        wire.url = url;
        for (auto& header : to_sign) {
            if (header.first != "host") {
                wire.headers.push_back(std::move(header));
            }
        }
        wire.headers.insert(wire.headers.end(), added.begin(), added.end());
        wire.body = request.body;
        if (source) {
            wire.body_source = &*source;
            wire.body_length = request.body_length;
        }
        wire.timeout = request.timeout;

        auto response = transport_.send(wire, sink ? &*sink : nullptr);
        const bool replayable = (!sink || sink->count() == 0) && (!source || !source->touched());
        if (!response) {
            Error error = response.error();
            error.message = request.what + ": " + error.message;
            const bool network = error.code == ErrorCode::Timeout ||
                                 error.code == ErrorCode::Unavailable ||
                                 error.code == ErrorCode::Internal;
            if (!network || !replayable || attempt == max_attempts) {
                if (network && attempt > 1) {
                    error.message += " (gave up after " + std::to_string(attempt) + " attempts)";
                }
                return error;
            }
            last_error = std::move(error);
            pause(backoff(retries++));
            continue;
        }
        const int status = response->status;
        std::optional<ServiceError> service_error;
        if (status >= 200 && status <= 299) {
            if (!request.error_document_on_200 || response->body.empty() || !config_.read_error) {
                return std::move(*response);
            }
            service_error = config_.read_error(response->body);
            if (!service_error) {
                return std::move(*response);
            }
        } else if (config_.read_error && !response->body.empty()) {
            service_error = config_.read_error(response->body);
        }
        ServiceError detail = service_error.value_or(ServiceError{});
        if (detail.request_id.empty()) {
            detail.request_id = response->header(s3 ? "x-amz-request-id" : "x-amzn-requestid");
        }
        // An <Error> inside a 200 is a server failure that happened after the head was sent.
        const int effective_status = status >= 200 && status <= 299 ? 500 : status;
        const Verdict verdict = classify(effective_status, detail.code);

        std::string text = detail.code.empty() ? status_name(status) : detail.code;
        if (!detail.message.empty()) {
            text += ": " + detail.message;
        }
        const std::string public_text = text;
        text += " (" + request.what + ", HTTP " + std::to_string(status);
        if (!detail.request_id.empty()) {
            text += ", request id " + detail.request_id;
        }
        text += ")";
        Error error = make_error(verdict.code, text, public_text);

        if (is_skew(detail.code) && !skew_corrected && attempt < max_attempts && replayable) {
            // The server's clock is the one that counts: sign with it from now on.
            const auto server = parse_http_date(response->header("date"));
            if (server) {
                const auto local = config_.clock ? config_.clock() : std::chrono::system_clock::now();
                offset_ms_.store(
                    std::chrono::duration_cast<milliseconds>(*server - local).count());
                skew_corrected = true;
                continue;
            }
        }
        if (!verdict.retry || !replayable || attempt == max_attempts) {
            if (verdict.retry && attempt > 1) {
                error.message += " (gave up after " + std::to_string(attempt) + " attempts)";
            }
            return error;
        }
        last_error = std::move(error);
        pause(backoff(retries++));
    }
    // Not reached: the last attempt always returns.
    return last_error.value_or(make_error(ErrorCode::Internal, request.what + ": no attempt made"));
}

}  // namespace pf::aws
