#include "notify/sns_error.h"

#include "notify/sns_xml.h"

#include <array>

namespace pf::notify {
namespace {

struct Row {
    SnsErrorCode code;
    SnsErrorInfo info;
};

// The one table: code -> wire code, HTTP status, fault type.
constexpr std::array kTable = {
    Row{SnsErrorCode::InvalidParameter, {"InvalidParameter", 400, true}},
    Row{SnsErrorCode::ParameterValueInvalid, {"ParameterValueInvalid", 400, true}},
    Row{SnsErrorCode::InvalidAction, {"InvalidAction", 400, true}},
    Row{SnsErrorCode::NotFound, {"NotFound", 404, true}},
    Row{SnsErrorCode::AuthorizationError, {"AuthorizationError", 403, true}},
    Row{SnsErrorCode::MissingAuthenticationToken, {"MissingAuthenticationToken", 403, true}},
    Row{SnsErrorCode::IncompleteSignature, {"IncompleteSignature", 400, true}},
    Row{SnsErrorCode::InvalidClientTokenId, {"InvalidClientTokenId", 403, true}},
    Row{SnsErrorCode::SignatureDoesNotMatch, {"SignatureDoesNotMatch", 403, true}},
    Row{SnsErrorCode::RequestEntityTooLarge, {"RequestEntityTooLarge", 413, true}},
    Row{SnsErrorCode::EmptyBatchRequest, {"EmptyBatchRequest", 400, true}},
    Row{SnsErrorCode::TooManyEntriesInBatchRequest, {"TooManyEntriesInBatchRequest", 400, true}},
    Row{SnsErrorCode::BatchEntryIdsNotDistinct, {"BatchEntryIdsNotDistinct", 400, true}},
    Row{SnsErrorCode::InvalidBatchEntryId, {"InvalidBatchEntryId", 400, true}},
    Row{SnsErrorCode::BatchRequestTooLong, {"BatchRequestTooLong", 400, true}},
    Row{SnsErrorCode::Throttled, {"Throttled", 429, true}},
    Row{SnsErrorCode::InternalError, {"InternalError", 500, false}},
};

}  // namespace

const SnsErrorInfo& sns_error_info(SnsErrorCode code) {
    for (const auto& row : kTable) {
        if (row.code == code) {
            return row.info;
        }
    }
    return kTable.back().info;
}

SnsError invalid_parameter(std::string_view what, std::string_view reason) {
    std::string message = "Invalid parameter: ";
    message.append(what);
    if (!reason.empty()) {
        message.append(" Reason: ");
        message.append(reason);
    }
    return SnsError{SnsErrorCode::InvalidParameter, std::move(message)};
}

SnsError from_error(const Error& error) {
    switch (error.code) {
    case ErrorCode::NotFound:
        return SnsError{SnsErrorCode::NotFound, error.client_message()};
    case ErrorCode::InvalidArgument:
        return SnsError{SnsErrorCode::InvalidParameter, error.client_message()};
    case ErrorCode::LimitExceeded:
        return SnsError{SnsErrorCode::Throttled, error.client_message()};
    default:
        return SnsError{SnsErrorCode::InternalError,
                        "The server encountered an internal error; please try again."};
    }
}

std::string error_response_xml(const SnsError& error, std::string_view request_id) {
    const SnsErrorInfo& info = sns_error_info(error.code);
    SnsXml xml;
    xml.open("ErrorResponse", kSnsNamespace);
    xml.open("Error");
    xml.element("Type", info.sender ? "Sender" : "Receiver");
    xml.element("Code", info.code);
    xml.element("Message", error.message);
    xml.close();
    xml.element("RequestId", request_id);
    return xml.take();
}

}  // namespace pf::notify
