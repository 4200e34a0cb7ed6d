// The imaging engine's one entry point: a photo and a recipe in, the encoded derivatives and the
// manifest out. Thread-safe: one Processor serves every worker thread of a process; each call
// works on its own images. Nothing throws out of here: libvips' exceptions become Errors.
#pragma once

#include "base/clock.h"
#include "base/result.h"
#include "config/imaging_config.h"
#include "imaging/manifest.h"
#include "imaging/photo_source.h"
#include "imaging/recipe.h"

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pf::imaging {

struct Derivative {
    std::string name;       // the recipe output's name
    std::string file;       // name.extension
    Format format = Format::Jpeg;
    int width = 0, height = 0;
    std::string bytes;
    double millis = 0;
};

struct ProcessResult {
    std::vector<Derivative> derivatives;  // in recipe order
    Manifest manifest;
};

class Processor {
public:
    // start_vips() must have been called (app/ does it once per process).
    explicit Processor(config::ImagingConfig config);

    // Runs every output of the recipe. The budget is the earlier of `deadline` and the
    // configured per-photo time budget. Any failing output fails the photo: a partial set of
    // derivatives is never returned.
    Result<ProcessResult> run(const PhotoSource& source, const Recipe& recipe,
                              Deadline deadline = Deadline::never()) const;

    // Problems the recipe would hit on this installation (e.g. jxl without a JPEG XL encoder),
    // so a command can refuse a recipe before touching any photo.
    Result<void> check_supported(const Recipe& recipe) const;

private:
    Result<ProcessResult> run_once(const PhotoSource& source, const Recipe& recipe,
                                   Deadline deadline) const;
    Result<std::shared_ptr<const std::string>> watermark_bytes(const std::string& path) const;

    config::ImagingConfig config_;
    mutable std::mutex watermark_mutex_;
    mutable std::map<std::string, std::shared_ptr<const std::string>> watermarks_;
    // libvips 8.14 keeps one error buffer per process: with photos in parallel, a failure's
    // text can carry another photo's lines. A photo that fails inside libvips is therefore run
    // once more alone (no other photo in libvips meanwhile) to get its own reason. Failures are
    // rare, so the cost is small.
    class ExclusiveGate {
    public:
        void enter_shared();
        void leave_shared();
        void enter_exclusive();
        void leave_exclusive();

    private:
        std::mutex mutex_;
        std::condition_variable changed_;
        int active_ = 0;
        int exclusive_waiting_ = 0;
        bool exclusive_ = false;
    };
    mutable ExclusiveGate gate_;
};

}  // namespace pf::imaging
