// Turns libvips' exceptions (vips8 throws VError) into Errors at the imaging edge. The client
// sees a short public message; the log keeps libvips' own text.
#pragma once

#include "base/result.h"

#include <vips/vips8>

#include <string>

namespace pf::imaging {

// `what` names the photo (a file name or an S3 key) for the internal message.
Error classify_vips_error(const vips::VError& e, const std::string& what);

}  // namespace pf::imaging
