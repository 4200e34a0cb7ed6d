#include "s3api/s3_error.h"

#include "s3api/xml_writer.h"

#include <array>

namespace pf::s3api {
namespace {

struct ErrorKind {
    std::string_view code;
    int status;
    std::string_view message;
};

constexpr std::array kErrors = {
    ErrorKind{"AccessDenied", 403, "Access Denied"},
    ErrorKind{"SignatureDoesNotMatch", 403,
              "The request signature we calculated does not match the signature you provided. "
              "Check your key and signing method."},
    ErrorKind{"InvalidAccessKeyId", 403,
              "The AWS Access Key Id you provided does not exist in our records."},
    ErrorKind{"RequestTimeTooSkewed", 403,
              "The difference between the request time and the current time is too large."},
    ErrorKind{"AuthorizationHeaderMalformed", 400, "The authorization header is malformed."},
    ErrorKind{"AuthorizationQueryParametersError", 400,
              "Error parsing the X-Amz-Credential parameter."},
    ErrorKind{"InvalidRequest", 400, "Invalid Request"},
    ErrorKind{"InvalidArgument", 400, "Invalid Argument"},
    ErrorKind{"XAmzContentSHA256Mismatch", 400,
              "The provided 'x-amz-content-sha256' header does not match what was computed."},
    ErrorKind{"BadDigest", 400, "The Content-MD5 you specified did not match what we received."},
    ErrorKind{"InvalidDigest", 400, "The Content-MD5 you specified is not valid."},
    ErrorKind{"IncompleteBody", 400,
              "You did not provide the number of bytes specified by the Content-Length HTTP "
              "header."},
    ErrorKind{"MissingContentLength", 411, "You must provide the Content-Length HTTP header."},
    ErrorKind{"EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size."},
    ErrorKind{"EntityTooSmall", 400,
              "Your proposed upload is smaller than the minimum allowed object size."},
    ErrorKind{"InvalidPart", 400,
              "One or more of the specified parts could not be found. The part may not have been "
              "uploaded, or the specified entity tag may not match the part's entity tag."},
    ErrorKind{"InvalidPartOrder", 400,
              "The list of parts was not in ascending order. The parts list must be specified in "
              "order by part number."},
    ErrorKind{"MalformedXML", 400,
              "The XML you provided was not well-formed or did not validate against our published "
              "schema."},
    ErrorKind{"InvalidPolicyDocument", 400, "The content of the form does not meet the conditions specified in the policy document."},
    ErrorKind{"MalformedPOSTRequest", 400, "The body of your POST request is not well-formed multipart/form-data."},
    ErrorKind{"MaxMessageLengthExceeded", 400, "Your request was too big."},
    ErrorKind{"InvalidBucketName", 400, "The specified bucket is not valid."},
    ErrorKind{"KeyTooLongError", 400, "Your key is too long."},
    ErrorKind{"InvalidURI", 400, "Couldn't parse the specified URI."},
    ErrorKind{"MetadataTooLarge", 400,
              "Your metadata headers exceed the maximum allowed metadata size."},
    ErrorKind{"InvalidPartNumber", 416, "The requested partnumber is not satisfiable"},
    ErrorKind{"InvalidRange", 416, "The requested range is not satisfiable"},
    ErrorKind{"NoSuchBucket", 404, "The specified bucket does not exist"},
    ErrorKind{"NoSuchKey", 404, "The specified key does not exist."},
    ErrorKind{"NoSuchUpload", 404,
              "The specified multipart upload does not exist. The upload ID may be invalid, or "
              "the upload may have been aborted or completed."},
    ErrorKind{"NoSuchVersion", 404,
              "The specified version does not exist."},
    ErrorKind{"NoSuchCORSConfiguration", 404, "The CORS configuration does not exist"},
    ErrorKind{"MethodNotAllowed", 405, "The specified method is not allowed against this resource."},
    ErrorKind{"BucketAlreadyExists", 409,
              "The requested bucket name is not available. The bucket namespace is shared by all "
              "users of the system. Please select a different name and try again."},
    ErrorKind{"BucketAlreadyOwnedByYou", 409,
              "Your previous request to create the named bucket succeeded and you already own "
              "it."},
    ErrorKind{"BucketNotEmpty", 409, "The bucket you tried to delete is not empty"},
    ErrorKind{"PreconditionFailed", 412,
              "At least one of the pre-conditions you specified did not hold"},
    ErrorKind{"NotModified", 304, "Not Modified"},
    ErrorKind{"CORSResponse", 403, "CORS Response: This CORS request is not allowed."},
    ErrorKind{"InternalError", 500,
              "We encountered an internal error. Please try again."},
    ErrorKind{"NotImplemented", 501,
              "A header you provided implies functionality that is not implemented"},
    ErrorKind{"ServiceUnavailable", 503, "Please reduce your request rate."},
    ErrorKind{"SlowDown", 503, "Please reduce your request rate."},
    ErrorKind{"RequestTimeout", 400,
              "Your socket connection to the server was not read from or written to within the "
              "timeout period."},
};

}  // namespace

S3Error s3_error(std::string_view code, std::string message) {
    for (const auto& kind : kErrors) {
        if (kind.code == code) {
            return S3Error{kind.status, std::string(kind.code),
                           message.empty() ? std::string(kind.message) : std::move(message),
                           {}};
        }
    }
    return S3Error{500, "InternalError", "unknown error code " + std::string(code), {}};
}

S3Error s3_error_from(const Error& error, std::string_view not_found_code) {
    switch (error.code) {
    case ErrorCode::NotFound: return s3_error(not_found_code);
    case ErrorCode::AlreadyExists: return s3_error("BucketAlreadyOwnedByYou");
    case ErrorCode::InvalidArgument: return s3_error("InvalidArgument", error.client_message());
    case ErrorCode::PreconditionFailed: return s3_error("PreconditionFailed");
    case ErrorCode::TooLarge: return s3_error("EntityTooLarge");
    case ErrorCode::LimitExceeded: return s3_error("EntityTooSmall");
    case ErrorCode::Unauthenticated: return s3_error("SignatureDoesNotMatch");
    case ErrorCode::Forbidden: return s3_error("AccessDenied", error.client_message());
    case ErrorCode::CorruptInput: return s3_error("IncompleteBody", error.client_message());
    case ErrorCode::Timeout: return s3_error("RequestTimeout");
    case ErrorCode::Unavailable:
        // A full disk or a store that stopped accepting writes: clients retry a 503 later.
        return s3_error("ServiceUnavailable", error.client_message());
    case ErrorCode::UnsupportedFormat: return s3_error("NotImplemented", error.client_message());
    case ErrorCode::Internal:
    default: break;
    }
    return s3_error("InternalError");
}

std::string error_document(const S3Error& error, std::string_view resource,
                           std::string_view request_id, std::string_view host_id) {
    XmlWriter xml;
    xml.open("Error");
    xml.element("Code", error.code);
    xml.element("Message", error.message);
    for (const auto& [name, value] : error.details) {
        xml.element(name, value);
    }
    if (!resource.empty()) {
        xml.element("Resource", resource);
    }
    xml.element("RequestId", request_id);
    xml.element("HostId", host_id);
    xml.close();
    return xml.take();
}

}  // namespace pf::s3api
