// The outbound address policy: every refused range (IPv4, IPv6 and the IPv6 spellings of IPv4),
// the allow-list override, and CIDR parse errors.
#include "http/address_policy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <string>

namespace pf::http {
namespace {

IpAddress ip(const std::string& text) {
    auto parsed = IpAddress::parse(text);
    if (!parsed) {
        ADD_FAILURE() << "not an address: " << text;
        return {};
    }
    return *parsed;
}

struct Case {
    const char* address;
    const char* range;  // the refusing range's CIDR; nullptr when allowed
};

// One row per refused range (its edges where they matter) and public neighbours that must pass.
const Case kCases[] = {
    // IPv4 special-purpose ranges
    {"0.0.0.0", "0.0.0.0/8"},
    {"0.255.255.255", "0.0.0.0/8"},
    {"10.0.0.1", "10.0.0.0/8"},
    {"10.255.255.255", "10.0.0.0/8"},
    {"100.64.0.1", "100.64.0.0/10"},
    {"100.127.255.255", "100.64.0.0/10"},
    {"127.0.0.1", "127.0.0.0/8"},
    {"127.255.255.254", "127.0.0.0/8"},
    {"169.254.169.254", "169.254.0.0/16"},
    {"172.16.0.1", "172.16.0.0/12"},
    {"172.31.255.255", "172.16.0.0/12"},
    {"192.0.0.8", "192.0.0.0/24"},
    {"192.0.2.10", "192.0.2.0/24"},
    {"192.88.99.1", "192.88.99.0/24"},
    {"192.168.1.1", "192.168.0.0/16"},
    {"198.18.0.1", "198.18.0.0/15"},
    {"198.19.255.255", "198.18.0.0/15"},
    {"198.51.100.7", "198.51.100.0/24"},
    {"203.0.113.9", "203.0.113.0/24"},
    {"224.0.0.1", "224.0.0.0/4"},
    {"239.255.255.250", "224.0.0.0/4"},
    {"240.0.0.1", "240.0.0.0/4"},
    {"255.255.255.255", "255.255.255.255/32"},
    // IPv4 public neighbours
    {"1.1.1.1", nullptr},
    {"8.8.8.8", nullptr},
    {"9.255.255.255", nullptr},
    {"11.0.0.0", nullptr},
    {"100.63.255.255", nullptr},
    {"100.128.0.0", nullptr},
    {"126.255.255.255", nullptr},
    {"128.0.0.0", nullptr},
    {"169.253.255.255", nullptr},
    {"172.15.255.255", nullptr},
    {"172.32.0.0", nullptr},
    {"192.167.255.255", nullptr},
    {"192.169.0.0", nullptr},
    {"198.17.255.255", nullptr},
    {"198.20.0.0", nullptr},
    {"223.255.255.255", nullptr},
    // IPv6 special-purpose ranges
    {"::", "::/128"},
    {"::1", "::1/128"},
    {"fc00::1", "fc00::/7"},
    {"fd12:3456:789a::1", "fc00::/7"},
    {"fe80::1", "fe80::/10"},
    {"febf::1", "fe80::/10"},
    {"fec0::1", "fec0::/10"},
    {"ff02::1", "ff00::/8"},
    {"ff05::2", "ff00::/8"},
    {"100::1", "100::/64"},
    {"2001:db8::1", "2001:db8::/32"},
    {"2001::1", "2001::/23"},     // Teredo
    {"2001:2::1", "2001::/23"},   // benchmarking
    {"2001:10::1", "2001::/23"},  // ORCHID
    {"3fff::1", "3fff::/20"},
    {"5f00::1", "5f00::/16"},
    {"64:ff9b:1::1", "64:ff9b:1::/48"},
    {"1::1", "2000::/3"},  // unassigned, outside global unicast
    {"4000::1", "2000::/3"},
    {"e000::1", "2000::/3"},
    // IPv6 public
    {"2606:4700:4700::1111", nullptr},
    {"2a00:1450:4001::1", nullptr},
    {"2001:4860:4860::8888", nullptr},
    // IPv4-mapped IPv6: judged by the IPv4 address
    {"::ffff:127.0.0.1", "127.0.0.0/8"},
    {"::ffff:10.1.2.3", "10.0.0.0/8"},
    {"::ffff:169.254.169.254", "169.254.0.0/16"},
    {"::ffff:192.168.0.1", "192.168.0.0/16"},
    {"::ffff:0.0.0.0", "0.0.0.0/8"},
    {"::ffff:100.64.0.1", "100.64.0.0/10"},
    {"::ffff:224.0.0.1", "224.0.0.0/4"},
    {"::ffff:7f00:1", "127.0.0.0/8"},  // the same, in hex
    {"::ffff:8.8.8.8", nullptr},
    // IPv4-compatible IPv6 (deprecated): refused, by the IPv4 range when it has one
    {"::127.0.0.1", "127.0.0.0/8"},
    {"::10.0.0.1", "10.0.0.0/8"},
    {"::8.8.8.8", "::/96"},
    // NAT64: judged by the IPv4 address
    {"64:ff9b::127.0.0.1", "127.0.0.0/8"},
    {"64:ff9b::a9fe:a9fe", "169.254.0.0/16"},
    {"64:ff9b::192.168.1.1", "192.168.0.0/16"},
    {"64:ff9b::8.8.8.8", nullptr},
    // 6to4: the embedded IPv4 range, or 6to4 itself
    {"2002:7f00:1::1", "127.0.0.0/8"},
    {"2002:0a00:0001::", "10.0.0.0/8"},
    {"2002:0808:0808::1", "2002::/16"},
};

TEST(AddressPolicy, DefaultRefusesEverySpecialRangeAndAllowsPublic) {
    const AddressPolicy policy;
    for (const Case& c : kCases) {
        SCOPED_TRACE(c.address);
        const IpAddress address = ip(c.address);
        const auto range = special_range(address);
        if (c.range == nullptr) {
            EXPECT_FALSE(range.has_value()) << range->cidr;
            EXPECT_TRUE(policy.allows(address));
            EXPECT_EQ(policy.describe_refusal(address), "");
        } else {
            ASSERT_TRUE(range.has_value());
            EXPECT_EQ(range->cidr, c.range);
            EXPECT_FALSE(policy.allows(address));
            const std::string why = policy.describe_refusal(address);
            EXPECT_NE(why.find(address.to_string()), std::string::npos) << why;
            EXPECT_NE(why.find(c.range), std::string::npos) << why;
        }
    }
}

TEST(AddressPolicy, DescribesTheRangeAndTheIpv6Form) {
    const AddressPolicy policy;
    EXPECT_EQ(policy.describe_refusal(ip("127.0.0.1")), "127.0.0.1 is loopback (127.0.0.0/8)");
    EXPECT_EQ(policy.describe_refusal(ip("::ffff:10.0.0.1")),
              "::ffff:10.0.0.1 is private (10.0.0.0/8) in IPv4-mapped IPv6 form");
    EXPECT_EQ(policy.describe_refusal(ip("64:ff9b::7f00:1")),
              "64:ff9b::7f00:1 is loopback (127.0.0.0/8) in NAT64 IPv6 form");
    EXPECT_EQ(policy.describe_refusal(ip("169.254.169.254")),
              "169.254.169.254 is link-local (169.254.0.0/16)");
    EXPECT_EQ(policy.describe_refusal(ip("100.100.100.200")),
              "100.100.100.200 is carrier-grade NAT (100.64.0.0/10)");
}

TEST(AddressPolicy, AllowListOverridesIncludingIpv6SpellingsOfIpv4) {
    auto policy = AddressPolicy::with_allowed({"127.0.0.0/8", "10.1.0.0/16", "fd00::/8"});
    ASSERT_TRUE(policy) << policy.error().message;
    EXPECT_TRUE(policy->allows(ip("127.0.0.1")));
    EXPECT_TRUE(policy->allows(ip("127.9.9.9")));
    EXPECT_TRUE(policy->allows(ip("::ffff:127.0.0.1")));
    EXPECT_TRUE(policy->allows(ip("64:ff9b::127.0.0.1")));
    EXPECT_TRUE(policy->allows(ip("10.1.200.3")));
    EXPECT_TRUE(policy->allows(ip("fd00::5")));
    EXPECT_TRUE(policy->allows(ip("8.8.8.8")));  // public stays allowed
    // Only what the list covers.
    EXPECT_FALSE(policy->allows(ip("10.2.0.1")));
    EXPECT_FALSE(policy->allows(ip("::1")));  // IPv6 loopback is not 127.0.0.0/8
    EXPECT_FALSE(policy->allows(ip("fc00::1")));
    EXPECT_FALSE(policy->allows(ip("169.254.169.254")));
    EXPECT_EQ(policy->allowed().size(), 3u);
    EXPECT_EQ(policy->allowed()[0].to_string(), "127.0.0.0/8");

    auto host = AddressPolicy::with_allowed({"::1", "192.168.1.5"});
    ASSERT_TRUE(host) << host.error().message;
    EXPECT_TRUE(host->allows(ip("::1")));
    EXPECT_TRUE(host->allows(ip("192.168.1.5")));
    EXPECT_FALSE(host->allows(ip("192.168.1.6")));
}

TEST(AddressPolicy, AppliesToSocketAddresses) {
    const AddressPolicy policy;
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(80);
    ASSERT_EQ(inet_pton(AF_INET, "192.168.0.10", &in.sin_addr), 1);
    EXPECT_FALSE(policy.allows(reinterpret_cast<const sockaddr*>(&in)));
    EXPECT_EQ(policy.describe_refusal(reinterpret_cast<const sockaddr*>(&in)),
              "192.168.0.10 is private (192.168.0.0/16)");
    ASSERT_EQ(inet_pton(AF_INET, "93.184.216.34", &in.sin_addr), 1);
    EXPECT_TRUE(policy.allows(reinterpret_cast<const sockaddr*>(&in)));

    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    ASSERT_EQ(inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr), 1);
    EXPECT_FALSE(policy.allows(reinterpret_cast<const sockaddr*>(&in6)));
    ASSERT_EQ(inet_pton(AF_INET6, "2606:4700::1", &in6.sin6_addr), 1);
    EXPECT_TRUE(policy.allows(reinterpret_cast<const sockaddr*>(&in6)));

    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    EXPECT_FALSE(policy.allows(reinterpret_cast<const sockaddr*>(&un)));
    EXPECT_FALSE(policy.allows(static_cast<const sockaddr*>(nullptr)));
}

TEST(Cidr, ParsesAndContains) {
    auto v4 = Cidr::parse("172.16.0.0/12");
    ASSERT_TRUE(v4) << v4.error().message;
    EXPECT_TRUE(v4->contains(ip("172.16.0.0")));
    EXPECT_TRUE(v4->contains(ip("172.31.255.255")));
    EXPECT_FALSE(v4->contains(ip("172.32.0.0")));
    EXPECT_FALSE(v4->contains(ip("::ffff:172.16.0.1")));  // families never mix in a CIDR

    auto all = Cidr::parse("0.0.0.0/0");
    ASSERT_TRUE(all);
    EXPECT_TRUE(all->contains(ip("255.1.2.3")));

    auto v6 = Cidr::parse("2001:db8::/32");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(v6->contains(ip("2001:db8:ffff::1")));
    EXPECT_FALSE(v6->contains(ip("2001:db9::1")));
    EXPECT_EQ(v6->to_string(), "2001:db8::/32");

    auto host = Cidr::parse("10.0.0.7");
    ASSERT_TRUE(host);
    EXPECT_EQ(host->prefix_length(), 32u);
    EXPECT_EQ(host->to_string(), "10.0.0.7/32");
}

TEST(Cidr, ParseErrorsSayWhatIsWrong) {
    struct Bad {
        const char* text;
        const char* says;
    };
    const Bad bad[] = {
        {"", "empty"},
        {"localhost/8", "is not an IPv4 or IPv6 address"},
        {"10.0.0/8", "is not an IPv4 or IPv6 address"},
        {"127.1", "is not an IPv4 or IPv6 address"},
        {"0x7f.0.0.1/8", "is not an IPv4 or IPv6 address"},
        {"010.0.0.0/8", "is not an IPv4 or IPv6 address"},
        {"fe80::1%eth0/64", "is not an IPv4 or IPv6 address"},
        {"[::1]/128", "is not an IPv4 or IPv6 address"},
        {"10.0.0.0/", "prefix length \"\" is not a number"},
        {"10.0.0.0/x", "prefix length \"x\" is not a number"},
        {"10.0.0.0/-1", "is not a number"},
        {"10.0.0.0/8/8", "is not a number"},
        {"10.0.0.0/33", "prefix length 33 is more than 32 for IPv4"},
        {"::/129", "prefix length 129 is more than 128 for IPv6"},
        {"10.1.2.3/8", "host bits are set (did you mean 10.0.0.0/8?)"},
        {"fd00::1/8", "host bits are set (did you mean fd00::/8?)"},
    };
    for (const Bad& b : bad) {
        SCOPED_TRACE(b.text);
        auto cidr = Cidr::parse(b.text);
        ASSERT_FALSE(cidr);
        EXPECT_EQ(cidr.error().code, ErrorCode::InvalidArgument);
        EXPECT_NE(cidr.error().message.find(b.says), std::string::npos) << cidr.error().message;
    }
}

TEST(AddressPolicy, WithAllowedListsEveryBadEntry) {
    auto policy = AddressPolicy::with_allowed({"127.0.0.0/8", "10.0.0.1/33", "nope", "::1/128"});
    ASSERT_FALSE(policy);
    EXPECT_EQ(policy.error().code, ErrorCode::InvalidArgument);
    const std::string& m = policy.error().message;
    EXPECT_NE(m.find("allowed destination [1] \"10.0.0.1/33\": prefix length 33"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("allowed destination [2] \"nope\""), std::string::npos) << m;
    EXPECT_EQ(m.find("[0]"), std::string::npos) << m;
    EXPECT_EQ(m.find("[3]"), std::string::npos) << m;
}

TEST(IpAddress, ParsesPrintsAndFindsEmbeddedIpv4) {
    EXPECT_EQ(ip("::FFFF:7F00:0001").to_string(), "::ffff:127.0.0.1");
    EXPECT_EQ(ip("2001:DB8:0:0::1").to_string(), "2001:db8::1");
    EXPECT_EQ(ip("10.0.0.1"), IpAddress::v4(10, 0, 0, 1));
    EXPECT_FALSE(IpAddress::parse("1.2.3.4.5"));
    EXPECT_FALSE(IpAddress::parse("256.0.0.1"));
    EXPECT_FALSE(IpAddress::parse(" 1.2.3.4"));
    EXPECT_FALSE(IpAddress::parse(""));
    EXPECT_EQ(ip("::ffff:1.2.3.4").embedded_v4(), IpAddress::v4(1, 2, 3, 4));
    EXPECT_EQ(ip("64:ff9b::1.2.3.4").embedded_v4(), IpAddress::v4(1, 2, 3, 4));
    EXPECT_EQ(ip("::1.2.3.4").embedded_v4(), IpAddress::v4(1, 2, 3, 4));
    EXPECT_EQ(ip("2002:102:304::").embedded_v4(), IpAddress::v4(1, 2, 3, 4));
    EXPECT_FALSE(ip("::1").embedded_v4());
    EXPECT_FALSE(ip("::").embedded_v4());
    EXPECT_FALSE(ip("2001:db8::1").embedded_v4());
    EXPECT_FALSE(ip("1.2.3.4").embedded_v4());
}

}  // namespace
}  // namespace pf::http
