// Settings of the imaging engine: limits that protect the process from hostile or huge photos,
// and how many libvips threads each photo may use. Declared here (below imaging/) so that the
// config loader can fill it and imaging/ can read it.
#pragma once

#include <chrono>
#include <cstdint>

namespace pf::config {

// How strict decoders are about damaged files (libvips' fail-on levels, from lax to strict).
enum class FailOn { None, Truncated, Error, Warning };

struct ImagingLimits {
    std::uint64_t max_input_bytes = 100ull << 20;      // a source file's size
    std::uint64_t max_pixels = 100'000'000;            // width × height, checked from the header
    int max_frames = 256;                              // pages/frames an input may declare
    int max_output_dimension = 16383;                  // widest or tallest derivative
    std::chrono::milliseconds time_budget{30'000};     // per photo, all outputs included
    FailOn fail_on = FailOn::Error;
};

struct ImagingConfig {
    ImagingLimits limits;
    int concurrency = 0;  // libvips threads per photo; 0 = decided by the command (cores / jobs)
};

const char* to_string(FailOn level);

}  // namespace pf::config
