// End-to-end memory test of `photoflux process`: a batch eight times larger must not need more
// memory than a small one. A leak per photo (buffers, libvips cache, decoded images kept alive)
// shows up here as growth with the number of photos.
#include "support/subprocess.h"
#include "support/temp_dir.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using pf::test::TempDir;

const fs::path kPhotos = fs::path(PF_TEST_DATA_DIR) / "photos";


struct BatchRun {
    int photos = 0;
    double seconds = 0;
    double reported_peak_rss = 0;      // what photoflux says (--json peak_rss_bytes)
    double measured_peak_rss = 0;      // what the kernel says (wait4 ru_maxrss)
};

// A folder of `count` symlinks alternating between two 2560x1600 JPEGs (one baseline, one
// progressive), processed with the default recipe on two jobs.
BatchRun run_batch(const fs::path& root, int count) {
    BatchRun run;
    run.photos = count;
    const fs::path in = root / ("in-" + std::to_string(count));
    const fs::path out = root / ("out-" + std::to_string(count));
    fs::create_directories(in);
    for (int i = 0; i < count; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "photo-%04d.jpg", i);
        fs::create_symlink(kPhotos / (i % 2 == 0 ? "camera.jpg" : "progressive.jpg"), in / name);
    }
    pf::test::SubprocessOptions options;
    options.unset_env_prefixes = {"PF_"};
    options.cwd = root;
    options.timeout = std::chrono::seconds(600);
    auto r = pf::test::run_subprocess(
        {PF_BINARY, "process", in.string(), "--out", out.string(), "--jobs", "2", "--json"},
        options);
    EXPECT_TRUE(r.exited_with(0)) << r.describe();
    json summary = json::parse(r.out, nullptr, false);
    if (!summary.is_object()) {
        ADD_FAILURE() << "--json printed no JSON object:\n" << r.out << "\n" << r.describe();
        return run;
    }
    EXPECT_EQ(summary.value("photos", -1), count);
    EXPECT_EQ(summary.value("processed", -1), count);
    EXPECT_EQ(summary.value("failed", -1), 0);
    // Every photo really went through the pipeline.
    int manifests = 0;
    for (int i = 0; i < count; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "photo-%04d.jpg", i);
        manifests += fs::exists(out / name / "manifest.json") ? 1 : 0;
    }
    EXPECT_EQ(manifests, count);
    run.seconds = r.elapsed.count();
    run.reported_peak_rss = summary.value("peak_rss_bytes", 0.0);
    run.measured_peak_rss = static_cast<double>(r.peak_rss_bytes);
    fs::remove_all(in);
    fs::remove_all(out);
    return run;
}

constexpr double kMiB = 1024.0 * 1024.0;

// Sized for about 45 s on two cores (~0.3 s per photo per job): 16 then 128 photos.
TEST(MemoryE2E, PeakMemoryStaysFlatAsTheBatchGrows) {
    constexpr int kSmall = 16;
    constexpr int kLarge = 8 * kSmall;
    TempDir tmp;
    BatchRun small = run_batch(tmp.path(), kSmall);
    ASSERT_FALSE(HasFailure());
    BatchRun large = run_batch(tmp.path(), kLarge);
    ASSERT_FALSE(HasFailure());

    for (const BatchRun* run : {&small, &large}) {
        std::printf("[ memory   ] %4d photos: %5.1f s, peak RSS %.1f MiB (reported), "
                    "%.1f MiB (wait4)\n",
                    run->photos, run->seconds, run->reported_peak_rss / kMiB,
                    run->measured_peak_rss / kMiB);
    }
    RecordProperty("small_peak_rss_mib", std::to_string(small.reported_peak_rss / kMiB));
    RecordProperty("large_peak_rss_mib", std::to_string(large.reported_peak_rss / kMiB));

    ASSERT_GT(small.reported_peak_rss, 0.0);
    EXPECT_LE(large.reported_peak_rss, 1.3 * small.reported_peak_rss + 16 * kMiB)
        << kLarge << " photos peaked at " << large.reported_peak_rss / kMiB << " MiB, " << kSmall
        << " at " << small.reported_peak_rss / kMiB << " MiB";
    // The same bound on the kernel's own measurement, so a wrong self-report cannot hide growth.
    EXPECT_LE(large.measured_peak_rss, 1.3 * small.measured_peak_rss + 16 * kMiB)
        << kLarge << " photos peaked at " << large.measured_peak_rss / kMiB << " MiB, " << kSmall
        << " at " << small.measured_peak_rss / kMiB << " MiB";
    // And the self-report is the real figure (both are ru_maxrss of the same process).
    EXPECT_NEAR(large.reported_peak_rss, large.measured_peak_rss, 8 * kMiB);
}

}  // namespace
