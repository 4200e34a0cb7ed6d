// The S3 operation a request asks for ("PutObject", "ListObjectsV2", ...), named as in the S3 API
// reference, for metrics and logs. It mirrors S3Service::dispatch's routing but never fails:
// anything unrecognised is "Other". Cheap: no authentication, no body.
#pragma once

#include "s3api/s3_request.h"

#include <string_view>

namespace pf::s3api {

std::string_view operation_name(const S3Request& request);

}  // namespace pf::s3api
