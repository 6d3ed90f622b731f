#include "consumers/rotation_scheduler.hpp"

#include <thread>

#include <spdlog/spdlog.h>

#include "engine/api_key_store.hpp"
#include "engine/errc.hpp"

namespace keyflow {

int RotationScheduler::rotate_batch(TimePoint now) {
  return db_.transact([&](pqxx::work& txn) {
    // The key rows are the locks: SKIP LOCKED shares due keys between schedulers, and a row
    // a manual rotate holds is skipped here and no longer due once that rotate commits.
    const auto due = ApiKeyStore::lock_due_for_rotation(txn, now, options_.batch);
    int rotated = 0;
    for (const auto& key : due) {
      // Each key behind a savepoint: one that fails is rolled back and skipped, and does not
      // hold back the others of its batch.
      txn.exec("SAVEPOINT rotate_one");
      try {
        RotateOptions rotate;
        rotate.grace_period = key.rotation_grace_seconds
                                  ? std::chrono::seconds(*key.rotation_grace_seconds)
                                  : options_.grace_period;
        rotate.due_at = key.next_rotation_at;
        const auto result = keys_.rotate_locked(txn, Actor::system("scheduler"), key, rotate, now);
        txn.exec("RELEASE SAVEPOINT rotate_one");
        ++rotated;
        spdlog::debug("rotated key {} on schedule; replacement {}", result.old_key.id,
                      result.new_key.id);
      } catch (const std::exception& e) {
        txn.exec("ROLLBACK TO SAVEPOINT rotate_one");
        spdlog::warn("scheduled rotation of key {} failed: {}", key.id, e.what());
      }
    }
    return rotated;
  });
}

int RotationScheduler::run_once() {
  const auto now = clock_.now();
  int rotated = 0;
  for (;;) {
    const int n = rotate_batch(now);
    rotated += n;
    if (n < options_.batch) break;
  }
  if (rotated > 0) spdlog::info("rotated {} keys on schedule", rotated);
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
    // Sleep in short steps so that a stop is honoured promptly.
    const auto until = std::chrono::steady_clock::now() + options_.interval;
    while (!stop.stop_requested() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

}  // namespace keyflow
