#include "imaging/processor.h"

#include "base/file_io.h"
#include "imaging/analysis/icc_profile.h"
#include "imaging/decode.h"
#include "imaging/decode_plan.h"
#include "imaging/eval_deadline.h"
#include "imaging/photo_analysis.h"
#include "imaging/logger.h"
#include "imaging/output_steps.h"
#include "imaging/vips_errors.h"
#include "imaging/vips_runtime.h"

#include <vips/vips8>

#include <algorithm>
#include <array>
#include <cmath>

namespace pf::imaging {
namespace {

// The order of the steps for one output, written once. (Load, limits, auto-orient and the
// conversion to sRGB happen before, once per photo, in decode.cc: the decoded photo is shared by
// every output. Colour is converted before the per-output work, not after, because watermark
// colours, alpha compositing and the effects all assume sRGB.)
struct NamedStep {
    const char* name;
    vips::VImage (*apply)(vips::VImage, const OutputContext&);
};
constexpr std::array<NamedStep, 7> kOutputSteps = {{
    {"rotate", apply_rotation},
    {"crop", apply_crop},
    {"resize", apply_resize},
    {"effects", apply_effects},
    {"watermark", apply_watermarks},
    {"background", apply_background},
    {"metadata", apply_metadata_policy},
}};

Error timeout_error(const std::string& name, std::chrono::milliseconds budget) {
    return make_error(ErrorCode::Timeout,
                      name + ": processing took longer than the budget of " +
                          std::to_string(budget.count()) + " ms",
                      "Processing the photo took too long");
}

struct PlannedOutput {
    const Output* output;
    Size region_full;
    ResizePlan plan;
};

// One output from a shared decoded copy: the steps in order, then the encoder. Throws VError.
// A deadline that passes becomes a Timeout error.
Result<Derivative> make_output(const vips::VImage& shared, const PlannedOutput& p, Size upright,
                               const WatermarkBytes& lookup, const Deadline& deadline) {
    const auto started = SteadyClock::now();
    OutputContext ctx{*p.output, upright, p.region_full, p.plan, lookup};
    vips::VImage image = shared;
    for (const NamedStep& step : kOutputSteps) {
        if (deadline.expired()) {
            return make_error(ErrorCode::Timeout, "deadline passed before " + std::string(step.name));
        }
        image = step.apply(image, ctx);
    }
    std::string bytes;
    {
        EvalDeadline guard(image, deadline);
        try {
            const MetadataPolicy policy = p.output->metadata;
            bytes = encode(image, p.output->encoding, policy == MetadataPolicy::Strip);
            if (p.output->encoding.format == Format::Webp) {
                bytes = remove_webp_chunks(
                    bytes, policy == MetadataPolicy::Strip,
                    policy == MetadataPolicy::Strip || policy == MetadataPolicy::KeepIcc,
                    policy != MetadataPolicy::KeepAll);
            }
        } catch (const vips::VError&) {
            if (guard.fired()) {
                vips_error_clear();
                return make_error(ErrorCode::Timeout, "deadline passed while encoding");
            }
            throw;
        }
    }
    Derivative d;
    d.name = p.output->name;
    d.format = p.output->encoding.format;
    d.file = d.name + "." + file_extension(d.format);
    d.width = image.width();
    d.height = image.height();
    d.bytes = std::move(bytes);
    d.millis = millis_since(started);
    return d;
}

}  // namespace

Processor::Processor(config::ImagingConfig config) : config_(std::move(config)) {}

Result<std::shared_ptr<const std::string>> Processor::watermark_bytes(const std::string& path) const {
    std::lock_guard lock(watermark_mutex_);
    if (auto it = watermarks_.find(path); it != watermarks_.end()) {
        return it->second;
    }
    auto bytes = read_file(path, 16u << 20);
    if (!bytes) {
        return make_error(ErrorCode::InvalidArgument,
                          "watermark image: " + bytes.error().message);
    }
    auto shared = std::make_shared<const std::string>(std::move(*bytes));
    watermarks_.emplace(path, shared);
    return shared;
}

Result<void> Processor::check_supported(const Recipe& recipe) const {
    std::string problems;
    for (const Output& o : recipe.outputs()) {
        if (o.encoding.format == Format::Jxl && !vips_has_operation("jxlsave_buffer")) {
            problems += "\n" + o.name + ": this libvips cannot encode JPEG XL";
        }
        if (o.encoding.format == Format::Avif && !vips_has_operation("heifsave_buffer")) {
            problems += "\n" + o.name + ": this libvips cannot encode AVIF";
        }
        for (const Watermark& w : o.watermarks) {
            if (w.image) {
                auto bytes = watermark_bytes(w.image->file);
                if (!bytes) {
                    problems += "\n" + o.name + ": " + bytes.error().message;
                }
            }
        }
    }
    if (!problems.empty()) {
        return make_error(ErrorCode::UnsupportedFormat, "recipe cannot run here:" + problems);
    }
    return {};
}

void Processor::ExclusiveGate::enter_shared() {
    std::unique_lock lock(mutex_);
    // Writer preference: once a re-run waits, new photos wait for it.
    changed_.wait(lock, [&] { return !exclusive_ && exclusive_waiting_ == 0; });
    ++active_;
}

void Processor::ExclusiveGate::leave_shared() {
    std::lock_guard lock(mutex_);
    --active_;
    changed_.notify_all();
}

void Processor::ExclusiveGate::enter_exclusive() {
    std::unique_lock lock(mutex_);
    ++exclusive_waiting_;
    changed_.wait(lock, [&] { return !exclusive_ && active_ == 0; });
    --exclusive_waiting_;
    exclusive_ = true;
}

void Processor::ExclusiveGate::leave_exclusive() {
    std::lock_guard lock(mutex_);
    exclusive_ = false;
    changed_.notify_all();
}

Result<ProcessResult> Processor::run(const PhotoSource& source, const Recipe& recipe,
                                     Deadline deadline) const {
    gate_.enter_shared();
    auto result = run_once(source, recipe, deadline);
    gate_.leave_shared();
    if (result) {
        return result;
    }
    // Only failures whose reason is libvips' text need a clean re-run; our own checks (limits,
    // timeouts, crops) already carry their exact reason.
    const ErrorCode code = result.error().code;
    if (code != ErrorCode::CorruptInput && code != ErrorCode::UnsupportedFormat &&
        code != ErrorCode::Internal) {
        return result;
    }
    gate_.enter_exclusive();
    vips_error_clear();
    auto alone = run_once(source, recipe, deadline);
    gate_.leave_exclusive();
    return alone;
}

Result<ProcessResult> Processor::run_once(const PhotoSource& source, const Recipe& recipe,
                                          Deadline deadline) const {
    const auto started = SteadyClock::now();
    const auto& limits = config_.limits;
    deadline = deadline.earliest(Deadline::after(limits.time_budget));
    const std::string& name = source.name();

    // 1. Recognise, read the header, enforce limits. No pixel is decoded yet.
    auto opened = open_photo(source, limits);
    if (!opened) {
        return opened.error();
    }
    const SourceInfo& info = opened->info();

    // 2. Plan every output at full resolution: sizes, limits, and how much the decoder may
    //    shrink on load so that every output still gets enough pixels.
    std::vector<PlannedOutput> planned;
    std::vector<double> allowances;
    const double analysis_allowance = std::max(
        1.0, std::min(info.upright.width, info.upright.height) / double(kAnalysisMinSide));
    for (const Output& o : recipe.outputs()) {
        Size rotated = rotated_size(info.upright, o.rotate);
        if (o.crop && !clip_crop(rotated, *o.crop)) {
            return make_error(ErrorCode::InvalidArgument,
                              name + ": output " + o.name + ": the crop lies outside the " +
                                  std::to_string(rotated.width) + "x" +
                                  std::to_string(rotated.height) + " photo",
                              "The crop lies outside the photo");
        }
        Size region = rotated_cropped_size(info.upright, o);
        ResizePlan plan = plan_resize(region, o.resize);
        if (plan.final_size.width > limits.max_output_dimension ||
            plan.final_size.height > limits.max_output_dimension) {
            return make_error(ErrorCode::LimitExceeded,
                              name + ": output " + o.name + " would be " +
                                  std::to_string(plan.final_size.width) + "x" +
                                  std::to_string(plan.final_size.height) +
                                  ", over the limit of " +
                                  std::to_string(limits.max_output_dimension) + " pixels a side",
                              "An output would be larger than allowed");
        }
        allowances.push_back(load_shrink_allowance(region, plan.scaled));
        planned.push_back({&o, region, plan});
    }
    std::map<std::string, std::shared_ptr<const std::string>> marks;
    for (const Output& o : recipe.outputs()) {
        for (const Watermark& w : o.watermarks) {
            if (w.image) {
                auto bytes = watermark_bytes(w.image->file);
                if (!bytes) {
                    return bytes.error();
                }
                marks[w.image->file] = *bytes;
            }
        }
    }

    ProcessResult result;
    Manifest& manifest = result.manifest;
    manifest.source = {name,
                       info.format,
                       info.upright.width,
                       info.upright.height,
                       info.bytes,
                       info.orientation,
                       info.has_alpha,
                       info.progressive,
                       info.frames,
                       info.interpretation,
                       info.icc_profile.empty() ? std::nullopt : icc_description(info.icc_profile)};
    if (!info.exif.empty()) {
        manifest.exif = read_exif(info.exif);
    }
    manifest.libvips_version = libvips_version();

    try {
        // 3. Decode (shrunk on load), upright, sRGB, into memory: each decode group's copy is
        //    shared by its outputs (and one carries the manifest's analysis).
        const bool dct_scaling = info.format == "jpeg" && !info.progressive;
        const auto groups = plan_decodes(allowances, analysis_allowance, dct_scaling);
        WatermarkBytes lookup = [&marks](const std::string& path) { return marks.at(path); };
        std::vector<std::optional<Derivative>> made(planned.size());
        for (const DecodeGroup& group : groups) {
            vips::VImage decoded = decode_upright_srgb(*opened, group.shrink, limits.fail_on);
            vips::VImage shared;
            {
                EvalDeadline guard(decoded, deadline);
                try {
                    shared = decoded.copy_memory();
                } catch (const vips::VError&) {
                    if (guard.fired()) {
                        vips_error_clear();
                        return timeout_error(name, limits.time_budget);
                    }
                    throw;
                }
            }
            if (group.analysis) {
                analyse(shared, manifest);
            }
            // 4. Each output: the steps in order, then the encoder.
            for (std::size_t index : group.outputs) {
                const PlannedOutput& p = planned[index];
                auto made_output = make_output(shared, p, info.upright, lookup, deadline);
                if (!made_output) {
                    if (made_output.error().code == ErrorCode::Timeout) {
                        return timeout_error(name, limits.time_budget);
                    }
                    return made_output.error();
                }
                made[index] = std::move(*made_output);
            }
        }
        for (auto& d : made) {
            manifest.outputs.push_back(
                {d->name, d->file, d->format, d->width, d->height, d->bytes.size(), d->millis});
            result.derivatives.push_back(std::move(*d));
        }
    } catch (const vips::VError& e) {
        Error error = classify_vips_error(e, name);
        log().debug("photo={} failed: {}", name, error.message);
        return error;
    }
    manifest.millis = millis_since(started);
    return result;
}

}  // namespace pf::imaging
