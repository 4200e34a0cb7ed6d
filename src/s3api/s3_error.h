// S3 errors as the wire carries them: a code ("NoSuchKey"), an HTTP status, a message and optional
// extra elements (Key, BucketName, StringToSign, ...). One table in s3_error.cc holds every code
// the API uses with its status and default message, so an error's status can never drift from
// its code.
#pragma once

#include "base/result.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::s3api {

struct S3Error {
    int status = 500;
    std::string code = "InternalError";
    std::string message;
    std::vector<std::pair<std::string, std::string>> details;

    S3Error& with(std::string name, std::string value) {
        details.emplace_back(std::move(name), std::move(value));
        return *this;
    }
};

// The code's status and (unless given) its default message. Unknown codes are a programming
// error and become InternalError.
S3Error s3_error(std::string_view code, std::string message = {});

// Maps an error from a lower layer (store, body decoding) to S3's code for it. `not_found_code`
// names what NotFound means in this operation (NoSuchKey, NoSuchBucket, NoSuchUpload).
S3Error s3_error_from(const Error& error, std::string_view not_found_code = "NoSuchKey");

// The <Error> document (no namespace, as S3 sends it).
std::string error_document(const S3Error& error, std::string_view resource,
                           std::string_view request_id, std::string_view host_id);

}  // namespace pf::s3api
