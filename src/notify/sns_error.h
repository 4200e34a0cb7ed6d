// The SNS API's errors: one table from code to HTTP status and fault type, and the ErrorResponse
// document. Every error the SNS edge returns goes through here.
#pragma once

#include "base/result.h"

#include <string>
#include <string_view>

namespace pf::notify {

enum class SnsErrorCode {
    InvalidParameter,              // 400 Sender
    ParameterValueInvalid,         // 400 Sender
    InvalidAction,                 // 400 Sender: unknown or missing Action
    NotFound,                      // 404 Sender
    AuthorizationError,            // 403 Sender
    MissingAuthenticationToken,    // 403 Sender: no Authorization header
    IncompleteSignature,           // 400 Sender: malformed Authorization / missing date
    InvalidClientTokenId,          // 403 Sender: unknown access key
    SignatureDoesNotMatch,         // 403 Sender: bad signature, wrong scope, clock skew
    RequestEntityTooLarge,         // 413 Sender: body over the limit
    EmptyBatchRequest,             // 400 Sender
    TooManyEntriesInBatchRequest,  // 400 Sender
    BatchEntryIdsNotDistinct,      // 400 Sender
    InvalidBatchEntryId,           // 400 Sender
    BatchRequestTooLong,           // 400 Sender
    Throttled,                     // 429 Sender
    InternalError,                 // 500 Receiver
};

struct SnsErrorInfo {
    std::string_view code;  // the <Code> text
    int status;
    bool sender;  // <Type>Sender</Type> or Receiver
};

const SnsErrorInfo& sns_error_info(SnsErrorCode code);

struct SnsError {
    SnsErrorCode code = SnsErrorCode::InternalError;
    std::string message;
};

inline SnsError sns_error(SnsErrorCode code, std::string message) {
    return SnsError{code, std::move(message)};
}
// "Invalid parameter: <what>" (SNS's own wording), with " Reason: <reason>" when given.
SnsError invalid_parameter(std::string_view what, std::string_view reason = {});

// Maps a store (or sink) Error to the SNS error a client sees: NotFound -> NotFound,
// InvalidArgument -> InvalidParameter, anything else -> InternalError with a generic message
// (the detail is for the log).
SnsError from_error(const Error& error);

// <ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type/><Code/>
// <Message/></Error><RequestId/></ErrorResponse>
std::string error_response_xml(const SnsError& error, std::string_view request_id);

}  // namespace pf::notify
