// Presigned S3 URLs for the browser's uploads and downloads. Only the operations the console needs
// are signed (an allow-list on method + query parameters); anything else is InvalidArgument, so a
// signed-in page can never obtain a URL for, say, a bucket policy change. URLs are signed for the
// Host the browser used (the S3 API is on the same origin) and last 15 minutes.
#pragma once

#include "aws/sigv4.h"
#include "base/result.h"

#include <chrono>
#include <map>
#include <string>

namespace pf::console {

inline constexpr std::chrono::seconds kPresignLifetime{15 * 60};

struct PresignInput {
    std::string method;  // PUT | POST | GET | HEAD | DELETE
    std::string bucket;
    std::string key;
    std::map<std::string, std::string> query;  // uploads, partNumber, uploadId
    std::string host;                          // the request's Host header
};

struct PresignedUrl {
    std::string url;  // origin-relative: "/bucket/key?X-Amz-..." (same origin as the console)
    std::chrono::system_clock::time_point expires_at;
};

// The S3 operation an input names, or InvalidArgument saying why it is not allowed.
Result<std::string> allowed_operation(const PresignInput& input);

Result<PresignedUrl> presign(const PresignInput& input, const aws::SigningCredentials& credentials,
                             const std::string& region, std::chrono::system_clock::time_point now);

}  // namespace pf::console
