#include "consumers/rotation_scheduler.hpp"

#include <thread>

#include <spdlog/spdlog.h>

#include "engine/api_key_store.hpp"
#include "engine/errc.hpp"

namespace keyflow {

int RotationScheduler::run_once() {
  const auto now = clock_.now();
  int rotated = 0;
  while (rotated < options_.batch) {
    // One key per transaction: a key that cannot be rotated does not hold back the others.
    const bool more = db_.transact([&](pqxx::work& txn) {
      const auto due = ApiKeyStore::lock_due_for_rotation(txn, now, 1);
      if (due.empty()) return false;
      const auto key = ApiKeyStore::find(txn, due.front());
      const auto result =
          keys_.rotate_locked(txn, Actor::system("scheduler"), *key,
                              RotateOptions{options_.grace_period, std::nullopt}, now);
      spdlog::info("rotated key {} on schedule; replacement {}", result.old_key.id,
                   result.new_key.id);
      return true;
    });
    if (!more) break;
    ++rotated;
  }
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
