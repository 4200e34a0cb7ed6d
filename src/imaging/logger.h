#pragma once

#include "base/logging.h"

namespace pf::imaging {

// The imaging component's logger; libvips warnings arrive here too (vips_runtime.cc).
inline spdlog::logger& log() {
    static auto logger = component_logger("imaging");
    return *logger;
}

}  // namespace pf::imaging
