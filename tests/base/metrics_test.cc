#include "base/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace pf {
namespace {

TEST(Metrics, CountersGaugesAndCallbacksRenderInTheTextFormat) {
    MetricsRegistry registry;
    auto& puts = registry.counter("pf_requests_total", "S3 requests.", {{"op", "PutObject"}, {"status", "200"}});
    puts.add();
    puts.add(2);
    registry.counter("pf_requests_total", "S3 requests.", {{"op", "GetObject"}, {"status", "404"}}).add();
    // The same name and labels is the same series.
    EXPECT_EQ(&registry.counter("pf_requests_total", "S3 requests.", {{"op", "PutObject"}, {"status", "200"}}),
              &puts);
    registry.gauge("pf_in_flight", "Requests being served.").set(4);
    int depth = 7;
    registry.gauge_callback("pf_queue_depth", "Events waiting.", [&] { return depth; });
    depth = 9;  // read at render time, not at registration
    registry.counter_callback("pf_delivered_total", "Deliveries.", [] { return 12.0; },
                              {{"outcome", "ok"}});

    std::string page = registry.render();
    EXPECT_NE(page.find("# HELP pf_requests_total S3 requests.\n# TYPE pf_requests_total counter\n"),
              std::string::npos) << page;
    EXPECT_NE(page.find("pf_requests_total{op=\"PutObject\",status=\"200\"} 3\n"), std::string::npos) << page;
    EXPECT_NE(page.find("pf_requests_total{op=\"GetObject\",status=\"404\"} 1\n"), std::string::npos);
    EXPECT_NE(page.find("# TYPE pf_in_flight gauge\npf_in_flight 4\n"), std::string::npos);
    EXPECT_NE(page.find("pf_queue_depth 9\n"), std::string::npos);
    EXPECT_NE(page.find("# TYPE pf_delivered_total counter\npf_delivered_total{outcome=\"ok\"} 12\n"),
              std::string::npos) << page;
    // Families sorted by name.
    EXPECT_LT(page.find("pf_in_flight"), page.find("pf_queue_depth"));
    EXPECT_LT(page.find("pf_queue_depth"), page.find("pf_requests_total"));
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumAndCount) {
    MetricsRegistry registry;
    auto& h = registry.histogram("pf_latency_seconds", "Latency.", {0.01, 0.1, 1}, {{"op", "x"}});
    for (double v : {0.005, 0.01, 0.05, 0.5, 3.0}) h.observe(v);
    std::string page = registry.render();
    EXPECT_NE(page.find("pf_latency_seconds_bucket{op=\"x\",le=\"0.01\"} 2\n"), std::string::npos) << page;
    EXPECT_NE(page.find("pf_latency_seconds_bucket{op=\"x\",le=\"0.1\"} 3\n"), std::string::npos);
    EXPECT_NE(page.find("pf_latency_seconds_bucket{op=\"x\",le=\"1\"} 4\n"), std::string::npos);
    EXPECT_NE(page.find("pf_latency_seconds_bucket{op=\"x\",le=\"+Inf\"} 5\n"), std::string::npos);
    EXPECT_NE(page.find("pf_latency_seconds_sum{op=\"x\"} 3.565\n"), std::string::npos);
    EXPECT_NE(page.find("pf_latency_seconds_count{op=\"x\"} 5\n"), std::string::npos);
}

TEST(Metrics, LabelValuesAreEscaped) {
    EXPECT_EQ(render_labels({{"key", "a\"b\\c\nd"}}), "{key=\"a\\\"b\\\\c\\nd\"}");
    EXPECT_EQ(render_labels({}), "");
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
    MetricsRegistry registry;
    auto& c = registry.counter("pf_hits_total", "Hits.");
    auto& h = registry.histogram("pf_h", "H.", latency_buckets());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 10000; ++i) {
                c.add();
                h.observe(0.002);
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(c.value(), 40000u);
    EXPECT_EQ(h.count(), 40000u);
    EXPECT_NEAR(h.sum(), 80.0, 1e-6);
}

}  // namespace
}  // namespace pf
