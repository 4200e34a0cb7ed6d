#include "aws/sigv4.h"
#include "base/ascii.h"

#include "aws/time_format.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace pf::aws {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_space(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_space(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

// SigV4 header value rule: trim, and collapse each inner run of whitespace to a single space.
void append_canonical_value(std::string& out, std::string_view value) {
    value = trim(value);
    bool in_space = false;
    for (const char c : value) {
        if (is_space(c)) {
            in_space = true;
            continue;
        }
        if (in_space) {
            out.push_back(' ');
            in_space = false;
        }
        out.push_back(c);
    }
}

// RFC 3986 dot-segment removal plus the AWS rule that empty segments ("//") disappear; a
// trailing slash survives. Only for non-S3 services.
std::string normalise_path(std::string_view path) {
    if (path.empty()) {
        return "/";
    }
    std::vector<std::string_view> segments;
    std::size_t start = 0;
    while (start <= path.size()) {
        const std::size_t slash = path.find('/', start);
        const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
        const std::string_view segment = path.substr(start, end - start);
        if (segment == "..") {
            if (!segments.empty()) {
                segments.pop_back();
            }
        } else if (!segment.empty() && segment != ".") {
            segments.push_back(segment);
        }
        if (slash == std::string_view::npos) {
            break;
        }
        start = slash + 1;
    }
    std::string out = "/";
    for (std::size_t i = 0; i < segments.size(); ++i) {
        if (i > 0) {
            out.push_back('/');
        }
        out.append(segments[i]);
    }
    if (path.back() == '/' && !segments.empty()) {
        out.push_back('/');
    }
    return out;
}

std::string canonical_uri(std::string_view path, bool s3_path_rules) {
    if (s3_path_rules) {
        // S3 signs the path exactly as sent (encoded once); an empty path is "/".
        return path.empty() ? std::string("/") : uri_encode(path, true);
    }
    // Other services sign the normalised wire path (already encoded once) encoded again.
    return uri_encode(uri_encode(normalise_path(path), true), true);
}

std::string canonical_query(const QueryParams& query) {
    std::vector<std::pair<std::string, std::string>> encoded;
    encoded.reserve(query.size());
    for (const auto& [name, value] : query) {
        encoded.emplace_back(uri_encode(name, false), uri_encode(value, false));
    }
    std::sort(encoded.begin(), encoded.end());
    std::string out;
    for (const auto& [name, value] : encoded) {
        if (!out.empty()) {
            out.push_back('&');
        }
        out.append(name);
        out.push_back('=');
        out.append(value);
    }
    return out;
}

std::string join(const std::vector<std::string>& items, char separator) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) {
            out.push_back(separator);
        }
        out.append(items[i]);
    }
    return out;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        const std::size_t pos = text.find(separator, start);
        if (pos == std::string_view::npos) {
            parts.push_back(text.substr(start));
            return parts;
        }
        parts.push_back(text.substr(start, pos - start));
        start = pos + 1;
    }
}

bool is_lower_hex(std::string_view text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Error malformed(std::string message) {
    std::string text = "malformed Authorization header: " + message;
    return make_error(ErrorCode::InvalidArgument, text, text);
}

std::string hmac(std::string_view key, std::string_view message) {
    return crypto::as_bytes(crypto::hmac_sha256(key, message));
}

// Headers the client side never signs: hop-by-hop headers a proxy may rewrite, and the ones
// botocore leaves out (user-agent, expect, x-amzn-trace-id).
bool unsignable(std::string_view name) {
    static constexpr std::array<std::string_view, 12> kSkipped = {
        "authorization", "connection",          "expect",
        "keep-alive",    "proxy-authorization", "te",
        "trailer",       "transfer-encoding",   "upgrade",
        "user-agent",    "x-amzn-trace-id",     "content-length"};
    return std::find(kSkipped.begin(), kSkipped.end(), name) != kSkipped.end();
}

struct PreparedSigning {
    CredentialScope scope;
    std::string amz_date;
    std::string key;
};

PreparedSigning prepare(const SignRequest& request, const SigningCredentials& credentials) {
    PreparedSigning p;
    p.amz_date = format_amz_date(request.now);
    p.scope = CredentialScope{p.amz_date.substr(0, 8), request.region, request.service};
    p.key = signing_key(credentials.secret_access_key, p.scope);
    return p;
}

} // namespace

std::string CredentialScope::to_string() const {
    return date + "/" + region + "/" + service + "/aws4_request";
}

std::string canonical_request(const CanonicalRequestInput& input) {
    std::string out;
    out.reserve(512);
    out.append(input.method);
    out.push_back('\n');
    out.append(canonical_uri(input.path, input.s3_path_rules));
    out.push_back('\n');
    out.append(canonical_query(input.query));
    out.push_back('\n');
    // The signed-header list is used in the order the client gave (clients sort it); each named
    // header's values are joined with ',' in the order received.
    std::vector<std::string> names;
    names.reserve(input.signed_headers.size());
    for (const auto& name : input.signed_headers) {
        names.push_back(ascii_lowercase(name));
    }
    for (const auto& name : names) {
        out.append(name);
        out.push_back(':');
        bool first = true;
        for (const auto& [header, value] : input.headers) {
            if (header.size() != name.size() || ascii_lowercase(header) != name) {
                continue;
            }
            if (!first) {
                out.push_back(',');
            }
            append_canonical_value(out, value);
            first = false;
        }
        out.push_back('\n');
    }
    out.push_back('\n');
    out.append(join(names, ';'));
    out.push_back('\n');
    out.append(input.payload_hash);
    return out;
}

std::string string_to_sign(std::string_view amz_date, const CredentialScope& scope,
                           std::string_view canonical_request_text) {
    std::string out(kAlgorithm);
    out.push_back('\n');
    out.append(amz_date);
    out.push_back('\n');
    out.append(scope.to_string());
    out.push_back('\n');
    out.append(crypto::sha256_hex(canonical_request_text));
    return out;
}

std::string signing_key(std::string_view secret_access_key, const CredentialScope& scope) {
    std::string secret = "AWS4";
    secret.append(secret_access_key);
    const std::string k_date = hmac(secret, scope.date);
    const std::string k_region = hmac(k_date, scope.region);
    const std::string k_service = hmac(k_region, scope.service);
    return hmac(k_service, "aws4_request");
}

std::string signature(std::string_view signing_key_bytes, std::string_view string_to_sign_text) {
    return crypto::hex_encode(crypto::hmac_sha256(signing_key_bytes, string_to_sign_text));
}

Result<std::pair<std::string, CredentialScope>> parse_credential(std::string_view value) {
    // The scope is the last four '/'-separated parts; the access key is everything before them.
    const std::vector<std::string_view> parts = split(value, '/');
    if (parts.size() < 5) {
        return malformed("Credential must be <access key>/<yyyymmdd>/<region>/<service>/"
                         "aws4_request, got '" +
                         std::string(value) + "'");
    }
    const std::size_t n = parts.size();
    std::string access_key;
    for (std::size_t i = 0; i + 4 < n; ++i) {
        if (i > 0) {
            access_key.push_back('/');
        }
        access_key.append(parts[i]);
    }
    const std::string_view date = parts[n - 4];
    const std::string_view region = parts[n - 3];
    const std::string_view service = parts[n - 2];
    if (access_key.empty()) {
        return malformed("Credential has an empty access key id");
    }
    if (date.size() != 8 ||
        !std::all_of(date.begin(), date.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return malformed("Credential date '" + std::string(date) + "' is not yyyymmdd");
    }
    if (region.empty() || service.empty()) {
        return malformed("Credential scope has an empty region or service");
    }
    if (parts[n - 1] != "aws4_request") {
        return malformed("Credential scope must end in aws4_request, got '" +
                         std::string(parts[n - 1]) + "'");
    }
    return std::pair<std::string, CredentialScope>{
        std::move(access_key),
        CredentialScope{std::string(date), std::string(region), std::string(service)}};
}

Result<AuthorizationHeader> parse_authorization_header(std::string_view value) {
    value = trim(value);
    const std::size_t space = value.find_first_of(" \t");
    const std::string_view algorithm = value.substr(0, space);
    if (algorithm != kAlgorithm) {
        return malformed("unsupported algorithm '" + std::string(algorithm) + "' (expected " +
                         std::string(kAlgorithm) + ")");
    }
    if (space == std::string_view::npos) {
        return malformed("no Credential, SignedHeaders or Signature after the algorithm");
    }
    std::optional<std::string_view> credential;
    std::optional<std::string_view> signed_headers;
    std::optional<std::string_view> signature_text;
    // Components are separated by ',' with optional whitespace (botocore ", ", others ",").
    for (std::string_view component : split(value.substr(space + 1), ',')) {
        component = trim(component);
        if (component.empty()) {
            continue;
        }
        const std::size_t eq = component.find('=');
        if (eq == std::string_view::npos) {
            return malformed("component '" + std::string(component) + "' has no '='");
        }
        const std::string_view name = trim(component.substr(0, eq));
        const std::string_view item = trim(component.substr(eq + 1));
        std::optional<std::string_view>* slot = nullptr;
        if (name == "Credential") {
            slot = &credential;
        } else if (name == "SignedHeaders") {
            slot = &signed_headers;
        } else if (name == "Signature") {
            slot = &signature_text;
        } else {
            return malformed("unknown component '" + std::string(name) + "'");
        }
        if (slot->has_value()) {
            return malformed("component '" + std::string(name) + "' appears twice");
        }
        *slot = item;
    }
    if (!credential) {
        return malformed("missing Credential");
    }
    if (!signed_headers) {
        return malformed("missing SignedHeaders");
    }
    if (!signature_text) {
        return malformed("missing Signature");
    }
    auto parsed_credential = parse_credential(*credential);
    if (!parsed_credential) {
        return parsed_credential.error();
    }
    AuthorizationHeader header;
    header.access_key_id = std::move(parsed_credential->first);
    header.scope = std::move(parsed_credential->second);
    for (const std::string_view name : split(*signed_headers, ';')) {
        if (name.empty()) {
            return malformed("SignedHeaders '" + std::string(*signed_headers) +
                             "' has an empty header name");
        }
        header.signed_headers.push_back(ascii_lowercase(name));
    }
    if (signature_text->size() != 64 || !is_lower_hex(*signature_text)) {
        return malformed("Signature must be 64 lowercase hex characters");
    }
    header.signature = std::string(*signature_text);
    return header;
}

ChunkSignatureChain::ChunkSignatureChain(std::string signing_key_bytes, std::string amz_date,
                                         CredentialScope scope, std::string seed_signature)
    : key_(std::move(signing_key_bytes)), amz_date_(std::move(amz_date)), scope_(scope.to_string()),
      previous_(std::move(seed_signature)) {}

std::string ChunkSignatureChain::next_chunk_signature(std::string_view chunk_sha256_hex) {
    std::string text = "AWS4-HMAC-SHA256-PAYLOAD\n";
    text.append(amz_date_).append("\n");
    text.append(scope_).append("\n");
    text.append(previous_).append("\n");
    text.append(kEmptySha256).append("\n");
    text.append(chunk_sha256_hex);
    previous_ = signature(key_, text);
    return previous_;
}

std::string ChunkSignatureChain::trailer_signature(std::string_view trailer_lines) {
    std::string text = "AWS4-HMAC-SHA256-TRAILER\n";
    text.append(amz_date_).append("\n");
    text.append(scope_).append("\n");
    text.append(previous_).append("\n");
    text.append(crypto::sha256_hex(trailer_lines));
    previous_ = signature(key_, text);
    return previous_;
}

HeaderList sign_request(const SignRequest& request, const SigningCredentials& credentials) {
    const PreparedSigning p = prepare(request, credentials);
    const bool s3 = request.service == "s3";
    const std::string payload_hash =
        request.payload_hash.empty() ? std::string(kEmptySha256) : request.payload_hash;

    HeaderList added;
    added.emplace_back("x-amz-date", p.amz_date);
    if (s3) {
        added.emplace_back("x-amz-content-sha256", payload_hash);
    }
    if (!credentials.session_token.empty()) {
        added.emplace_back("x-amz-security-token", credentials.session_token);
    }

    // Headers the signer sets itself replace any the caller passed under the same name.
    HeaderList headers;
    for (const auto& [name, value] : request.headers) {
        const std::string lower = ascii_lowercase(name);
        const bool replaced = std::any_of(added.begin(), added.end(),
                                          [&](const auto& a) { return a.first == lower; });
        if (!replaced) {
            headers.emplace_back(lower, value);
        }
    }
    headers.insert(headers.end(), added.begin(), added.end());

    std::vector<std::string> signed_names;
    for (const auto& header : headers) {
        if (!unsignable(header.first)) {
            signed_names.push_back(header.first);
        }
    }
    std::sort(signed_names.begin(), signed_names.end());
    signed_names.erase(std::unique(signed_names.begin(), signed_names.end()), signed_names.end());

    CanonicalRequestInput input;
    input.method = request.method;
    input.path = request.path;
    input.s3_path_rules = s3;
    input.query = request.query;
    input.headers = std::move(headers);
    input.signed_headers = signed_names;
    input.payload_hash = payload_hash;
    const std::string sts = string_to_sign(p.amz_date, p.scope, canonical_request(input));

    std::string authorization(kAlgorithm);
    authorization.append(" Credential=").append(credentials.access_key_id).append("/");
    authorization.append(p.scope.to_string());
    authorization.append(", SignedHeaders=").append(join(signed_names, ';'));
    authorization.append(", Signature=").append(signature(p.key, sts));
    added.emplace_back("authorization", std::move(authorization));
    return added;
}

QueryParams presign_query(const SignRequest& request, const SigningCredentials& credentials,
                          std::chrono::seconds expires) {
    const PreparedSigning p = prepare(request, credentials);
    QueryParams query = request.query;
    query.emplace_back("X-Amz-Algorithm", std::string(kAlgorithm));
    query.emplace_back("X-Amz-Credential", credentials.access_key_id + "/" + p.scope.to_string());
    query.emplace_back("X-Amz-Date", p.amz_date);
    query.emplace_back("X-Amz-Expires", std::to_string(expires.count()));
    query.emplace_back("X-Amz-SignedHeaders", "host");
    if (!credentials.session_token.empty()) {
        query.emplace_back("X-Amz-Security-Token", credentials.session_token);
    }

    CanonicalRequestInput input;
    input.method = request.method;
    input.path = request.path;
    input.s3_path_rules = request.service == "s3";
    input.query = query;
    input.headers = request.headers;
    input.signed_headers = {"host"};
    input.payload_hash = request.service == "s3"        ? std::string(kUnsignedPayload)
                         : request.payload_hash.empty() ? std::string(kEmptySha256)
                                                        : request.payload_hash;
    const std::string sts = string_to_sign(p.amz_date, p.scope, canonical_request(input));
    query.emplace_back("X-Amz-Signature", signature(p.key, sts));
    return query;
}

std::string post_policy_signature(std::string_view secret_access_key, const CredentialScope& scope,
                                  std::string_view policy_base64) {
    return signature(signing_key(secret_access_key, scope), policy_base64);
}

} // namespace pf::aws
