#include "aws/aws_environment.h"

#include "aws/endpoint_url.h"
#include "base/ascii.h"

namespace pf::aws {
namespace {

std::string lookup(const EnvironmentMap& variables, const std::string& name) {
    const auto it = variables.find(name);
    return it == variables.end() ? std::string() : it->second;
}

std::string uppercase(std::string text) {
    for (char& c : text) {
        if (c >= 'a' && c <= 'z') {
            c = static_cast<char>(c - 'a' + 'A');
        }
    }
    return text;
}

// Region names are lowercase letters, digits and '-' ("us-east-1", "eu-central-2"); anything else
// would end up in hostnames and credential scopes.
bool valid_region(const std::string& region) {
    if (region.empty() || region.size() > 64) {
        return false;
    }
    for (const char c : region) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

}  // namespace

Result<AwsEnvironment> AwsEnvironment::from(const EnvironmentMap& variables) {
    AwsEnvironment env;
    env.variables = variables;
    std::string problems;
    auto problem = [&](const std::string& text) {
        problems += (problems.empty() ? "" : "; ") + text;
    };

    std::string region = lookup(variables, "AWS_REGION");
    if (region.empty()) {
        region = lookup(variables, "AWS_DEFAULT_REGION");
    }
    if (!region.empty()) {
        if (valid_region(region)) {
            env.region = region;
        } else {
            problem("AWS_REGION \"" + region.substr(0, 64) +
                    "\" is not a region name (lowercase letters, digits, '-')");
        }
    }
    env.credentials.access_key_id = lookup(variables, "AWS_ACCESS_KEY_ID");
    env.credentials.secret_access_key = lookup(variables, "AWS_SECRET_ACCESS_KEY");
    env.credentials.session_token = lookup(variables, "AWS_SESSION_TOKEN");
    if (env.credentials.access_key_id.empty()) {
        problem("AWS_ACCESS_KEY_ID is not set");
    }
    if (env.credentials.secret_access_key.empty()) {
        problem("AWS_SECRET_ACCESS_KEY is not set");
    }
    // Every endpoint override is checked now, so a typo fails at start-up, not on first use.
    for (const auto& [name, value] : variables) {
        if (!name.starts_with("AWS_ENDPOINT_URL") || value.empty()) {
            continue;
        }
        if (auto parsed = EndpointUrl::parse(value); !parsed) {
            problem(name + ": " + parsed.error().message);
        }
    }
    if (!problems.empty()) {
        return make_error(ErrorCode::InvalidArgument, "AWS environment: " + problems);
    }
    return env;
}

ServiceEndpoint AwsEnvironment::endpoint(const std::string& service) const {
    const std::string specific = lookup(variables, "AWS_ENDPOINT_URL_" + uppercase(service));
    if (!specific.empty()) {
        return ServiceEndpoint{specific, true};
    }
    const std::string general = lookup(variables, "AWS_ENDPOINT_URL");
    if (!general.empty()) {
        return ServiceEndpoint{general, true};
    }
    // The China partition lives under amazonaws.com.cn.
    const std::string suffix = region.starts_with("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
    return ServiceEndpoint{"https://" + ascii_lowercase(service) + "." + region + "." + suffix,
                           false};
}

}  // namespace pf::aws
