#include "console/session_store.h"

#include <gtest/gtest.h>

#include <atomic>

namespace pf::console {
namespace {

class ManualClock final : public Clock {
public:
    std::int64_t now_ms() const override { return now_; }
    void advance(std::chrono::milliseconds by) { now_ += by.count(); }

private:
    std::atomic<std::int64_t> now_{1'700'000'000'000};
};

TEST(SessionStore, CreatedSessionIsFoundByItsCookieOnly) {
    ManualClock clock;
    SessionStore store(clock, std::chrono::hours(12), 10);
    Session created = store.create("alice", SessionKind::ConsoleUser);
    EXPECT_EQ(created.cookie.size(), 43u);  // 32 bytes, base64url without padding
    EXPECT_EQ(created.cookie.find_first_of("+/="), std::string::npos);
    EXPECT_NE(created.csrf_token, created.cookie);

    auto found = store.find(created.cookie);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->user, "alice");
    EXPECT_EQ(found->csrf_token, created.csrf_token);
    EXPECT_FALSE(store.find(created.cookie + "x"));
    EXPECT_FALSE(store.find(""));
    EXPECT_NE(store.create("alice", SessionKind::ConsoleUser).cookie, created.cookie);
}

TEST(SessionStore, ExpiresAfterIdleTimeAndUseExtendsIt) {
    ManualClock clock;
    SessionStore store(clock, std::chrono::seconds(60), 10);
    Session session = store.create("bob", SessionKind::AccessKey);
    clock.advance(std::chrono::seconds(50));
    ASSERT_TRUE(store.find(session.cookie)) << "used within the idle time";
    clock.advance(std::chrono::seconds(50));
    auto found = store.find(session.cookie);
    ASSERT_TRUE(found) << "the previous use pushed the expiry forward";
    EXPECT_EQ(found->expires_at_ms, clock.now_ms() + 60'000);
    clock.advance(std::chrono::seconds(60));
    EXPECT_FALSE(store.find(session.cookie)) << "idle for the whole period";
    EXPECT_EQ(store.size(), 0u);
}

TEST(SessionStore, EvictsLeastRecentlyUsedAtCapacity) {
    ManualClock clock;
    SessionStore store(clock, std::chrono::hours(1), 2);
    Session a = store.create("a", SessionKind::ConsoleUser);
    clock.advance(std::chrono::seconds(1));
    Session b = store.create("b", SessionKind::ConsoleUser);
    clock.advance(std::chrono::seconds(1));
    ASSERT_TRUE(store.find(a.cookie));  // a is now the most recently used
    clock.advance(std::chrono::seconds(1));
    Session c = store.create("c", SessionKind::ConsoleUser);
    EXPECT_EQ(store.size(), 2u);
    EXPECT_TRUE(store.find(a.cookie));
    EXPECT_FALSE(store.find(b.cookie));
    EXPECT_TRUE(store.find(c.cookie));
    EXPECT_TRUE(store.remove(c.cookie));
    EXPECT_FALSE(store.find(c.cookie));
}

TEST(SessionStore, CsrfTokenMustMatchExactly) {
    ManualClock clock;
    SessionStore store(clock, std::chrono::hours(1), 2);
    Session s = store.create("a", SessionKind::ConsoleUser);
    EXPECT_TRUE(csrf_matches(s, s.csrf_token));
    EXPECT_FALSE(csrf_matches(s, ""));
    EXPECT_FALSE(csrf_matches(s, s.csrf_token.substr(1)));
    Session empty;
    EXPECT_FALSE(csrf_matches(empty, ""));
}

TEST(CookieValue, FindsTheNamedCookieAmongOthers) {
    EXPECT_EQ(cookie_value("a=1; pf_console=xyz; b=2", "pf_console"), "xyz");
    EXPECT_EQ(cookie_value("pf_console=abc", "pf_console"), "abc");
    EXPECT_FALSE(cookie_value("xpf_console=abc; other=1", "pf_console"));
    EXPECT_FALSE(cookie_value("", "pf_console"));
}

TEST(SignInLimiter, BlocksAfterTenFailuresUntilTheWindowPasses) {
    ManualClock clock;
    SignInLimiter limiter(clock, 10, std::chrono::minutes(5));
    for (int i = 0; i < 9; ++i) {
        limiter.record_failure("10.0.0.1");
        clock.advance(std::chrono::seconds(1));
    }
    EXPECT_FALSE(limiter.blocked("10.0.0.1"));
    limiter.record_failure("10.0.0.1");
    auto wait = limiter.blocked("10.0.0.1");
    ASSERT_TRUE(wait);
    // The first failure was 9 s before the tenth: it leaves the 300 s window in 291 s.
    EXPECT_EQ(wait->count(), 291);
    EXPECT_FALSE(limiter.blocked("10.0.0.2")) << "other addresses are not affected";
    clock.advance(std::chrono::seconds(291));
    EXPECT_FALSE(limiter.blocked("10.0.0.1"));
}

TEST(SignInLimiter, SuccessClearsFailures) {
    ManualClock clock;
    SignInLimiter limiter(clock, 3, std::chrono::minutes(5));
    limiter.record_failure("a");
    limiter.record_failure("a");
    limiter.record_success("a");
    limiter.record_failure("a");
    EXPECT_FALSE(limiter.blocked("a"));
}

TEST(ClientAddress, DropsThePort) {
    EXPECT_EQ(client_address("127.0.0.1:53122"), "127.0.0.1");
    EXPECT_EQ(client_address("[::1]:8080"), "::1");
    EXPECT_EQ(client_address("::1"), "::1");
}

}  // namespace
}  // namespace pf::console
