#include "aws/time_format.h"

#include <array>
#include <cstdio>
#include <ctime>

namespace pf::aws {
namespace {

constexpr std::array<const char*, 7> kShortDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 7> kLongDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                  "Thursday", "Friday", "Saturday"};
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// system_clock counts nanoseconds in 64 bits, which ends in April 2262; parsed years are kept
// inside a range whose conversion cannot overflow.
constexpr int kMinYear = 1900;
constexpr int kMaxYear = 2261;

struct Broken {
    std::tm tm{};
    long long millis = 0;
};

Broken split(SystemTime t) {
    const auto secs = std::chrono::floor<std::chrono::seconds>(t);
    const auto millis = std::chrono::floor<std::chrono::milliseconds>(t) - secs;
    const std::time_t tt = static_cast<std::time_t>(secs.time_since_epoch().count());
    Broken b;
    gmtime_r(&tt, &b.tm);
    b.millis = millis.count();
    return b;
}

bool is_leap(int year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int year, int month) {
    static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : kDays[static_cast<std::size_t>(month - 1)];
}

// Validates the fields (no normalisation of "Feb 30" into March) and converts through timegm,
// which is locale- and time-zone-independent.
std::optional<SystemTime> make_time(int year, int month, int day, int hour, int minute,
                                    int second) {
    if (year < kMinYear || year > kMaxYear || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59 || hour < 0 ||
        minute < 0 || second < 0) {
        return std::nullopt;
    }
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    const std::time_t t = timegm(&tm);
    return SystemTime(std::chrono::seconds(t));
}

// A tiny forward-only reader over the text; every accessor fails (returns false) rather than
// reading past the end.
class Cursor {
public:
    explicit Cursor(std::string_view text) : text_(text) {}

    bool digits(std::size_t count, int& out) {
        if (text_.size() - pos_ < count) {
            return false;
        }
        int value = 0;
        for (std::size_t i = 0; i < count; ++i) {
            const char c = text_[pos_ + i];
            if (c < '0' || c > '9') {
                return false;
            }
            value = value * 10 + (c - '0');
        }
        pos_ += count;
        out = value;
        return true;
    }
    bool literal(std::string_view expected) {
        if (text_.substr(pos_, expected.size()) != expected) {
            return false;
        }
        pos_ += expected.size();
        return true;
    }
    bool one_of(char a, char b) {
        if (pos_ < text_.size() && (text_[pos_] == a || text_[pos_] == b)) {
            ++pos_;
            return true;
        }
        return false;
    }
    // Index of the name in `names` that the text continues with (case-insensitive), or -1.
    template <std::size_t N>
    int name(const std::array<const char*, N>& names) {
        for (std::size_t i = 0; i < N; ++i) {
            const std::string_view candidate = names[i];
            if (text_.size() - pos_ >= candidate.size() &&
                iequal(text_.substr(pos_, candidate.size()), candidate)) {
                pos_ += candidate.size();
                return static_cast<int>(i);
            }
        }
        return -1;
    }
    bool time_of_day(int& hour, int& minute, int& second) {
        return digits(2, hour) && literal(":") && digits(2, minute) && literal(":") &&
               digits(2, second);
    }
    char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
    void skip() { ++pos_; }
    bool at_end() const { return pos_ == text_.size(); }

private:
    static bool iequal(std::string_view a, std::string_view b) {
        for (std::size_t i = 0; i < a.size(); ++i) {
            const auto lower = [](char c) {
                return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
            };
            if (lower(a[i]) != lower(b[i])) {
                return false;
            }
        }
        return true;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
};

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<SystemTime> parse_imf_fixdate(std::string_view text) {
    Cursor c(text);
    int day = 0, year = 0, hour = 0, minute = 0, second = 0;
    if (c.name(kShortDays) < 0 || !c.literal(", ") || !c.digits(2, day) || !c.literal(" ")) {
        return std::nullopt;
    }
    const int month = c.name(kMonths);
    if (month < 0 || !c.literal(" ") || !c.digits(4, year) || !c.literal(" ") ||
        !c.time_of_day(hour, minute, second) || !c.literal(" GMT") || !c.at_end()) {
        return std::nullopt;
    }
    return make_time(year, month + 1, day, hour, minute, second);
}

// "Sunday, 06-Nov-94 08:49:37 GMT" (RFC 850). Two-digit years below 70 are 20xx: the format
// predates 1970 and nothing sends it for dates past 2069.
std::optional<SystemTime> parse_rfc850(std::string_view text) {
    Cursor c(text);
    int day = 0, year = 0, hour = 0, minute = 0, second = 0;
    if (c.name(kLongDays) < 0 || !c.literal(", ") || !c.digits(2, day) || !c.literal("-")) {
        return std::nullopt;
    }
    const int month = c.name(kMonths);
    if (month < 0 || !c.literal("-") || !c.digits(2, year) || !c.literal(" ") ||
        !c.time_of_day(hour, minute, second) || !c.literal(" GMT") || !c.at_end()) {
        return std::nullopt;
    }
    year += year < 70 ? 2000 : 1900;
    return make_time(year, month + 1, day, hour, minute, second);
}

// "Sun Nov  6 08:49:37 1994" (asctime; the day is space-padded)
std::optional<SystemTime> parse_asctime(std::string_view text) {
    Cursor c(text);
    int day = 0, year = 0, hour = 0, minute = 0, second = 0;
    if (c.name(kShortDays) < 0 || !c.literal(" ")) {
        return std::nullopt;
    }
    const int month = c.name(kMonths);
    if (month < 0 || !c.literal(" ")) {
        return std::nullopt;
    }
    if (c.peek() == ' ') {
        c.skip();
        if (!c.digits(1, day)) {
            return std::nullopt;
        }
    } else if (!c.digits(2, day)) {
        return std::nullopt;
    }
    if (!c.literal(" ") || !c.time_of_day(hour, minute, second) || !c.literal(" ") ||
        !c.digits(4, year) || !c.at_end()) {
        return std::nullopt;
    }
    return make_time(year, month + 1, day, hour, minute, second);
}

} // namespace

std::string format_amz_date(SystemTime t) {
    const Broken b = split(t);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02dZ", b.tm.tm_year + 1900,
                  b.tm.tm_mon + 1, b.tm.tm_mday, b.tm.tm_hour, b.tm.tm_min, b.tm.tm_sec);
    return buf;
}

std::string format_amz_day(SystemTime t) {
    return format_amz_date(t).substr(0, 8);
}

std::string format_iso8601_millis(SystemTime t) {
    const Broken b = split(t);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", b.tm.tm_year + 1900,
                  b.tm.tm_mon + 1, b.tm.tm_mday, b.tm.tm_hour, b.tm.tm_min, b.tm.tm_sec, b.millis);
    return buf;
}

std::string format_http_date(SystemTime t) {
    const Broken b = split(t);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                  kShortDays[static_cast<std::size_t>(b.tm.tm_wday)], b.tm.tm_mday,
                  kMonths[static_cast<std::size_t>(b.tm.tm_mon)], b.tm.tm_year + 1900, b.tm.tm_hour,
                  b.tm.tm_min, b.tm.tm_sec);
    return buf;
}

std::optional<SystemTime> parse_amz_date(std::string_view text) {
    Cursor c(text);
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!c.digits(4, year) || !c.digits(2, month) || !c.digits(2, day) || !c.literal("T") ||
        !c.digits(2, hour) || !c.digits(2, minute) || !c.digits(2, second) || !c.literal("Z") ||
        !c.at_end()) {
        return std::nullopt;
    }
    return make_time(year, month, day, hour, minute, second);
}

std::optional<SystemTime> parse_http_date(std::string_view text) {
    if (auto t = parse_imf_fixdate(text)) {
        return t;
    }
    if (auto t = parse_rfc850(text)) {
        return t;
    }
    return parse_asctime(text);
}

std::optional<SystemTime> parse_iso8601(std::string_view text) {
    Cursor c(text);
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!c.digits(4, year) || !c.literal("-") || !c.digits(2, month) || !c.literal("-") ||
        !c.digits(2, day) || !c.one_of('T', 't') || !c.time_of_day(hour, minute, second)) {
        return std::nullopt;
    }
    // Fraction: up to nanoseconds are kept; more digits are accepted and ignored.
    std::chrono::nanoseconds fraction{0};
    if (c.peek() == '.') {
        c.skip();
        int digit_count = 0;
        long long nanos = 0;
        int digit = 0;
        while (c.digits(1, digit)) {
            if (digit_count < 9) {
                nanos = nanos * 10 + digit;
            }
            ++digit_count;
        }
        if (digit_count == 0) {
            return std::nullopt;
        }
        for (int i = digit_count; i < 9; ++i) {
            nanos *= 10;
        }
        fraction = std::chrono::nanoseconds(nanos);
    }
    std::chrono::minutes offset{0};
    if (!c.one_of('Z', 'z')) {
        const char sign = c.peek();
        int off_hours = 0, off_minutes = 0;
        if ((sign != '+' && sign != '-')) {
            return std::nullopt;
        }
        c.skip();
        if (!c.digits(2, off_hours) || !c.literal(":") || !c.digits(2, off_minutes) ||
            off_hours > 23 || off_minutes > 59) {
            return std::nullopt;
        }
        offset = std::chrono::minutes(off_hours * 60 + off_minutes);
        if (sign == '-') {
            offset = -offset;
        }
    }
    if (!c.at_end()) {
        return std::nullopt;
    }
    auto base = make_time(year, month, day, hour, minute, second);
    if (!base) {
        return std::nullopt;
    }
    // Local time = UTC + offset, so UTC = local - offset.
    return *base + std::chrono::duration_cast<SystemTime::duration>(fraction) - offset;
}

} // namespace pf::aws
