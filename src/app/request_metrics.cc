#include "app/request_metrics.h"

#include <chrono>
#include <string>

namespace pf::app {
namespace {

class CountingResponse final : public http::Response {
public:
    explicit CountingResponse(http::Response& inner) : inner_(inner) {}
    Result<void> start(int status, std::vector<std::pair<std::string, std::string>> headers,
                       std::optional<std::uint64_t> content_length) override {
        status_ = status;
        return inner_.start(status, std::move(headers), content_length);
    }
    Result<void> write(std::span<const char> bytes) override {
        auto r = inner_.write(bytes);
        if (r) sent_ += bytes.size();
        return r;
    }
    Result<void> finish() override { return inner_.finish(); }
    bool started() const override { return inner_.started(); }
    void close_after() override { inner_.close_after(); }

    int status() const { return status_; }
    std::uint64_t sent() const { return sent_; }

private:
    http::Response& inner_;
    int status_ = 0;  // 0: the handler never answered (connection lost)
    std::uint64_t sent_ = 0;
};

}  // namespace

RequestMetrics::RequestMetrics(MetricsRegistry& registry)
    : registry_(registry),
      in_flight_(registry.gauge("photoflux_http_requests_in_flight",
                                "HTTP requests being served right now.")) {}

void RequestMetrics::observe(std::string_view service, std::string_view operation,
                             http::RequestBody& body, http::Response& response,
                             const Handle& handle) {
    observe(service, [operation] { return operation; }, body, response, handle);
}

void RequestMetrics::observe(std::string_view service,
                             const std::function<std::string_view()>& operation,
                             http::RequestBody& body, http::Response& response,
                             const Handle& handle) {
    CountingResponse counting_response(response);
    // Leaves the in-flight count right even when the handler throws (the server answers 500).
    struct InFlight {
        Gauge& gauge;
        explicit InFlight(Gauge& g) : gauge(g) { gauge.add(1); }
        ~InFlight() { gauge.add(-1); }
    };
    auto started = std::chrono::steady_clock::now();
    {
        InFlight counted(in_flight_);
        handle(body, counting_response);
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    MetricLabels op{{"service", std::string(service)}, {"operation", std::string(operation())}};
    MetricLabels with_status = op;
    with_status.emplace_back("status", counting_response.status() == 0
                                           ? std::string("none")
                                           : std::to_string(counting_response.status()));
    registry_.counter("photoflux_http_requests_total", "HTTP requests answered, by status (none: the connection was lost first).",
                      with_status)
        .add();
    registry_.histogram("photoflux_http_request_duration_seconds",
                        "Time from the request's headers to the end of its response.",
                        latency_buckets(), op)
        .observe(seconds);
    registry_.counter("photoflux_http_received_bytes_total", "Request body bytes read.", op)
        .add(body.bytes_read());
    registry_.counter("photoflux_http_sent_bytes_total", "Response body bytes written.", op)
        .add(counting_response.sent());
}

}  // namespace pf::app
