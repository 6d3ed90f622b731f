#include "consumers/rotation_scheduler.hpp"

#include <atomic>
#include <future>
#include <thread>

#include <spdlog/spdlog.h>

#include "engine/core/errc.hpp"
#include "engine/core/interruptible_wait.hpp"
#include "engine/keys/api_key_store.hpp"

namespace keyflow {

RotationScheduler::Round RotationScheduler::rotate_batch(TimePoint now) {
  return db_.transact([&](pqxx::work& txn) {
    // The key rows are the locks: SKIP LOCKED shares due keys between schedulers, and a row
    // a manual rotate holds is skipped here and no longer due once that rotate commits.
    const auto due = ApiKeyStore::lock_due_for_rotation(txn, now, options_.batch);
    std::vector<LockedRotation> batch;
    batch.reserve(due.size());
    for (const auto& locked : due) {
      if (locked.key.next_rotation_at) {
        const double late =
            std::chrono::duration<double>(now - *locked.key.next_rotation_at).count();
        double seen = round_lag_seconds_.load(std::memory_order_relaxed);
        while (late > seen && !round_lag_seconds_.compare_exchange_weak(seen, late)) {
        }
      }
      RotateOptions rotate;
      rotate.grace_period = locked.key.rotation_grace_seconds
                                ? std::chrono::seconds(*locked.key.rotation_grace_seconds)
                                : options_.grace_period;
      rotate.due_at = locked.key.next_rotation_at;
      batch.push_back({locked.key, locked.inputs, rotate});
    }
    const auto actor = Actor::system("scheduler");
    Round round{static_cast<int>(due.size()), 0};
    std::vector<RefusedRotation> refused;
    // The whole batch in a few statements; should the database refuse them, key by key
    // behind savepoints, so that one key that cannot be written does not hold back the rest.
    try {
      round.rotated = within_savepoint(txn, [&] {
        return static_cast<int>(keys_.rotate_locked(txn, actor, batch, now, &refused).size());
      });
    } catch (const std::exception& e) {
      spdlog::warn("scheduled rotation of {} keys failed ({}); rotating them one by one",
                   batch.size(), e.what());
      refused.clear();
      round.rotated = rotate_one_by_one(txn, actor, batch, now, refused);
    }
    for (const auto& r : refused) {
      spdlog::warn("scheduled rotation of key {} refused: {}", r.key_id, r.reason);
    }
    return round;
  });
}

int RotationScheduler::rotate_one_by_one(pqxx::work& txn, const Actor& actor,
                                         const std::vector<LockedRotation>& batch, TimePoint now,
                                         std::vector<RefusedRotation>& refused) {
  int rotated = 0;
  for (const auto& one : batch) {
    try {
      rotated += within_savepoint(txn, [&] {
        return static_cast<int>(keys_.rotate_locked(txn, actor, {one}, now, &refused).size());
      });
    } catch (const std::exception& e) {
      refused.push_back({one.key.id, e.what()});
    }
  }
  return rotated;
}

int RotationScheduler::run_once() {
  const auto now = clock_.now();
  round_lag_seconds_ = 0;
  std::atomic<int> rotated{0};
  const auto drain = [&] {
    for (;;) {
      const auto round = rotate_batch(now);
      rotated += round.rotated;
      // A full batch may have left more due (a refused key stays due, for the next round).
      if (round.locked < options_.batch || round.rotated == 0) break;
    }
  };
  // Workers each take batches (SKIP LOCKED keeps them apart), so that one plans its batch
  // while the database writes another's.
  std::vector<std::future<void>> others;
  for (int i = 1; i < options_.workers; ++i)
    others.push_back(std::async(std::launch::async, drain));
  drain();
  for (auto& other : others)
    other.get();  // rethrows what a worker threw
  lag_seconds_ = round_lag_seconds_.load();
  if (rotated > 0) spdlog::info("rotated {} keys on schedule", rotated.load());
  if (lifecycle_) lifecycle_->sweep(now);
  return rotated;
}

void RotationScheduler::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    try {
      run_once();
    } catch (const std::exception& e) {
      spdlog::warn("scheduler round failed: {}", e.what());
    }
    sleep_unless_stopped(stop, options_.interval);
  }
}

}  // namespace keyflow
