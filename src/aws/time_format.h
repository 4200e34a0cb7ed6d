// The three timestamp forms of the AWS wire: SigV4's basic ISO-8601 (20130524T000000Z), the XML
// form with milliseconds (2026-11-29T11:57:44.000Z) and HTTP's IMF-fixdate (Sun, 29 Nov 2026
// 11:57:44 GMT).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace pf::aws {

using SystemTime = std::chrono::system_clock::time_point;

std::string format_amz_date(SystemTime t);       // 20130524T000000Z
std::string format_amz_day(SystemTime t);        // 20130524
std::string format_iso8601_millis(SystemTime t); // 2026-11-29T11:57:44.000Z
std::string format_http_date(SystemTime t);      // Sun, 29 Nov 2026 11:57:44 GMT

std::optional<SystemTime> parse_amz_date(std::string_view text);
// IMF-fixdate, plus the obsolete RFC 850 and asctime forms HTTP says a recipient must accept.
std::optional<SystemTime> parse_http_date(std::string_view text);
// 2026-11-29T11:57:44Z, with optional fraction (POST policy "expiration").
std::optional<SystemTime> parse_iso8601(std::string_view text);

} // namespace pf::aws
