// Comparison whose running time does not depend on where two secrets first differ (signatures,
// tokens). Lengths are not secret.
#pragma once

#include <string_view>

namespace pf::crypto {

bool constant_time_equal(std::string_view a, std::string_view b);

} // namespace pf::crypto
