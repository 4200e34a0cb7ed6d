#include "app/process_command.h"

#include "app/photo_walk.h"
#include "app/progress.h"
#include "base/file_io.h"
#include "imaging/processor.h"
#include "imaging/recipe_parser.h"
#include "imaging/vips_runtime.h"

#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

namespace pf::app {
namespace {

std::atomic<bool> g_stop_requested{false};

extern "C" void on_stop_signal(int) { g_stop_requested = true; }

struct PhotoOutcome {
    bool done = false;        // false: not attempted (stopped early)
    bool ok = false;
    std::string error_code;
    std::string error;
    std::vector<std::string> files;
    double millis = 0;
};

std::uint64_t peak_rss_bytes() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
}

// Writes one photo's derivatives, then its manifest last: a manifest on disk means the photo's
// outputs are complete.
Result<std::vector<std::string>> write_outputs(const std::filesystem::path& dir,
                                               const imaging::ProcessResult& result) {
    std::vector<std::string> files;
    for (const auto& d : result.derivatives) {
        auto path = dir / d.file;
        if (auto w = write_file_atomic(path, d.bytes); !w) {
            return w.error();
        }
        files.push_back(path.string());
    }
    auto manifest_path = dir / "manifest.json";
    if (auto w = write_file_atomic(manifest_path, to_json(result.manifest).dump(2) + "\n"); !w) {
        return w.error();
    }
    files.push_back(manifest_path.string());
    return files;
}

}  // namespace

void add_process_options(CLI::App& command, ProcessOptions& options) {
    command.add_option("inputs", options.inputs, "Photos and folders (walked recursively)")
        ->required();
    command.add_option("--recipe", options.recipe_file,
                       "Recipe file (YAML or JSON); default: a 320 px WebP thumbnail and a "
                       "1280 px JPEG preview");
    command.add_option("--out", options.out_dir, "Where outputs go (default: ./out)");
    command.add_option("--jobs,-j", options.jobs, "Photos processed at once (default: one per core)")
        ->check(CLI::Range(0, 256));
    command.add_flag("--json", options.json, "Print a JSON summary on stdout");
}

int run_process(const ProcessOptions& options, const config::Config& config) {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const int jobs = options.jobs > 0 ? options.jobs : static_cast<int>(cores);
    // Parallelism is explicit: photos run side by side on `jobs` threads and each gets a share
    // of the cores for libvips' own threads, so the two never oversubscribe the machine.
    imaging::VipsSettings vips;
    vips.threads_per_photo = config.imaging.concurrency > 0
                                 ? config.imaging.concurrency
                                 : std::max(1, static_cast<int>(cores) / jobs);
    if (auto started = imaging::start_vips(vips); !started) {
        std::cerr << "photoflux: " << started.error().message << "\n";
        return 2;
    }

    auto recipe = options.recipe_file.empty()
                      ? Result<imaging::Recipe>(imaging::default_recipe())
                      : imaging::load_recipe_file(options.recipe_file);
    if (!recipe) {
        std::cerr << "photoflux: " << options.recipe_file << ": " << recipe.error().message
                  << "\n";
        return 2;
    }
    imaging::Processor processor(config.imaging);
    if (auto supported = processor.check_supported(*recipe); !supported) {
        std::cerr << "photoflux: " << supported.error().message << "\n";
        return 2;
    }
    auto walk = collect_photos(options.inputs);
    if (!walk) {
        std::cerr << "photoflux: " << walk.error().message << "\n";
        return 2;
    }
    const auto& photos = walk->photos;
    const std::filesystem::path out_dir(options.out_dir);

    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);

    const auto started = SteadyClock::now();
    ProgressBar progress(photos.size(), isatty(STDERR_FILENO) != 0);
    std::vector<PhotoOutcome> outcomes(photos.size());
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
        for (;;) {
            if (g_stop_requested) {
                return;
            }
            std::size_t i = next.fetch_add(1);
            if (i >= photos.size()) {
                return;
            }
            const PhotoInput& input = photos[i];
            PhotoOutcome& outcome = outcomes[i];
            const auto photo_started = SteadyClock::now();
            auto result = processor.run(imaging::PhotoSource::from_file(input.path), *recipe);
            Result<std::vector<std::string>> written =
                result ? write_outputs(out_dir / input.relative, *result)
                       : Result<std::vector<std::string>>(result.error());
            outcome.done = true;
            outcome.millis = millis_since(photo_started);
            if (written) {
                outcome.ok = true;
                outcome.files = std::move(*written);
            } else {
                outcome.error_code = std::string(to_string(written.error().code));
                outcome.error = written.error().message;
                progress.print_line("photoflux: failed: " + outcome.error);
            }
            progress.advance(!outcome.ok);
        }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < std::min<int>(jobs, static_cast<int>(std::max<std::size_t>(1, photos.size()))); ++t) {
        threads.emplace_back(worker);
    }
    for (auto& t : threads) {
        t.join();
    }
    progress.finish();
    const double seconds = millis_since(started) / 1000.0;

    std::size_t ok = 0, failed = 0, not_done = 0;
    for (const auto& o : outcomes) {
        ok += o.done && o.ok;
        failed += o.done && !o.ok;
        not_done += !o.done;
    }
    if (options.json) {
        nlohmann::json list = nlohmann::json::array();
        for (std::size_t i = 0; i < photos.size(); ++i) {
            const auto& o = outcomes[i];
            nlohmann::json entry = {{"input", photos[i].path.string()},
                                    {"status", !o.done ? "not_started" : o.ok ? "ok" : "failed"}};
            if (o.done) {
                entry["millis"] = std::round(o.millis * 100) / 100;
            }
            if (o.ok) {
                entry["output_dir"] = (out_dir / photos[i].relative).string();
                entry["files"] = o.files;
            } else if (o.done) {
                entry["error"] = {{"code", o.error_code}, {"message", o.error}};
            }
            list.push_back(entry);
        }
        nlohmann::json skipped = nlohmann::json::array();
        for (const auto& s : walk->skipped) {
            skipped.push_back(s.string());
        }
        nlohmann::json summary = {
            {"photos", photos.size()},
            {"processed", ok},
            {"failed", failed},
            {"not_started", not_done},
            {"skipped_not_images", skipped},
            {"seconds", std::round(seconds * 1000) / 1000},
            {"photos_per_second", seconds > 0 ? std::round(ok / seconds * 100) / 100 : 0.0},
            {"jobs", jobs},
            {"vips_threads_per_photo", vips.threads_per_photo},
            {"peak_rss_bytes", peak_rss_bytes()},
            {"out", out_dir.string()},
            {"results", list},
        };
        std::cout << summary.dump(2) << "\n";
    } else if (isatty(STDERR_FILENO)) {
        std::fprintf(stderr, "%zu photos processed, %zu failed, in %.1f s -> %s\n", ok, failed,
                     seconds, out_dir.string().c_str());
    }
    if (g_stop_requested) {
        return 130;
    }
    return failed > 0 ? 1 : 0;
}

}  // namespace pf::app
