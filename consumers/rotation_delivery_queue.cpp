#include "consumers/rotation_delivery_queue.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include "engine/keys/rotation_delivery_store.hpp"
#include "engine/keys/rotation_webhook.hpp"
#include "engine/store/sql_values.hpp"

namespace keyflow {

std::vector<DueDelivery> RotationDeliveryQueue::claim(TimePoint now, TimePoint lease_until,
                                                      std::size_t limit,
                                                      const std::vector<std::string>& saturated,
                                                      const AdmitDelivery& admit) {
  return pool_.transact([&](pqxx::work& txn) {
    commit_without_waiting_for_disk(txn);
    std::vector<DueDelivery> due;
    std::vector<std::string> picked;
    for (const auto& candidate :
         RotationDeliveryStore::due_candidates(txn, now, limit, saturated)) {
      // One group per destination URL, so that one slow owner cannot take every slot.
      if (admit(candidate.url, std::nullopt)) picked.push_back(candidate.id);
    }
    for (auto& row : RotationDeliveryStore::lock_due(txn, picked, now, lease_until)) {
      DueDelivery d;
      d.claim = {row.id, row.url, lease_until, row.attempt, nullptr};
      d.url = row.url;
      std::optional<std::string> secret;
      if (row.secret_sealed) secret = box_.open(*row.secret_sealed, kRotationSecretContext);
      if (!secret) {
        d.error = "cannot decrypt the key's rotation webhook secret (wrong master key?)";
      } else if (row.sealed_key) {
        d.body = rotation_body(std::move(row.payload), "sealed_key", *row.sealed_key);
        d.secret = std::move(*secret);
      } else if (row.key_sealed) {
        auto key = box_.open(*row.key_sealed, kRotationKeyContext);
        if (key) {
          d.body = rotation_body(std::move(row.payload), "key", *key);
          sodium_memzero(key->data(), key->size());
          d.secret = std::move(*secret);
        } else {
          d.error = "cannot decrypt the rotated key (wrong master key?)";
        }
      } else {
        d.error = "the rotated key was already erased";
      }
      due.push_back(std::move(d));
    }
    return due;
  });
}

void RotationDeliveryQueue::record(const std::vector<DeliveryResult>& results, TimePoint now) {
  const auto attempts = attempts_of(results);
  // The commit waits for the disk: a recorded attempt survives a crash.
  const auto lost = pool_.transact(
      [&](pqxx::work& txn) { return RotationDeliveryStore::record_attempts(txn, attempts, now); });
  for (const auto& id : lost) {
    spdlog::warn("rotation webhooks: lease on {} ran out before its attempt was recorded", id);
  }
}

void RotationDeliveryQueue::release(const std::vector<std::pair<std::string, TimePoint>>& leases) {
  pool_.transact([&](pqxx::work& txn) {
    commit_without_waiting_for_disk(txn);
    for (const auto& [id, lease_until] : leases)
      RotationDeliveryStore::release(txn, id, lease_until);
  });
}

}  // namespace keyflow
