#include "lambda/trace_header.h"

#include "crypto/digest.h"
#include "crypto/random.h"

#include <charconv>
#include <cstdio>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

namespace pf::lambda {
namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && text.front() == ' ') {
        text.remove_prefix(1);
    }
    while (!text.empty() && text.back() == ' ') {
        text.remove_suffix(1);
    }
    return text;
}

// Calls visit(name, value) for each "name=value" field separated by ';'.
template <typename Visit>
void for_each_field(std::string_view trace, Visit&& visit) {
    while (!trace.empty()) {
        const auto end = trace.find(';');
        std::string_view field = trim(trace.substr(0, end));
        trace = end == std::string_view::npos ? std::string_view() : trace.substr(end + 1);
        const auto eq = field.find('=');
        if (eq == std::string_view::npos) {
            visit(field, std::string_view());
        } else {
            visit(trim(field.substr(0, eq)), trim(field.substr(eq + 1)));
        }
    }
}

}  // namespace

bool trace_header_usable(std::string_view trace) {
    if (trace.empty() || trace.size() > kMaxTraceHeaderBytes) {
        return false;
    }
    for (const char c : trace) {
        if (c < 0x20 || c > 0x7e) {
            return false;
        }
    }
    return true;
}

std::uint32_t lineage_count(std::string_view trace) {
    if (!trace_header_usable(trace)) {
        return 0;
    }
    std::uint32_t count = 0;
    for_each_field(trace, [&](std::string_view name, std::string_view value) {
        if (name != "Lineage") {
            return;
        }
        const auto colon = value.rfind(':');
        if (colon == std::string_view::npos || colon == 0) {
            return;
        }
        std::string_view digits = value.substr(colon + 1);
        if (digits.empty()) {
            return;
        }
        std::uint64_t parsed = 0;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), parsed);
        if (end != digits.data() + digits.size()) {
            if (ec == std::errc::result_out_of_range) {
                count = std::numeric_limits<std::uint32_t>::max();
            }
            return;  // not a number: no lineage
        }
        if (ec == std::errc::result_out_of_range ||
            parsed > std::numeric_limits<std::uint32_t>::max()) {
            count = std::numeric_limits<std::uint32_t>::max();
        } else {
            count = static_cast<std::uint32_t>(parsed);
        }
    });
    return count;
}

std::string trace_root(std::string_view trace) {
    if (!trace_header_usable(trace)) {
        return {};
    }
    std::string root;
    for_each_field(trace, [&](std::string_view name, std::string_view value) {
        if (name == "Root" && root.empty()) {
            root = std::string(value);
        }
    });
    return root;
}

std::string lineage_hash(std::string_view function_arn) {
    return crypto::sha256_hex(function_arn).substr(0, 8);
}

std::string child_trace(std::string_view trace, std::string_view function_arn,
                        std::int64_t now_unix_seconds) {
    const std::uint32_t count = lineage_count(trace);
    const std::uint32_t next =
        count == std::numeric_limits<std::uint32_t>::max() ? count : count + 1;
    const std::string lineage =
        "Lineage=" + lineage_hash(function_arn) + ":" + std::to_string(next);
    auto fresh = [&] {
        char epoch[16];
        std::snprintf(epoch, sizeof epoch, "%08llx",
                      static_cast<unsigned long long>(now_unix_seconds < 0 ? 0 : now_unix_seconds) &
                          0xffffffffULL);
        return "Root=1-" + std::string(epoch) + "-" + crypto::random_hex(12) +
               ";Parent=" + crypto::random_hex(8) + ";Sampled=0;" + lineage;
    };
    if (trace_root(trace).empty()) {
        return fresh();
    }
    std::string out;
    for_each_field(trace, [&](std::string_view name, std::string_view value) {
        if (name.empty() || name == "Lineage") {
            return;
        }
        if (!out.empty()) {
            out.push_back(';');
        }
        out.append(name);
        out.push_back('=');
        out.append(value);
    });
    out.push_back(';');
    out.append(lineage);
    // A trace grown past the limit would read as "no trace" at the next hop and reset the count;
    // a fresh Root keeps the count instead.
    return out.size() > kMaxTraceHeaderBytes ? fresh() : out;
}

}  // namespace pf::lambda
