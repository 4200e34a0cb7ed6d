// Result<T>: a value or an Error, across every component boundary.
//
// Member names follow std::expected (has_value, value, error) so that moving to C++23 later is
// mechanical. An Error's code tells the caller what to do (retry, give up, report not-found);
// the message is for logs, the public message is what a client may see.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace pf {

enum class ErrorCode {
    NotFound,
    AlreadyExists,
    InvalidArgument,
    PreconditionFailed,
    TooLarge,
    LimitExceeded,
    Unauthenticated,
    Forbidden,
    UnsupportedFormat,
    CorruptInput,
    Timeout,
    Unavailable,
    Internal,
};

std::string_view to_string(ErrorCode code);

struct Error {
    ErrorCode code = ErrorCode::Internal;
    std::string message;         // for logs: may name files, libvips text, limits
    std::string public_message;  // for clients; empty means "use message"

    // Whether the same request may succeed if tried again later.
    bool retryable() const {
        return code == ErrorCode::Timeout || code == ErrorCode::Unavailable ||
               code == ErrorCode::Internal;
    }
    const std::string& client_message() const {
        return public_message.empty() ? message : public_message;
    }
};

inline Error make_error(ErrorCode code, std::string message, std::string public_message = {}) {
    return Error{code, std::move(message), std::move(public_message)};
}

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

    bool has_value() const { return state_.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() & { return checked_value(); }
    const T& value() const& { return checked_value(); }
    T&& value() && { return std::move(checked_value()); }
    T* operator->() { return &checked_value(); }
    const T* operator->() const { return &checked_value(); }
    T& operator*() & { return checked_value(); }
    const T& operator*() const& { return checked_value(); }

    const Error& error() const {
        if (has_value()) {
            std::abort();  // programming error: asking a success for its error
        }
        return std::get<1>(state_);
    }

private:
    T& checked_value() {
        if (!has_value()) {
            std::abort();  // programming error: using a failed result's value
        }
        return std::get<0>(state_);
    }
    const T& checked_value() const {
        if (!has_value()) {
            std::abort();
        }
        return std::get<0>(state_);
    }

    std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), failed_(true) {}

    bool has_value() const { return !failed_; }
    explicit operator bool() const { return has_value(); }
    const Error& error() const {
        if (!failed_) {
            std::abort();
        }
        return error_;
    }

private:
    Error error_;
    bool failed_ = false;
};

}  // namespace pf
