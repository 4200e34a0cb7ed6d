#include "base/metrics.h"

#include "base/check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace pf {
namespace {

bool valid_name(std::string_view name) {
    if (name.empty()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                  (i > 0 && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

std::string number(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (std::isnan(v)) return "NaN";
    if (v == std::floor(v) && std::fabs(v) < 1e15) {
        return std::to_string(static_cast<long long>(v));
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

std::string escape_help(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

// Inserts extra label text ("le=\"0.5\"") into a rendered label set.
std::string with_label(const std::string& labels, const std::string& extra) {
    if (labels.empty()) return "{" + extra + "}";
    return labels.substr(0, labels.size() - 1) + "," + extra + "}";
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
    std::sort(bounds_.begin(), bounds_.end());
    for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double value) {
    auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
    buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    double old = sum_.load(std::memory_order_relaxed);
    while (!sum_.compare_exchange_weak(old, old + value, std::memory_order_relaxed)) {
    }
}

std::vector<std::uint64_t> Histogram::bucket_counts() const {
    std::vector<std::uint64_t> out(bounds_.size() + 1);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
    return out;
}

std::vector<double> latency_buckets() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::string render_labels(const MetricLabels& labels) {
    if (labels.empty()) return {};
    std::string out = "{";
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (i) out += ",";
        out += labels[i].first + "=\"";
        for (char c : labels[i].second) {
            if (c == '\\') out += "\\\\";
            else if (c == '"') out += "\\\"";
            else if (c == '\n') out += "\\n";
            else out += c;
        }
        out += "\"";
    }
    return out + "}";
}

MetricsRegistry::Family& MetricsRegistry::family(std::string_view name, std::string_view help,
                                                 Type type) {
    PF_CHECK(valid_name(name));
    auto it = families_.find(name);
    if (it == families_.end()) {
        it = families_.emplace(std::string(name), Family{type, std::string(help), {}}).first;
    }
    PF_CHECK(it->second.type == type);  // a metric name keeps one type
    return it->second;
}

Counter& MetricsRegistry::counter(std::string_view name, std::string_view help,
                                  const MetricLabels& labels) {
    std::lock_guard lock(mutex_);
    auto& series = family(name, help, Type::Counter).series[render_labels(labels)];
    if (!series.counter) series.counter = std::make_unique<Counter>();
    return *series.counter;
}

Gauge& MetricsRegistry::gauge(std::string_view name, std::string_view help,
                              const MetricLabels& labels) {
    std::lock_guard lock(mutex_);
    auto& series = family(name, help, Type::Gauge).series[render_labels(labels)];
    if (!series.gauge) series.gauge = std::make_unique<Gauge>();
    return *series.gauge;
}

Histogram& MetricsRegistry::histogram(std::string_view name, std::string_view help,
                                      const std::vector<double>& upper_bounds,
                                      const MetricLabels& labels) {
    std::lock_guard lock(mutex_);
    auto& series = family(name, help, Type::Histogram).series[render_labels(labels)];
    if (!series.histogram) series.histogram = std::make_unique<Histogram>(upper_bounds);
    return *series.histogram;
}

void MetricsRegistry::gauge_callback(std::string_view name, std::string_view help,
                                     std::function<double()> read, const MetricLabels& labels) {
    std::lock_guard lock(mutex_);
    auto& series = family(name, help, Type::Gauge).series[render_labels(labels)];
    series.read = std::move(read);
}

void MetricsRegistry::counter_callback(std::string_view name, std::string_view help,
                                       std::function<double()> read, const MetricLabels& labels) {
    std::lock_guard lock(mutex_);
    auto& series = family(name, help, Type::Counter).series[render_labels(labels)];
    series.read = std::move(read);
}

std::string MetricsRegistry::render() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& [name, fam] : families_) {
        static const char* kTypes[] = {"counter", "gauge", "histogram"};
        out += "# HELP " + name + " " + escape_help(fam.help) + "\n";
        out += "# TYPE " + name + " " + kTypes[static_cast<int>(fam.type)] + "\n";
        for (const auto& [labels, s] : fam.series) {
            if (s.counter) {
                out += name + labels + " " + std::to_string(s.counter->value()) + "\n";
            } else if (s.read) {
                out += name + labels + " " + number(s.read()) + "\n";
            } else if (s.gauge) {
                out += name + labels + " " + number(s.gauge->value()) + "\n";
            } else if (s.histogram) {
                auto counts = s.histogram->bucket_counts();
                std::uint64_t cumulative = 0;
                const auto& bounds = s.histogram->upper_bounds();
                for (std::size_t i = 0; i < counts.size(); ++i) {
                    cumulative += counts[i];
                    std::string le = i < bounds.size() ? number(bounds[i]) : "+Inf";
                    out += name + "_bucket" + with_label(labels, "le=\"" + le + "\"") + " " +
                           std::to_string(cumulative) + "\n";
                }
                out += name + "_sum" + labels + " " + number(s.histogram->sum()) + "\n";
                out += name + "_count" + labels + " " + std::to_string(cumulative) + "\n";
            }
        }
    }
    return out;
}

}  // namespace pf
