#include "s3api/conditions.h"

#include "aws/time_format.h"
#include "s3api/cors.h"

#include <charconv>

namespace pf::s3api {
namespace {

std::optional<std::uint64_t> parse_u64(std::string_view text) {
    if (text.empty()) {
        return std::nullopt;
    }
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return v;
}

}  // namespace

std::string unquoted(std::string_view etag) {
    if (etag.starts_with("W/")) {
        etag.remove_prefix(2);
    }
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
        etag = etag.substr(1, etag.size() - 2);
    }
    return std::string(etag);
}

bool etag_matches(std::string_view header, std::string_view etag) {
    for (const auto& candidate : split_list(header)) {
        if (candidate == "*" || unquoted(candidate) == etag) {
            return true;
        }
    }
    return false;
}

ConditionOutcome evaluate_conditions(const http::Request& request, const storage::ObjectInfo& info,
                                     std::string_view prefix) {
    auto header = [&](std::string_view name) {
        return request.header(std::string(prefix) + std::string(name));
    };
    // RFC 9110 order, which is also S3's: If-Match wins over If-Unmodified-Since, If-None-Match
    // over If-Modified-Since. Unparseable dates are ignored, as HTTP requires.
    if (auto match = header("if-match")) {
        if (!etag_matches(*match, info.etag)) {
            return ConditionOutcome::PreconditionFailed;
        }
    } else if (auto since = header("if-unmodified-since")) {
        if (auto t = aws::parse_http_date(*since); t && info.last_modified > *t) {
            return ConditionOutcome::PreconditionFailed;
        }
    }
    // A copy answers "not modified" as a failed precondition: there is no 304 for a write.
    auto not_modified = prefix.empty() ? ConditionOutcome::NotModified
                                       : ConditionOutcome::PreconditionFailed;
    if (auto none = header("if-none-match")) {
        if (etag_matches(*none, info.etag)) {
            return not_modified;
        }
    } else if (auto since = header("if-modified-since")) {
        if (auto t = aws::parse_http_date(*since); t && info.last_modified <= *t) {
            return not_modified;
        }
    }
    return ConditionOutcome::Proceed;
}

RangeOutcome parse_range(std::string_view header, std::uint64_t size, ByteRange& out) {
    if (!header.starts_with("bytes=")) {
        return RangeOutcome::Whole;
    }
    std::string_view spec = header.substr(6);
    if (spec.find(',') != std::string_view::npos) {
        return RangeOutcome::Whole;
    }
    auto dash = spec.find('-');
    if (dash == std::string_view::npos) {
        return RangeOutcome::Whole;
    }
    auto first_text = spec.substr(0, dash);
    auto last_text = spec.substr(dash + 1);
    if (first_text.empty()) {
        auto suffix = parse_u64(last_text);
        if (!suffix) {
            return RangeOutcome::Whole;
        }
        if (*suffix == 0 || size == 0) {
            return RangeOutcome::Unsatisfiable;
        }
        std::uint64_t n = std::min(*suffix, size);
        out = {size - n, n};
        return RangeOutcome::Partial;
    }
    auto first = parse_u64(first_text);
    if (!first) {
        return RangeOutcome::Whole;
    }
    std::uint64_t last = size == 0 ? 0 : size - 1;
    if (!last_text.empty()) {
        auto l = parse_u64(last_text);
        if (!l || *l < *first) {
            return RangeOutcome::Whole;
        }
        last = std::min(*l, last);
    }
    if (*first >= size) {
        return RangeOutcome::Unsatisfiable;
    }
    out = {*first, last - *first + 1};
    return RangeOutcome::Partial;
}

}  // namespace pf::s3api
