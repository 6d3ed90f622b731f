#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/metrics.hpp"
#include "http/router.hpp"

namespace keyflow::http {

// What the server tells of every request it answers: keyflow_http_requests_total by method,
// route pattern and status, keyflow_http_request_duration_seconds by method and route, and an
// access log line (method, route pattern, status, duration, request id; never the path
// itself, which may hold an id, nor a header). Metric handles are made on a route's first
// request and then found by index, with no lookup by name or lock. Any thread.
class RequestTelemetry {
 public:
  explicit RequestTelemetry(Metrics& metrics) : metrics_(metrics) {}

  // route: null for a request no route matched (404, 405) or that could not be read.
  void record(const Router::Route* route, std::string_view method, unsigned status,
              std::chrono::steady_clock::duration took, std::string_view request_id);

 private:
  struct RouteStats {
    std::string labels;  // method="GET",route="/healthz"
    Metrics::Histogram* duration = nullptr;
    std::array<std::atomic<Metrics::Counter*>, 600> by_status{};
  };
  static constexpr std::size_t kSlots = 256;  // routes beyond share the last slot

  RouteStats& stats_of(const Router::Route* route, std::string_view method);
  Metrics::Counter& counter_of(RouteStats& stats, unsigned status);

  Metrics& metrics_;
  std::array<std::atomic<RouteStats*>, kSlots + 1> slots_{};  // the last: unmatched
  std::mutex making_;
  std::vector<std::unique_ptr<RouteStats>> made_;
};

// The request's id: the caller's X-Request-Id when it is a plain token (letters, digits and
// ._:+=/- , at most 128), so that a request can be followed across services; else a new one.
std::string request_id_of(std::string_view given);

}  // namespace keyflow::http
