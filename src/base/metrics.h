// Metrics in the Prometheus text exposition format (version 0.0.4), served at /_/metrics.
//
// Components get their counters, gauges and histograms from one MetricsRegistry (app/ owns it and
// hands it down) and keep the references: updates are lock-free atomics on the hot path; the
// registry's mutex is taken only when a metric is created and when the page is rendered. A gauge
// may also be a callback read at scrape time (queue depths, in-flight counts owned elsewhere).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
public:
    void add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

class Gauge {
public:
    void set(double v) { value_.store(v, std::memory_order_relaxed); }
    void add(double d) {
        double old = value_.load(std::memory_order_relaxed);
        while (!value_.compare_exchange_weak(old, old + d, std::memory_order_relaxed)) {
        }
    }
    double value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

// Cumulative buckets as Prometheus wants them; observe() is one atomic add per bucket touched.
class Histogram {
public:
    explicit Histogram(std::vector<double> upper_bounds);
    void observe(double value);
    const std::vector<double>& upper_bounds() const { return bounds_; }
    // Per-bucket (non-cumulative) counts, the +Inf bucket last.
    std::vector<std::uint64_t> bucket_counts() const;
    std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
    double sum() const { return sum_.load(std::memory_order_relaxed); }

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
    std::atomic<std::uint64_t> count_{0};
    std::atomic<double> sum_{0};
};

// Latency buckets in seconds, 1 ms to 60 s.
std::vector<double> latency_buckets();

class MetricsRegistry {
public:
    // The same name + labels always returns the same metric. A name must keep one type and one
    // help text; names are [a-zA-Z_:][a-zA-Z0-9_:]* (checked: a programming error aborts).
    Counter& counter(std::string_view name, std::string_view help, const MetricLabels& labels = {});
    Gauge& gauge(std::string_view name, std::string_view help, const MetricLabels& labels = {});
    Histogram& histogram(std::string_view name, std::string_view help,
                         const std::vector<double>& upper_bounds, const MetricLabels& labels = {});
    // A gauge whose value is read when the page is rendered. Registering the same name + labels
    // again replaces the callback.
    void gauge_callback(std::string_view name, std::string_view help, std::function<double()> read,
                        const MetricLabels& labels = {});

    // A counter kept elsewhere (a component's own statistics), read when the page is rendered;
    // it must never decrease.
    void counter_callback(std::string_view name, std::string_view help,
                          std::function<double()> read, const MetricLabels& labels = {});

    // The whole page, families sorted by name, series by labels.
    std::string render() const;

private:
    enum class Type { Counter, Gauge, Histogram };
    struct Series {
        std::unique_ptr<Counter> counter;
        std::unique_ptr<Gauge> gauge;
        std::unique_ptr<Histogram> histogram;
        std::function<double()> read;
    };
    struct Family {
        Type type = Type::Counter;
        std::string help;
        std::map<std::string, Series> series;  // key: rendered label set ("{a=\"1\"}")
    };
    Family& family(std::string_view name, std::string_view help, Type type);

    mutable std::mutex mutex_;
    std::map<std::string, Family, std::less<>> families_;
};

// {name="value",...} with Prometheus escaping (backslash, quote, newline); empty for no labels.
std::string render_labels(const MetricLabels& labels);

}  // namespace pf
