#include "http/address_policy.h"

#include "base/check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace pf::http {
namespace {

struct RangeEntry {
    Cidr cidr;
    std::string_view name;
    std::string_view text;
};

// The special-purpose ranges (IANA IPv4/IPv6 Special-Purpose Address Registries plus
// multicast), most specific first where they nest. The IPv6 forms that embed an IPv4 address
// are handled in special_range() before this table is consulted.
const std::vector<RangeEntry>& special_ranges() {
    static const std::vector<RangeEntry> table = [] {
        struct Raw {
            std::string_view text;
            std::string_view name;
        };
        static constexpr Raw raw[] = {
            {"0.0.0.0/8", "\"this network\""},
            {"10.0.0.0/8", "private"},
            {"100.64.0.0/10", "carrier-grade NAT"},
            {"127.0.0.0/8", "loopback"},
            {"169.254.0.0/16", "link-local"},
            {"172.16.0.0/12", "private"},
            {"192.0.0.0/24", "IETF protocol assignments"},
            {"192.0.2.0/24", "documentation"},
            {"192.88.99.0/24", "6to4 relay anycast"},
            {"192.168.0.0/16", "private"},
            {"198.18.0.0/15", "benchmarking"},
            {"198.51.100.0/24", "documentation"},
            {"203.0.113.0/24", "documentation"},
            {"224.0.0.0/4", "multicast"},
            {"255.255.255.255/32", "broadcast"},
            {"240.0.0.0/4", "reserved"},
            {"::/128", "unspecified"},
            {"::1/128", "loopback"},
            {"64:ff9b:1::/48", "NAT64 local-use"},
            {"100::/64", "discard-only"},
            {"2001:db8::/32", "documentation"},
            {"2001::/23", "IETF protocol assignments (Teredo, benchmarking, ORCHID)"},
            {"2002::/16", "6to4"},
            {"3fff::/20", "documentation"},
            {"5f00::/16", "SRv6 SIDs"},
            {"fc00::/7", "unique local (private)"},
            {"fe80::/10", "link-local"},
            {"fec0::/10", "site-local (deprecated)"},
            {"ff00::/8", "multicast"},
        };
        std::vector<RangeEntry> out;
        for (const Raw& r : raw) {
            auto cidr = Cidr::parse(r.text);
            PF_CHECK(cidr.has_value());
            out.push_back(RangeEntry{*cidr, r.name, r.text});
        }
        return out;
    }();
    return table;
}

std::optional<SpecialRange> lookup(const IpAddress& address) {
    for (const RangeEntry& entry : special_ranges()) {
        if (entry.cidr.contains(address)) {
            return SpecialRange{entry.name, entry.text};
        }
    }
    return std::nullopt;
}

bool has_prefix(const IpAddress& a, std::initializer_list<std::uint8_t> prefix) {
    return std::equal(prefix.begin(), prefix.end(), a.bytes.begin());
}

bool all_zero(const std::uint8_t* p, std::size_t n) {
    return std::all_of(p, p + n, [](std::uint8_t b) { return b == 0; });
}

// Which IPv4-carrying IPv6 form an address is in (for messages), or empty.
std::string_view embedding_form(const IpAddress& a) {
    if (a.family != IpAddress::Family::V6) {
        return {};
    }
    if (all_zero(a.bytes.data(), 10) && a.bytes[10] == 0xff && a.bytes[11] == 0xff) {
        return "IPv4-mapped IPv6";
    }
    if (has_prefix(a, {0x00, 0x64, 0xff, 0x9b}) && all_zero(a.bytes.data() + 4, 8)) {
        return "NAT64 IPv6";
    }
    if (has_prefix(a, {0x20, 0x02})) {
        return "6to4 IPv6";
    }
    if (all_zero(a.bytes.data(), 12) && a.embedded_v4()) {
        return "IPv4-compatible IPv6";
    }
    return {};
}

}  // namespace

IpAddress IpAddress::v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    IpAddress out;
    out.family = Family::V4;
    out.bytes[0] = a;
    out.bytes[1] = b;
    out.bytes[2] = c;
    out.bytes[3] = d;
    return out;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    if (text.empty() || text.size() > INET6_ADDRSTRLEN) {
        return std::nullopt;
    }
    const std::string copy(text);  // inet_pton wants a terminated string
    IpAddress out;
    if (copy.find(':') == std::string::npos) {
        out.family = Family::V4;
        if (inet_pton(AF_INET, copy.c_str(), out.bytes.data()) != 1) {
            return std::nullopt;
        }
        return out;
    }
    out.family = Family::V6;
    if (inet_pton(AF_INET6, copy.c_str(), out.bytes.data()) != 1) {
        return std::nullopt;
    }
    return out;
}

std::optional<IpAddress> IpAddress::from_sockaddr(const sockaddr* address) {
    if (address == nullptr) {
        return std::nullopt;
    }
    IpAddress out;
    if (address->sa_family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, address, sizeof in);
        out.family = Family::V4;
        std::memcpy(out.bytes.data(), &in.sin_addr, 4);
        return out;
    }
    if (address->sa_family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, address, sizeof in6);
        out.family = Family::V6;
        std::memcpy(out.bytes.data(), &in6.sin6_addr, 16);
        return out;
    }
    return std::nullopt;
}

std::optional<IpAddress> IpAddress::embedded_v4() const {
    if (family != Family::V6) {
        return std::nullopt;
    }
    const std::uint8_t* b = bytes.data();
    const bool mapped = all_zero(b, 10) && b[10] == 0xff && b[11] == 0xff;
    const bool nat64 = has_prefix(*this, {0x00, 0x64, 0xff, 0x9b}) && all_zero(b + 4, 8);
    // ::/96 minus :: and ::1 (which are their own IPv6 addresses, not IPv4 0.0.0.0 / 0.0.0.1).
    const bool compatible = all_zero(b, 12) && !(all_zero(b + 12, 3) && b[15] <= 1);
    if (mapped || nat64 || compatible) {
        return IpAddress::v4(b[12], b[13], b[14], b[15]);
    }
    if (has_prefix(*this, {0x20, 0x02})) {  // 6to4: 2002:AABB:CCDD::/48
        return IpAddress::v4(b[2], b[3], b[4], b[5]);
    }
    return std::nullopt;
}

std::string IpAddress::to_string() const {
    char text[INET6_ADDRSTRLEN] = {};
    if (family == Family::V4) {
        inet_ntop(AF_INET, bytes.data(), text, sizeof text);
    } else {
        inet_ntop(AF_INET6, bytes.data(), text, sizeof text);
    }
    return text;
}

Cidr::Cidr(IpAddress network, unsigned prefix_length)
    : network_(network), prefix_length_(prefix_length) {
    PF_CHECK(prefix_length <= network.bit_count());
}

Result<Cidr> Cidr::parse(std::string_view text) {
    const std::string quoted = "\"" + std::string(text) + "\"";
    if (text.empty()) {
        return make_error(ErrorCode::InvalidArgument, "empty CIDR: expected e.g. 10.0.0.0/8");
    }
    const auto slash = text.find('/');
    const std::string_view address_text = text.substr(0, slash);
    auto address = IpAddress::parse(address_text);
    if (!address) {
        return make_error(ErrorCode::InvalidArgument, quoted + ": \"" + std::string(address_text) +
                                                          "\" is not an IPv4 or IPv6 address");
    }
    unsigned prefix = static_cast<unsigned>(address->bit_count());
    if (slash != std::string_view::npos) {
        const std::string_view prefix_text = text.substr(slash + 1);
        const bool digits = !prefix_text.empty() && prefix_text.size() <= 3 &&
                            std::all_of(prefix_text.begin(), prefix_text.end(),
                                        [](char c) { return c >= '0' && c <= '9'; });
        if (!digits) {
            return make_error(ErrorCode::InvalidArgument, quoted + ": prefix length \"" +
                                                              std::string(prefix_text) +
                                                              "\" is not a number");
        }
        std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), prefix);
        if (prefix > address->bit_count()) {
            return make_error(
                ErrorCode::InvalidArgument,
                quoted + ": prefix length " + std::to_string(prefix) + " is more than " +
                    std::to_string(address->bit_count()) +
                    (address->family == IpAddress::Family::V4 ? " for IPv4" : " for IPv6"));
        }
    }
    // The network with the host bits cleared; a CIDR whose host bits are set is most likely a
    // typo, and silently widening it would allow more than the operator meant.
    IpAddress network = *address;
    for (unsigned bit = prefix; bit < network.bit_count(); ++bit) {
        network.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
    }
    if (network != *address) {
        return make_error(ErrorCode::InvalidArgument,
                          quoted + ": host bits are set (did you mean " + network.to_string() +
                              "/" + std::to_string(prefix) + "?)");
    }
    return Cidr(network, prefix);
}

bool Cidr::contains(const IpAddress& address) const {
    if (address.family != network_.family) {
        return false;
    }
    const unsigned whole = prefix_length_ / 8;
    if (!std::equal(network_.bytes.begin(), network_.bytes.begin() + whole,
                    address.bytes.begin())) {
        return false;
    }
    const unsigned rest = prefix_length_ % 8;
    if (rest == 0) {
        return true;
    }
    const auto mask = static_cast<std::uint8_t>(0xffu << (8 - rest));
    return (network_.bytes[whole] & mask) == (address.bytes[whole] & mask);
}

std::string Cidr::to_string() const {
    return network_.to_string() + "/" + std::to_string(prefix_length_);
}

std::optional<SpecialRange> special_range(const IpAddress& address) {
    if (address.family == IpAddress::Family::V6) {
        if (auto v4 = address.embedded_v4()) {
            const std::string_view form = embedding_form(address);
            if (auto range = lookup(*v4)) {
                return range;  // judged by the IPv4 address it carries
            }
            if (form == "IPv4-compatible IPv6") {
                return SpecialRange{"IPv4-compatible IPv6 (deprecated)", "::/96"};
            }
            if (form == "IPv4-mapped IPv6" || form == "NAT64 IPv6") {
                return std::nullopt;  // a public IPv4 address, spelled in IPv6
            }
            // 6to4 of a public address: falls through to the table (2002::/16, refused).
        }
        if (auto range = lookup(address)) {
            return range;
        }
        if ((address.bytes[0] & 0xe0) != 0x20) {
            return SpecialRange{"reserved (outside global unicast)", "2000::/3"};
        }
        return std::nullopt;
    }
    return lookup(address);
}

Result<AddressPolicy> AddressPolicy::with_allowed(const std::vector<std::string>& cidrs) {
    AddressPolicy policy;
    std::string errors;
    for (std::size_t i = 0; i < cidrs.size(); ++i) {
        auto cidr = Cidr::parse(cidrs[i]);
        if (!cidr) {
            errors += (errors.empty() ? "" : "; ");
            errors += "allowed destination [" + std::to_string(i) + "] " + cidr.error().message;
            continue;
        }
        policy.allowed_.push_back(*cidr);
    }
    if (!errors.empty()) {
        return make_error(ErrorCode::InvalidArgument, errors);
    }
    return policy;
}

AddressPolicy AddressPolicy::allow_all() {
    AddressPolicy policy;
    policy.allow_all_ = true;
    return policy;
}

bool AddressPolicy::in_allow_list(const IpAddress& address) const {
    return std::any_of(allowed_.begin(), allowed_.end(),
                       [&](const Cidr& cidr) { return cidr.contains(address); });
}

bool AddressPolicy::allows(const IpAddress& address) const {
    if (allow_all_ || in_allow_list(address)) {
        return true;
    }
    if (auto v4 = address.embedded_v4(); v4 && in_allow_list(*v4)) {
        return true;
    }
    return !special_range(address).has_value();
}

bool AddressPolicy::allows(const sockaddr* address) const {
    auto ip = IpAddress::from_sockaddr(address);
    return ip && allows(*ip);
}

std::string AddressPolicy::describe_refusal(const IpAddress& address) const {
    if (allows(address)) {
        return {};
    }
    auto range = special_range(address);
    PF_CHECK(range.has_value());
    std::string out = address.to_string() + " is " + std::string(range->name) + " (" +
                      std::string(range->cidr) + ")";
    if (const std::string_view form = embedding_form(address); !form.empty()) {
        out += " in " + std::string(form) + " form";
    }
    return out;
}

std::string AddressPolicy::describe_refusal(const sockaddr* address) const {
    auto ip = IpAddress::from_sockaddr(address);
    if (!ip) {
        return "not an IPv4 or IPv6 address; outbound requests go to IP addresses only";
    }
    return describe_refusal(*ip);
}

}  // namespace pf::http
