#include "http/request_telemetry.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include "engine/core/logging.hpp"

namespace keyflow::http {
namespace {

// Request latency from 100 us (a cached verify) to 10 s.
std::vector<double> http_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

bool token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("._:+=/-").find(c) != std::string_view::npos;
}

// A process-wide random prefix and a counter: unique without a random draw per request.
std::string new_request_id() {
  static const std::uint64_t prefix = [] {
    std::uint64_t p = 0;
    randombytes_buf(&p, sizeof p);
    return p;
  }();
  static std::atomic<std::uint64_t> next{0};
  return fmt::format("{:016x}{:08x}", prefix, static_cast<std::uint32_t>(next.fetch_add(1)));
}

}  // namespace

std::string request_id_of(std::string_view given) {
  if (!given.empty() && given.size() <= 128) {
    bool plain = true;
    for (const char c : given)
      plain = plain && token_char(c);
    if (plain) return std::string(given);
  }
  return new_request_id();
}

RequestTelemetry::RouteStats& RequestTelemetry::stats_of(const Router::Route* route,
                                                         std::string_view method) {
  const auto index = route == nullptr ? kSlots : std::min<std::size_t>(route->index, kSlots - 1);
  auto& slot = slots_[index];
  if (auto* stats = slot.load(std::memory_order_acquire)) return *stats;
  std::lock_guard lock(making_);
  if (auto* stats = slot.load(std::memory_order_acquire)) return *stats;
  auto stats = std::make_unique<RouteStats>();
  if (route == nullptr) {
    stats->labels = R"(method="",route="unmatched")";
  } else if (route->index >= kSlots - 1) {
    stats->labels = R"(method="",route="other")";
  } else {
    stats->labels = "method=\"" + std::string(method) + "\",route=\"" + route->pattern + "\"";
  }
  stats->duration = &metrics_.histogram(
      "keyflow_http_request_duration_seconds{" + stats->labels + "}",
      "Time from a request's last byte read to its response, by route", http_buckets());
  auto* made = stats.get();
  made_.push_back(std::move(stats));
  slot.store(made, std::memory_order_release);
  return *made;
}

Metrics::Counter& RequestTelemetry::counter_of(RouteStats& stats, unsigned status) {
  auto& slot = stats.by_status[status < stats.by_status.size() ? status : 0];
  if (auto* counter = slot.load(std::memory_order_acquire)) return *counter;
  // Two threads racing here look up the same counter, which Metrics makes once.
  auto& counter = metrics_.counter(
      "keyflow_http_requests_total{" + stats.labels + ",code=\"" + std::to_string(status) + "\"}",
      "HTTP requests answered, by route and status code");
  slot.store(&counter, std::memory_order_release);
  return counter;
}

void RequestTelemetry::record(const Router::Route* route, std::string_view method, unsigned status,
                              std::chrono::steady_clock::duration took,
                              std::string_view request_id) {
  auto& stats = stats_of(route, method);
  counter_of(stats, status).inc();
  const double seconds = std::chrono::duration<double>(took).count();
  stats.duration->observe(seconds);
  auto& access = access_log();
  if (!access.should_log(spdlog::level::info)) return;
  const std::string_view pattern = route == nullptr ? std::string_view("-") : route->pattern;
  if (log_format() == LogFormat::json) {
    spdlog::memory_buf_t fields;
    fmt::format_to(std::back_inserter(fields), R"("method":)");
    append_json_string(method, fields);
    fmt::format_to(std::back_inserter(fields), R"(,"route":)");
    append_json_string(pattern, fields);
    fmt::format_to(std::back_inserter(fields), R"(,"status":{},"duration_ms":{:.3f},"request_id":)",
                   status, seconds * 1000);
    append_json_string(request_id, fields);
    access.info("{}", std::string_view(fields.data(), fields.size()));
  } else {
    access.info("{} {} {} {:.3f} ms request_id={}", method, pattern, status, seconds * 1000,
                request_id);
  }
}

}  // namespace keyflow::http
