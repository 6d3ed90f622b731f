#pragma once

#include <chrono>
#include <stop_token>

#include "engine/clock.hpp"
#include "engine/database.hpp"
#include "engine/key_service.hpp"

namespace keyflow {

struct ScheduleOptions {
  std::chrono::milliseconds interval{1000};      // how often to look for due keys
  std::chrono::seconds grace_period{24 * 3600};  // the old key's grace after a scheduled rotation
  int batch = 100;                               // keys per round at most
};

// Rotates keys whose next_rotation_at has come, through the same engine path as the HTTP
// rotate. The key row is the lock: each rotation locks its row (SKIP LOCKED, so schedulers
// share the work) and re-checks that it is still due, so two schedulers never rotate one key
// twice for the same due time.
class RotationScheduler {
 public:
  RotationScheduler(ConnectionPool& db, KeyService& keys, const Clock& clock,
                    ScheduleOptions options = {})
      : db_(db), keys_(keys), clock_(clock), options_(options) {}

  // One round at clock.now(); returns how many keys were rotated.
  int run_once();
  // Rounds every interval until stop is requested.
  void run(std::stop_token stop);

 private:
  ConnectionPool& db_;
  KeyService& keys_;
  const Clock& clock_;
  ScheduleOptions options_;
};

}  // namespace keyflow
