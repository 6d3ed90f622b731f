#include "consumers/webhook_backlog_gauges.hpp"

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "engine/core/interruptible_wait.hpp"
#include "engine/webhooks/subscription_store.hpp"
#include "engine/webhooks/webhook_delivery_store.hpp"

namespace keyflow {

struct WebhookBacklogGauges::Reading {
  std::mutex mutex;
  std::vector<std::pair<std::string, long>> pending;
  long disabled = 0;
};

WebhookBacklogGauges::WebhookBacklogGauges(ConnectionPool& pool, Metrics& metrics)
    : pool_(pool), reading_(std::make_shared<Reading>()) {
  metrics.gauges(
      "keyflow_webhook_pending_deliveries",
      "Webhook deliveries waiting for an attempt, per subscription that has any",
      [reading = reading_] {
        std::lock_guard lock(reading->mutex);
        std::vector<Metrics::Sample> samples;
        samples.reserve(reading->pending.size());
        for (const auto& [id, count] : reading->pending) {
          samples.push_back({"{subscription_id=\"" + id + "\"}", static_cast<double>(count)});
        }
        return samples;
      });
  metrics.gauge("keyflow_webhook_disabled_subscriptions",
                "Webhook subscriptions disabled, by a caller or for a failing receiver",
                [reading = reading_] {
                  std::lock_guard lock(reading->mutex);
                  return static_cast<double>(reading->disabled);
                });
}

void WebhookBacklogGauges::refresh() {
  auto [pending, disabled] = pool_.transact([](pqxx::work& txn) {
    return std::pair{WebhookDeliveryStore::pending_by_subscription(txn),
                     SubscriptionStore::count_with_status(txn, "disabled")};
  });
  std::lock_guard lock(reading_->mutex);
  reading_->pending = std::move(pending);
  reading_->disabled = disabled;
}

void WebhookBacklogGauges::run(std::stop_token stop, std::chrono::milliseconds interval) {
  do {
    try {
      refresh();
    } catch (const std::exception& e) {
      spdlog::debug("deliver: could not read the webhook backlog: {}", e.what());
    }
  } while (sleep_unless_stopped(stop, interval));
}

}  // namespace keyflow
