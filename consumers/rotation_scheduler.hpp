#pragma once

#include <atomic>
#include <chrono>
#include <stop_token>
#include <vector>

#include "engine/core/clock.hpp"
#include "engine/keys/key_lifecycle_service.hpp"
#include "engine/keys/key_service.hpp"
#include "engine/store/database.hpp"

namespace keyflow {

struct ScheduleOptions {
  // How often to look for due keys: a key is rotated well within a second of its due time.
  std::chrono::milliseconds interval{250};
  // The old key's grace after a scheduled rotation, unless the key sets
  // rotation_grace_seconds.
  std::chrono::seconds grace_period{24 * 3600};
  int batch = 200;  // keys per transaction
  int workers = 2;  // batches in flight at once, each on its own connection
};

// Rotates keys whose next_rotation_at has come, through the same engine path as the HTTP
// rotate, in batches of keys per transaction. The key row is the lock: a due key is locked
// (SKIP LOCKED, so schedulers share the work) by the query that finds it due, so two
// schedulers, or a manual rotate racing one, never rotate one key twice for one due time;
// the rotation webhook's delivery commits with the rotation. Then the lifecycle sweep
// (expiry warnings, expiries, grace ends) for the same `now`.
class RotationScheduler {
 public:
  RotationScheduler(ConnectionPool& db, KeyService& keys, const Clock& clock,
                    ScheduleOptions options = {}, KeyLifecycleService* lifecycle = nullptr)
      : db_(db), keys_(keys), clock_(clock), options_(options), lifecycle_(lifecycle) {}

  // One round at clock.now(); returns how many keys were rotated.
  int run_once();
  // Rounds every interval until stop is requested.
  void run(std::stop_token stop);
  // How late the last round found the most overdue key it rotated (its now minus the key's
  // next_rotation_at), in seconds; 0 when nothing was due. Any thread.
  double lag_seconds() const { return lag_seconds_.load(std::memory_order_relaxed); }

 private:
  struct Round {
    int locked = 0;   // due keys this round took
    int rotated = 0;  // of which rotated
  };
  Round rotate_batch(TimePoint now);
  int rotate_one_by_one(pqxx::work& txn, const Actor& actor,
                        const std::vector<LockedRotation>& batch, TimePoint now,
                        std::vector<RefusedRotation>& refused);

  ConnectionPool& db_;
  KeyService& keys_;
  const Clock& clock_;
  ScheduleOptions options_;
  KeyLifecycleService* lifecycle_;
  std::atomic<double> lag_seconds_{0};
  std::atomic<double> round_lag_seconds_{0};  // the round in progress
};

}  // namespace keyflow
