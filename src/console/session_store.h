// Console sessions and sign-in throttling, in memory (a restart signs everyone out).
//
// A session is found by its cookie value (32 random bytes, base64url). The table is keyed by the
// SHA-256 of that value, so a lookup's timing says nothing useful about the secret; the CSRF token
// is compared in constant time. Sessions expire after `idle` without use; at `max_sessions` the
// least recently used one is evicted to make room.
//
// SignInLimiter counts failed sign-ins per client address: `max_failures` within `window` block
// further attempts until the oldest failure leaves the window. Its table is bounded too (the
// addresses with the oldest activity are forgotten first).
#pragma once

#include "base/clock.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace pf::console {

inline constexpr std::string_view kSessionCookie = "pf_console";

enum class SessionKind { AccessKey, ConsoleUser };
std::string_view to_string(SessionKind kind);  // "access-key" | "console-user"

struct Session {
    std::string cookie;  // the cookie value (only set by create())
    std::string user;    // access key id or console user name
    SessionKind kind = SessionKind::ConsoleUser;
    std::string csrf_token;
    std::int64_t expires_at_ms = 0;  // Unix ms: last use + idle
};

class SessionStore {
public:
    SessionStore(const Clock& clock, std::chrono::seconds idle, std::size_t max_sessions);

    // A new session with fresh random cookie and CSRF token.
    Session create(const std::string& user, SessionKind kind);
    // The live session of a cookie value (its expiry pushed forward), or nullopt.
    std::optional<Session> find(std::string_view cookie);
    // Ends the session of a cookie value; false when there was none.
    bool remove(std::string_view cookie);
    std::size_t size() const;

private:
    struct Entry {
        Session session;  // cookie left empty: only its hash is kept
        std::int64_t last_used_ms = 0;
    };
    void evict_expired_locked(std::int64_t now_ms);

    const Clock& clock_;
    const std::int64_t idle_ms_;
    const std::size_t max_sessions_;
    mutable std::mutex mutex_;
    std::map<std::string, Entry> sessions_;  // SHA-256(cookie) -> session
};

// Whether the header value's CSRF token equals the session's (constant time).
bool csrf_matches(const Session& session, std::string_view header_value);

// The value of the cookie `name` in the Cookie header(s) `values` ("a=1; pf_console=xyz").
std::optional<std::string> cookie_value(std::string_view cookie_header, std::string_view name);

class SignInLimiter {
public:
    SignInLimiter(const Clock& clock, std::size_t max_failures = 10,
                  std::chrono::seconds window = std::chrono::minutes(5),
                  std::size_t max_addresses = 10'000);

    // Seconds until `address` may try again, or nullopt when it may try now.
    std::optional<std::chrono::seconds> blocked(const std::string& address);
    void record_failure(const std::string& address);
    // A successful sign-in clears the address's failures.
    void record_success(const std::string& address);

private:
    void prune_locked(std::deque<std::int64_t>& failures, std::int64_t now_ms) const;

    const Clock& clock_;
    const std::size_t max_failures_;
    const std::int64_t window_ms_;
    const std::size_t max_addresses_;
    std::mutex mutex_;
    std::map<std::string, std::deque<std::int64_t>> failures_;  // address -> failure times (ms)
};

// "127.0.0.1:5312" -> "127.0.0.1", "[::1]:80" -> "::1": the address without its port.
std::string client_address(std::string_view remote_address);

}  // namespace pf::console
