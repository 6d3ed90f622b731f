#include "outbox/relay_metrics.hpp"

namespace keyflow {

void register_relay_metrics(Metrics& metrics, const OutboxRelay& relay, const Clock& clock) {
  const auto* r = &relay;
  const auto* c = &clock;
  metrics.gauge("keyflow_relay_active",
                "1 when this relay holds the lock and publishes, 0 on standby",
                [r] { return r->active() ? 1.0 : 0.0; });
  metrics.gauge("keyflow_relay_ready", "1 when Kafka acknowledges what the relay sends",
                [r] { return r->ready() ? 1.0 : 0.0; });
  metrics.gauge("keyflow_outbox_backlog_rows",
                "Unpublished outbox rows, parked ones aside (exact up to 10000)",
                [r] { return static_cast<double>(r->stats().backlog); });
  metrics.gauge("keyflow_outbox_oldest_unpublished_age_seconds",
                "Age of the oldest unpublished outbox row, 0 when there is none", [r, c] {
                  const auto oldest = r->stats().oldest_unpublished;
                  if (!oldest) return 0.0;
                  const double age = std::chrono::duration<double>(c->now() - *oldest).count();
                  return age > 0 ? age : 0.0;
                });
  metrics.gauge("keyflow_outbox_parked_rows",
                "Outbox rows Kafka refused for good, waiting for an operator",
                [r] { return static_cast<double>(r->stats().parked); });
  metrics.counter("keyflow_relay_published_total", "Outbox rows published by this relay",
                  [r] { return static_cast<double>(r->stats().published); });
  metrics.counter("keyflow_relay_produce_errors_total", "Messages Kafka refused or failed",
                  [r] { return static_cast<double>(r->stats().produce_errors); });
  metrics.counter("keyflow_outbox_deleted_total",
                  "Published outbox rows deleted after the retention period by this relay",
                  [r] { return static_cast<double>(r->stats().deleted); });
}

Metrics::Histogram& relay_publish_latency(Metrics& metrics) {
  return metrics.histogram(
      "keyflow_relay_publish_latency_seconds",
      "Time from a change (its event's occurred_at) to Kafka's "
      "acknowledgement of the event, per published event",
      {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300});
}

}  // namespace keyflow
