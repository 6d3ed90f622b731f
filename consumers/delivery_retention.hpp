#pragma once

#include <chrono>
#include <cstddef>
#include <stop_token>

#include "engine/core/clock.hpp"
#include "engine/store/database.hpp"

namespace keyflow {

// Deletes webhook deliveries that finished (succeeded or dead) longer ago than the retention,
// with their attempts, in small batches of their own transactions so that pruning never
// holds many rows or competes with sending for long. Pending deliveries are never touched.
class DeliveryRetention {
 public:
  DeliveryRetention(ConnectionPool& db, const Clock& clock, std::chrono::seconds retention,
                    int batch = 1000)
      : db_(db), clock_(clock), retention_(retention), batch_(batch) {}

  // Deletes everything past retention; returns how many deliveries.
  std::size_t run_once();
  // run_once every interval until stop is requested; database errors are logged and retried.
  void run(std::stop_token stop, std::chrono::milliseconds interval);

 private:
  ConnectionPool& db_;
  const Clock& clock_;
  std::chrono::seconds retention_;
  int batch_;
};

}  // namespace keyflow
