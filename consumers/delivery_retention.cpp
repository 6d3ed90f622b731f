#include "consumers/delivery_retention.hpp"

#include <spdlog/spdlog.h>

#include "engine/core/interruptible_wait.hpp"
#include "engine/webhooks/webhook_delivery_store.hpp"

namespace keyflow {

std::size_t DeliveryRetention::run_once() {
  const auto cutoff = clock_.now() - retention_;
  std::size_t total = 0;
  for (;;) {
    const auto n = db_.transact([&](pqxx::work& txn) {
      return WebhookDeliveryStore::delete_finished_before(txn, cutoff, batch_);
    });
    total += n;
    if (n < static_cast<std::size_t>(batch_)) break;
  }
  if (total > 0) {
    spdlog::info("deliver: deleted {} finished deliveries older than {} s", total,
                 retention_.count());
  }
  return total;
}

void DeliveryRetention::run(std::stop_token stop, std::chrono::milliseconds interval) {
  while (!stop.stop_requested()) {
    try {
      run_once();
    } catch (const std::exception& e) {
      spdlog::warn("deliver: pruning finished deliveries failed: {}", e.what());
    }
    sleep_unless_stopped(stop, interval);
  }
}

}  // namespace keyflow
