#include "console/session_store.h"

#include "crypto/constant_time.h"
#include "crypto/digest.h"
#include "crypto/random.h"

#include <algorithm>

namespace pf::console {
namespace {

// base64url without padding (RFC 4648 §5): safe in a cookie and in a header.
std::string base64url(std::string_view bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::uint32_t buffer = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        buffer = (buffer << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(kAlphabet[(buffer >> bits) & 0x3f]);
        }
    }
    if (bits > 0) {
        out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3f]);
    }
    return out;
}

std::string random_token() { return base64url(crypto::random_bytes(32)); }

std::string table_key(std::string_view cookie) {
    auto digest = crypto::sha256(cookie);
    return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

}  // namespace

std::string_view to_string(SessionKind kind) {
    return kind == SessionKind::AccessKey ? "access-key" : "console-user";
}

SessionStore::SessionStore(const Clock& clock, std::chrono::seconds idle, std::size_t max_sessions)
    : clock_(clock),
      idle_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(idle).count()),
      max_sessions_(std::max<std::size_t>(max_sessions, 1)) {}

Session SessionStore::create(const std::string& user, SessionKind kind) {
    const std::int64_t now = clock_.now_ms();
    Session session;
    session.cookie = random_token();
    session.user = user;
    session.kind = kind;
    session.csrf_token = random_token();
    session.expires_at_ms = now + idle_ms_;

    std::lock_guard lock(mutex_);
    evict_expired_locked(now);
    while (sessions_.size() >= max_sessions_) {
        auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](auto& a, auto& b) {
            return a.second.last_used_ms < b.second.last_used_ms;
        });
        sessions_.erase(oldest);
    }
    Entry entry{session, now};
    entry.session.cookie.clear();
    sessions_[table_key(session.cookie)] = std::move(entry);
    return session;
}

std::optional<Session> SessionStore::find(std::string_view cookie) {
    if (cookie.empty()) {
        return std::nullopt;
    }
    const std::int64_t now = clock_.now_ms();
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(table_key(cookie));
    if (it == sessions_.end()) {
        return std::nullopt;
    }
    if (now - it->second.last_used_ms >= idle_ms_) {
        sessions_.erase(it);
        return std::nullopt;
    }
    it->second.last_used_ms = now;
    it->second.session.expires_at_ms = now + idle_ms_;
    Session found = it->second.session;
    found.cookie = std::string(cookie);
    return found;
}

bool SessionStore::remove(std::string_view cookie) {
    std::lock_guard lock(mutex_);
    return sessions_.erase(table_key(cookie)) > 0;
}

std::size_t SessionStore::size() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
}

void SessionStore::evict_expired_locked(std::int64_t now_ms) {
    std::erase_if(sessions_,
                  [&](const auto& item) { return now_ms - item.second.last_used_ms >= idle_ms_; });
}

bool csrf_matches(const Session& session, std::string_view header_value) {
    return !session.csrf_token.empty() &&
           crypto::constant_time_equal(header_value, session.csrf_token);
}

std::optional<std::string> cookie_value(std::string_view cookie_header, std::string_view name) {
    while (!cookie_header.empty()) {
        auto semicolon = cookie_header.find(';');
        std::string_view pair = cookie_header.substr(0, semicolon);
        while (!pair.empty() && pair.front() == ' ') {
            pair.remove_prefix(1);
        }
        auto equals = pair.find('=');
        if (equals != std::string_view::npos && pair.substr(0, equals) == name) {
            std::string_view value = pair.substr(equals + 1);
            while (!value.empty() && value.back() == ' ') {
                value.remove_suffix(1);
            }
            return std::string(value);
        }
        if (semicolon == std::string_view::npos) {
            break;
        }
        cookie_header.remove_prefix(semicolon + 1);
    }
    return std::nullopt;
}

SignInLimiter::SignInLimiter(const Clock& clock, std::size_t max_failures,
                             std::chrono::seconds window, std::size_t max_addresses)
    : clock_(clock),
      max_failures_(std::max<std::size_t>(max_failures, 1)),
      window_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(window).count()),
      max_addresses_(std::max<std::size_t>(max_addresses, 1)) {}

void SignInLimiter::prune_locked(std::deque<std::int64_t>& failures, std::int64_t now_ms) const {
    while (!failures.empty() && now_ms - failures.front() >= window_ms_) {
        failures.pop_front();
    }
}

std::optional<std::chrono::seconds> SignInLimiter::blocked(const std::string& address) {
    const std::int64_t now = clock_.now_ms();
    std::lock_guard lock(mutex_);
    auto it = failures_.find(address);
    if (it == failures_.end()) {
        return std::nullopt;
    }
    prune_locked(it->second, now);
    if (it->second.size() < max_failures_) {
        if (it->second.empty()) {
            failures_.erase(it);
        }
        return std::nullopt;
    }
    // Free again when the oldest counted failure leaves the window (rounded up to whole seconds).
    const std::int64_t wait_ms = it->second.front() + window_ms_ - now;
    return std::chrono::seconds(std::max<std::int64_t>(1, (wait_ms + 999) / 1000));
}

void SignInLimiter::record_failure(const std::string& address) {
    const std::int64_t now = clock_.now_ms();
    std::lock_guard lock(mutex_);
    if (failures_.size() >= max_addresses_ && !failures_.contains(address)) {
        // Forget the address whose last failure is oldest (an attacker rotating addresses fills
        // the table; the cap keeps memory bounded).
        auto oldest = std::min_element(failures_.begin(), failures_.end(), [](auto& a, auto& b) {
            return (a.second.empty() ? 0 : a.second.back()) <
                   (b.second.empty() ? 0 : b.second.back());
        });
        failures_.erase(oldest);
    }
    auto& list = failures_[address];
    prune_locked(list, now);
    list.push_back(now);
    while (list.size() > max_failures_) {
        list.pop_front();
    }
}

void SignInLimiter::record_success(const std::string& address) {
    std::lock_guard lock(mutex_);
    failures_.erase(address);
}

std::string client_address(std::string_view remote_address) {
    if (remote_address.starts_with('[')) {
        auto close = remote_address.find(']');
        return std::string(close == std::string_view::npos ? remote_address.substr(1)
                                                           : remote_address.substr(1, close - 1));
    }
    auto colon = remote_address.rfind(':');
    if (colon != std::string_view::npos && remote_address.find(':') == colon) {
        return std::string(remote_address.substr(0, colon));  // IPv4 with port
    }
    return std::string(remote_address);  // bare IPv6 or no port
}

}  // namespace pf::console
