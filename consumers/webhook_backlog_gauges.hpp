#pragma once

#include <chrono>
#include <memory>
#include <stop_token>

#include "engine/core/metrics.hpp"
#include "engine/store/database.hpp"

namespace keyflow {

// The webhook backlog as gauges: pending deliveries per subscription
// (keyflow_webhook_pending_deliveries{subscription_id}) and disabled subscriptions
// (keyflow_webhook_disabled_subscriptions). Read from the database every interval by run(),
// so that a scrape never waits on it; the gauges show the last reading.
class WebhookBacklogGauges {
 public:
  WebhookBacklogGauges(ConnectionPool& pool, Metrics& metrics);

  // One reading; throws what libpqxx throws (the gauges keep the previous one).
  void refresh();
  // Refreshes every interval until stop; database failures wait for the next round.
  void run(std::stop_token stop, std::chrono::milliseconds interval);

 private:
  struct Reading;
  ConnectionPool& pool_;
  // Shared with the gauges' readers, which the registry keeps past this object.
  std::shared_ptr<Reading> reading_;
};

}  // namespace keyflow
