#include "console/presigner.h"

#include "aws/uri_encoding.h"

#include <charconv>
#include <set>

namespace pf::console {
namespace {

bool valid_bucket(const std::string& bucket) {
    if (bucket.size() < 3 || bucket.size() > 63) {
        return false;
    }
    for (char c : bucket) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
            return false;
        }
    }
    return true;
}

bool valid_part_number(const std::string& text) {
    int part = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), part);
    return ec == std::errc() && end == text.data() + text.size() && part >= 1 && part <= 10000;
}

}  // namespace

Result<std::string> allowed_operation(const PresignInput& input) {
    if (!valid_bucket(input.bucket)) {
        return make_error(ErrorCode::InvalidArgument,
                          "bucket must be 3-63 characters of a-z, 0-9, '.' and '-'");
    }
    if (input.key.empty() || input.key.size() > 1024) {
        return make_error(ErrorCode::InvalidArgument, "key must be 1 to 1024 bytes");
    }
    if (input.key.find('\0') != std::string::npos) {
        return make_error(ErrorCode::InvalidArgument, "key must not contain NUL");
    }
    std::set<std::string> names;
    for (const auto& [name, value] : input.query) {
        names.insert(name);
    }
    auto has_only = [&](std::set<std::string> expected) { return names == expected; };
    const std::string& m = input.method;
    std::string operation;
    if (names.empty()) {
        if (m == "PUT") operation = "PutObject";
        else if (m == "GET") operation = "GetObject";
        else if (m == "HEAD") operation = "HeadObject";
        else if (m == "DELETE") operation = "DeleteObject";
    } else if (m == "POST" && has_only({"uploads"})) {
        if (!input.query.at("uploads").empty()) {
            return make_error(ErrorCode::InvalidArgument, "uploads takes no value");
        }
        operation = "CreateMultipartUpload";
    } else if (m == "PUT" && has_only({"partNumber", "uploadId"})) {
        if (!valid_part_number(input.query.at("partNumber"))) {
            return make_error(ErrorCode::InvalidArgument,
                              "partNumber must be an integer from 1 to 10000");
        }
        operation = "UploadPart";
    } else if (m == "POST" && has_only({"uploadId"})) {
        operation = "CompleteMultipartUpload";
    } else if (m == "DELETE" && has_only({"uploadId"})) {
        operation = "AbortMultipartUpload";
    }
    if (operation.empty()) {
        return make_error(ErrorCode::InvalidArgument,
                          "the console presigns only object PUT/GET/HEAD/DELETE and the "
                          "multipart upload steps; not " + m + " with these query parameters");
    }
    if (auto it = input.query.find("uploadId"); it != input.query.end()) {
        if (it->second.empty() || it->second.size() > 256) {
            return make_error(ErrorCode::InvalidArgument, "uploadId must be 1 to 256 characters");
        }
    }
    return operation;
}

Result<PresignedUrl> presign(const PresignInput& input, const aws::SigningCredentials& credentials,
                             const std::string& region, std::chrono::system_clock::time_point now) {
    auto operation = allowed_operation(input);
    if (!operation) {
        return operation.error();
    }
    if (input.host.empty() || input.host.size() > 255) {
        return make_error(ErrorCode::InvalidArgument, "the request has no usable Host header");
    }
    if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
        return make_error(ErrorCode::Unavailable, "no credentials to sign with");
    }
    aws::SignRequest request;
    request.method = input.method;
    request.path = "/" + input.bucket + "/" + input.key;
    for (const auto& [name, value] : input.query) {
        request.query.emplace_back(name, value);
    }
    request.headers = {{"host", input.host}};
    request.region = region;
    request.service = "s3";
    request.now = now;
    aws::QueryParams signed_query = aws::presign_query(request, credentials, kPresignLifetime);

    PresignedUrl out;
    out.url = "/" + aws::uri_encode(input.bucket, false) + "/" + aws::uri_encode(input.key, true);
    char separator = '?';
    for (const auto& [name, value] : signed_query) {
        out.url += separator;
        out.url += aws::uri_encode(name, false);
        out.url += '=';
        out.url += aws::uri_encode(value, false);
        separator = '&';
    }
    out.expires_at = now + kPresignLifetime;
    return out;
}

}  // namespace pf::console
