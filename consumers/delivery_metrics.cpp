#include "consumers/delivery_metrics.hpp"

#include <string>

#include <fmt/format.h>

namespace keyflow {
namespace {

constexpr const char* kAttemptsHelp =
    "Webhook attempts by what became of the delivery: succeeded, retrying (due again later) or "
    "dead (no attempts left, or the receiver answered 410)";

Metrics::Counter& attempts(Metrics& metrics, std::string_view queue, std::string_view outcome) {
  return metrics.counter(
      fmt::format("keyflow_webhook_attempts_total{{queue=\"{}\",outcome=\"{}\"}}", queue, outcome),
      kAttemptsHelp);
}

}  // namespace

DeliveryMetrics::DeliveryMetrics(Metrics& metrics, std::string_view queue)
    : succeeded_(attempts(metrics, queue, "succeeded")),
      retrying_(attempts(metrics, queue, "retrying")),
      dead_(attempts(metrics, queue, "dead")),
      duration_(metrics.histogram(
          fmt::format("keyflow_webhook_attempt_duration_seconds{{queue=\"{}\"}}", queue),
          "Time from the start of a webhook attempt to its answer or failure, connect and TLS "
          "included",
          Metrics::latency_buckets())) {}

void DeliveryMetrics::record(const std::vector<DeliveryResult>& results) {
  for (const auto& r : results) {
    const auto& status = r.outcome.status;
    (status == "succeeded" ? succeeded_ : status == "dead" ? dead_ : retrying_).inc();
    duration_.observe(std::chrono::duration<double>(r.response.latency).count());
  }
}

}  // namespace keyflow
