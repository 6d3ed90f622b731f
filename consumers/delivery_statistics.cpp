#include "consumers/delivery_statistics.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "engine/webhooks/webhook_delivery_store.hpp"

namespace keyflow {

void DeliveryStatistics::written(std::size_t rows) {
  since_ += rows;
  if (since_ < due_after_) return;
  const auto now = clock_.now();
  if (last_ && now - *last_ < kAtMostEvery) return;
  since_ = 0;
  last_ = now;
  try {
    const auto table_rows =
        pool_.transact([](pqxx::work& txn) { return WebhookDeliveryStore::analyze(txn); });
    due_after_ = std::max(kAtLeast, static_cast<std::size_t>(table_rows / 10));
  } catch (const std::exception& e) {
    spdlog::debug("deliver: could not analyze webhook_deliveries: {}", e.what());
  }
}

}  // namespace keyflow
