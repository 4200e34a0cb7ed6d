#pragma once

#include "base/logging.h"

namespace pf::storage {

// The storage component's logger (recovery, latching, failed unlinks).
inline spdlog::logger& log() {
    static auto logger = component_logger("storage");
    return *logger;
}

}  // namespace pf::storage
