#include "consumers/webhook_delivery_queue.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "engine/store/sql_values.hpp"
#include "engine/webhooks/subscription_service.hpp"
#include "engine/webhooks/webhook_delivery_store.hpp"
#include "engine/webhooks/webhook_secret.hpp"

namespace keyflow {

std::vector<DueDelivery> WebhookDeliveryQueue::claim(
    TimePoint now, TimePoint lease_until, std::size_t limit,
    const std::vector<std::string>& saturated,
    const std::function<bool(const std::string&)>& admit) {
  return pool_.transact([&](pqxx::work& txn) {
    commit_without_waiting_for_disk(txn);
    std::vector<std::string> picked;
    for (const auto& candidate : WebhookDeliveryStore::due_candidates(txn, now, limit, saturated)) {
      // One group per subscription, so that one slow endpoint cannot take every slot.
      if (admit(candidate.subscription_id)) picked.push_back(candidate.id);
    }
    std::vector<DueDelivery> due;
    std::vector<std::string> ids;
    for (auto& row : WebhookDeliveryStore::lock_due(txn, picked, now)) {
      DueDelivery d;
      d.claim = {row.id, row.subscription_id, lease_until, row.attempt};
      d.url = std::move(row.url);
      d.body = std::move(row.body);
      auto secret = box_.open(row.secret_sealed, kWebhookSecretContext);
      std::optional<std::string> previous;
      if (row.previous_secret_sealed) {
        previous = box_.open(*row.previous_secret_sealed, kWebhookSecretContext);
      }
      std::optional<std::string> signing_key;
      if (row.signing_key_sealed) {
        signing_key = box_.open(*row.signing_key_sealed, kWebhookSigningKeyContext);
      }
      if (secret && (previous || !row.previous_secret_sealed) &&
          (signing_key || !row.signing_key_sealed)) {
        d.secret = std::move(*secret);
        if (previous) d.previous_secret = std::move(*previous);
        if (signing_key) d.signing_key = std::move(*signing_key);
      } else {
        d.error = "cannot decrypt the subscription's signing secret (wrong master key?)";
      }
      ids.push_back(row.id);
      due.push_back(std::move(d));
    }
    WebhookDeliveryStore::lease(txn, ids, lease_until);
    return due;
  });
}

void WebhookDeliveryQueue::record(const std::vector<DeliveryResult>& results, TimePoint now) {
  const auto attempts = attempts_of(results);
  std::vector<std::string> gone;
  for (const auto& r : results) {
    if (r.outcome.endpoint_gone &&
        std::find(gone.begin(), gone.end(), r.claim.group) == gone.end()) {
      gone.push_back(r.claim.group);
    }
  }
  const auto lost = pool_.transact([&](pqxx::work& txn) {
    // A disabled subscription's event must not be lost in a crash: then this commit waits.
    if (gone.empty()) commit_without_waiting_for_disk(txn);
    if (!gone.empty()) {
      const auto disabled = disable_subscriptions(txn, gone, "the receiver answered 410 Gone", now,
                                                  Actor::system("deliver"));
      if (disabled > 0) spdlog::warn("deliver: {} subscriptions disabled: 410 Gone", disabled);
    }
    return WebhookDeliveryStore::record_attempts(txn, attempts, now);
  });
  for (const auto& id : lost) {
    spdlog::warn("deliver: lease on {} ran out before its attempt was recorded", id);
  }
}

void WebhookDeliveryQueue::release(const std::vector<std::pair<std::string, TimePoint>>& leases) {
  pool_.transact([&](pqxx::work& txn) {
    commit_without_waiting_for_disk(txn);
    for (const auto& [id, lease_until] : leases)
      WebhookDeliveryStore::release(txn, id, lease_until);
  });
}

}  // namespace keyflow
