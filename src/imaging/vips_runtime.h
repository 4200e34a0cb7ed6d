// The one place that decides how libvips runs in this process: initialised once, operation cache
// off (a server sees every photo once; the cache only grows RSS), untrusted loaders blocked, a
// thread count per photo, and libvips' warnings routed to the imaging logger.
#pragma once

#include "base/result.h"

#include <string>

namespace pf::imaging {

struct VipsSettings {
    int threads_per_photo = 1;  // libvips worker threads used while computing one image
};

// Safe to call more than once; the first call initialises libvips, later calls only update the
// thread count. Fails if libvips cannot start (a broken installation).
Result<void> start_vips(const VipsSettings& settings);

// Whether the installed libvips can encode/decode a format (e.g. "jxlsave", "heifload").
bool vips_has_operation(const std::string& nickname);

// libvips' version string, for the manifest and `photoflux version`.
std::string libvips_version();

}  // namespace pf::imaging
