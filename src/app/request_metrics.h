// Per-operation HTTP metrics for everything serve answers: requests by status, latency, bytes in
// and out, requests in flight. The handler runs with thin wrappers around the request body and the
// response that count bytes and catch the status; nothing else changes for it. Bytes in are what
// the handler read of the request body.
#pragma once

#include "base/metrics.h"
#include "http/server.h"

#include <functional>
#include <string_view>

namespace pf::app {

class RequestMetrics {
public:
    explicit RequestMetrics(MetricsRegistry& registry);

    using Handle = std::function<void(http::RequestBody&, http::Response&)>;
    // `service`: "s3", "sns", "internal"; `operation`: "PutObject", "Publish", "/_/metrics", ...
    void observe(std::string_view service, std::string_view operation, http::RequestBody& body,
                 http::Response& response, const Handle& handle);
    // The same, with the operation read after the handler ran (the S3 API names it while parsing).
    void observe(std::string_view service, const std::function<std::string_view()>& operation,
                 http::RequestBody& body, http::Response& response, const Handle& handle);

private:
    MetricsRegistry& registry_;
    Gauge& in_flight_;
};

}  // namespace pf::app
