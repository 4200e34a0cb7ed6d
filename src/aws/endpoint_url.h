// An AWS service endpoint URL ("https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000",
// "http://[::1]:4566/prefix") taken apart, so the clients can build request URLs and the `host`
// value they sign. The authority is normalised the way an HTTP client writes the Host header
// (lowercase host, default port left out), because the signature covers it.
#pragma once

#include "base/result.h"

#include <string>
#include <string_view>

namespace pf::aws {

struct EndpointUrl {
    std::string scheme;     // "http" or "https"
    std::string host;       // lowercase; an IPv6 literal keeps its brackets ("[::1]")
    std::string port;       // digits; empty for the scheme's default port
    std::string base_path;  // decoded, no trailing '/'; usually empty

    // InvalidArgument naming the problem: not http/https, no host, userinfo, query or fragment,
    // a bad port, a malformed escape in the path, longer than 2 KiB.
    static Result<EndpointUrl> parse(std::string_view url);

    // "host[:port]", what the Host header carries and SigV4 signs.
    std::string authority() const;
    // True for an IPv4 or IPv6 literal (no virtual-hosted buckets on those).
    bool host_is_ip() const;
};

}  // namespace pf::aws
