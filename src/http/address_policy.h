// Which destination IP addresses an outbound request (a webhook delivery) may connect to.
//
// A subscriber chooses the URL, so without a policy `photoflux serve` would POST wherever it is
// told: to its own admin ports on 127.0.0.1, to the cloud metadata service on 169.254.169.254, to
// the operator's private network. The policy refuses every address that is not globally routable
// public unicast: loopback, private, link-local, carrier-grade NAT, "this network", multicast,
// broadcast, documentation, benchmarking and reserved ranges, in IPv4 and IPv6, including the IPv6
// spellings of an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64
// 64:ff9b::a.b.c.d and 6to4 2002:aabb:ccdd::), which are judged by the IPv4 address they carry.
//
// An allow list of CIDRs (from config) overrides the refusal: "127.0.0.0/8" lets tests deliver to
// a local receiver, "10.1.0.0/16" lets an operator reach an internal service. An allowed IPv4
// range also allows that range's IPv6 spellings (::ffff:127.0.0.1 with "127.0.0.0/8").
//
// The policy judges addresses, not names: the HTTP client applies it to every address at the
// moment it opens the socket, after DNS, so a name that resolves (or rebinds) to a refused
// address is refused too. Immutable after construction, so one instance may be shared by threads.
#pragma once

#include "base/result.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sockaddr;

namespace pf::http {

// An IPv4 or IPv6 address, in network byte order (IPv4 uses the first 4 bytes).
struct IpAddress {
    enum class Family { V4, V6 };
    Family family = Family::V4;
    std::array<std::uint8_t, 16> bytes{};

    static IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d);
    // Dotted quad ("192.0.2.1") or RFC 4291 text ("2001:db8::1", "::ffff:1.2.3.4"); no zone
    // ids, no brackets, no shorthand IPv4 forms ("127.1", "0x7f.1"). nullopt when not an address.
    static std::optional<IpAddress> parse(std::string_view text);
    // From an AF_INET / AF_INET6 socket address; nullopt for any other family (or null).
    static std::optional<IpAddress> from_sockaddr(const sockaddr* address);

    std::size_t bit_count() const { return family == Family::V4 ? 32 : 128; }
    // The IPv4 address an IPv6 address carries, for the IPv4-mapped (::ffff:0:0/96),
    // IPv4-compatible (::/96, but not :: or ::1), NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
    // forms; nullopt otherwise (and for IPv4 addresses).
    std::optional<IpAddress> embedded_v4() const;
    // Canonical text: "127.0.0.1", "::ffff:127.0.0.1", "2001:db8::1".
    std::string to_string() const;

    friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// An address prefix ("10.0.0.0/8", "::1/128"; a bare address means the single host).
class Cidr {
public:
    // Errors (InvalidArgument) name the text and what is wrong with it: not an address, a prefix
    // length that is not a number or too long for the family, host bits set ("10.1.2.3/8").
    static Result<Cidr> parse(std::string_view text);
    Cidr(IpAddress network, unsigned prefix_length);

    bool contains(const IpAddress& address) const;
    const IpAddress& network() const { return network_; }
    unsigned prefix_length() const { return prefix_length_; }
    std::string to_string() const;

private:
    IpAddress network_;
    unsigned prefix_length_ = 0;
};

// A refused special-purpose range: what it is and the range itself.
struct SpecialRange {
    std::string_view name;  // "loopback", "private", "link-local", ...
    std::string_view cidr;  // "127.0.0.0/8"
};

// The special-purpose range an address falls in, or nullopt for public unicast. IPv6 forms that
// embed an IPv4 address report the IPv4 address's range (IPv4-compatible ::/96 is refused as a
// whole: deprecated, and no legitimate destination uses it).
std::optional<SpecialRange> special_range(const IpAddress& address);

class AddressPolicy {
public:
    // The default: refuses every special-purpose range, allows public unicast.
    AddressPolicy() = default;
    // The default plus an allow list that overrides it. Every CIDR is checked; the error lists
    // each bad entry ("allowed_destinations[1] \"10.0.0.1/33\": prefix length 33 is more than
    // 32").
    static Result<AddressPolicy> with_allowed(const std::vector<std::string>& cidrs);
    // Allows every address. Only for destinations the operator chose, never a user: the
    // function's own S3 / SNS endpoints and the Lambda Runtime API, which are loopback in serve
    // mode and private in a self-hosted cluster.
    static AddressPolicy allow_all();

    bool allows(const IpAddress& address) const;
    bool allows(const sockaddr* address) const;
    // Why an address is refused, for errors and logs: "127.0.0.1 is loopback (127.0.0.0/8)",
    // "::ffff:10.0.0.1 is private (10.0.0.0/8) (IPv4-mapped IPv6)". Empty when it is allowed.
    std::string describe_refusal(const IpAddress& address) const;
    std::string describe_refusal(const sockaddr* address) const;

    const std::vector<Cidr>& allowed() const { return allowed_; }
    bool allows_all() const { return allow_all_; }

private:
    bool in_allow_list(const IpAddress& address) const;

    std::vector<Cidr> allowed_;
    bool allow_all_ = false;
};

}  // namespace pf::http
