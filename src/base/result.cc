#include "base/result.h"

namespace pf {

std::string_view to_string(ErrorCode code) {
    switch (code) {
    case ErrorCode::NotFound: return "NotFound";
    case ErrorCode::AlreadyExists: return "AlreadyExists";
    case ErrorCode::InvalidArgument: return "InvalidArgument";
    case ErrorCode::PreconditionFailed: return "PreconditionFailed";
    case ErrorCode::TooLarge: return "TooLarge";
    case ErrorCode::LimitExceeded: return "LimitExceeded";
    case ErrorCode::Unauthenticated: return "Unauthenticated";
    case ErrorCode::Forbidden: return "Forbidden";
    case ErrorCode::UnsupportedFormat: return "UnsupportedFormat";
    case ErrorCode::CorruptInput: return "CorruptInput";
    case ErrorCode::Timeout: return "Timeout";
    case ErrorCode::Unavailable: return "Unavailable";
    case ErrorCode::Internal: return "Internal";
    }
    return "Internal";
}

}  // namespace pf
