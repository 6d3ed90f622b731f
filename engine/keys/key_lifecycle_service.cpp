#include "engine/keys/key_lifecycle_service.hpp"

#include "engine/core/time_format.hpp"
#include "engine/keys/api_key_store.hpp"
#include "engine/keys/cache_coherence_store.hpp"
#include "engine/keys/key_events.hpp"
#include "engine/keys/rotation_delivery_store.hpp"

namespace keyflow {
namespace {

const Actor kScheduler = Actor::system("scheduler");

// Runs one batch at a time until a batch comes back short.
template <class Fn>
int in_batches(ConnectionPool& db, int batch, Fn&& fn) {
  int total = 0;
  for (;;) {
    const int n = db.transact([&](pqxx::work& txn) { return fn(txn); });
    total += n;
    if (n < batch) return total;
  }
}

}  // namespace

int KeyLifecycleService::sweep(TimePoint now) {
  // Extensions first, so that a grace about to end is extended rather than ended.
  return undelivered(now) + grace_ended(now) + expiring(now) + expired(now);
}

int KeyLifecycleService::expiring(TimePoint now) {
  return in_batches(db_, options_.batch, [&](pqxx::work& txn) {
    const auto keys = ApiKeyStore::lock_expiring(txn, now, options_.expiry_warning, options_.batch);
    for (const auto& key : keys) {
      append_event(txn, key_event("api_key.expiring", key, key_event_data(key, kScheduler), now));
      ApiKeyStore::mark_expiring_sent(txn, key);
    }
    return static_cast<int>(keys.size());
  });
}

int KeyLifecycleService::expired(TimePoint now) {
  return in_batches(db_, options_.batch, [&](pqxx::work& txn) {
    const auto keys = ApiKeyStore::lock_expired(txn, now, options_.batch);
    for (const auto& key : keys) {
      append_event(txn, key_event("api_key.expired", key, key_event_data(key, kScheduler), now));
      ApiKeyStore::mark_expired_sent(txn, key);
    }
    return static_cast<int>(keys.size());
  });
}

int KeyLifecycleService::undelivered(TimePoint now) {
  return in_batches(db_, options_.batch, [&](pqxx::work& txn) {
    const auto due = RotationDeliveryStore::lock_undelivered_near_grace_end(
        txn, now, options_.extension_lead, options_.batch);
    for (const auto& d : due) {
      auto key = *ApiKeyStore::find(txn, d.old_key_id);
      const auto previous = *key.grace_expires_at;
      key.grace_expires_at = previous + options_.grace_extension;
      ApiKeyStore::set_grace_expires_at(txn, key.id, *key.grace_expires_at, now);
      RotationDeliveryStore::mark_grace_extended(txn, d.delivery_id, now);
      auto data = key_event_data(key, kScheduler);
      data["delivery_id"] = d.delivery_id;
      data["new_key_id"] = *key.replaced_by_key_id;
      data["previous_grace_expires_at"] = format_timestamp(previous);
      append_event(txn, key_event("api_key.rotation_undelivered", key, std::move(data), now));
      // The old key now verifies longer than caches may think.
      CacheCoherenceStore::notify_key_changed(txn, key.id);
    }
    return static_cast<int>(due.size());
  });
}

int KeyLifecycleService::grace_ended(TimePoint now) {
  return in_batches(db_, options_.batch, [&](pqxx::work& txn) {
    const auto keys = ApiKeyStore::lock_grace_ended(txn, now, options_.batch);
    for (const auto& key : keys) {
      auto data = key_event_data(key, kScheduler);
      // What was never delivered is erased now: the old key no longer works either.
      data["undelivered_rotations_erased"] =
          RotationDeliveryStore::expire_undelivered(txn, key.id, now);
      append_event(txn, key_event("api_key.grace_ended", key, std::move(data), now));
      ApiKeyStore::mark_grace_ended(txn, key.id, now);
    }
    return static_cast<int>(keys.size());
  });
}

}  // namespace keyflow
