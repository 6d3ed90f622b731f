#pragma once

#include "consumers/delivery_queue.hpp"
#include "engine/crypto/keyring.hpp"
#include "engine/crypto/secret_box.hpp"
#include "engine/store/database.hpp"
#include "engine/webhooks/endpoint_health.hpp"
#include "engine/webhooks/webhook_delivery_store.hpp"

namespace keyflow {

// The event fan-out's deliveries (webhook_deliveries), grouped by subscription, signed with
// the subscription's secret; only enabled subscriptions' deliveries are due.
class WebhookDeliveryQueue final : public DeliveryQueue {
 public:
  // A subscription whose receiver has failed every attempt for disable_after is disabled.
  WebhookDeliveryQueue(ConnectionPool& pool, const Keyring& keyring,
                       std::chrono::seconds disable_after = kDefaultDisableAfter)
      : pool_(pool), box_(keyring), disable_after_(disable_after) {}

  static constexpr std::chrono::seconds kDefaultDisableAfter = std::chrono::hours(24 * 5);

  std::string_view name() const override { return "deliver"; }
  std::vector<DueDelivery> claim(TimePoint now, TimePoint lease_until, std::size_t limit,
                                 const std::vector<std::string>& saturated,
                                 const AdmitDelivery& admit) override;
  void record(const std::vector<DeliveryResult>& results, TimePoint now) override;
  void release(const std::vector<std::pair<std::string, TimePoint>>& leases) override;

 private:
  ConnectionPool& pool_;
  SecretBox box_;
  std::chrono::seconds disable_after_;
};

// A subscription's own retry schedule (seconds) as the sender uses it; null when invalid (the
// service lets only valid ones in).
std::shared_ptr<const RetrySchedule> retry_schedule_of(const std::vector<int>& seconds);

// A subscription's signing secrets, opened; wiped when it goes.
struct OpenedSecrets {
  std::string secret;
  std::string previous_secret;  // empty outside a secret rotation's overlap
  std::string signing_key;      // empty without Ed25519
  OpenedSecrets() = default;
  OpenedSecrets(const OpenedSecrets&) = delete;
  OpenedSecrets& operator=(const OpenedSecrets&) = delete;
  ~OpenedSecrets();
};

// Null when one of them does not open (a wrong master key).
std::unique_ptr<OpenedSecrets> open_secrets(const SealedSubscription& subscription,
                                            const SecretBox& box);

// A claimed row, its secrets opened; `error` says why it cannot be signed when one does not
// open.
DueDelivery open_due(DueWebhookDelivery row, const SecretBox& box, TimePoint lease_until);

// How each subscription's receiver did in a batch of results: what apply_endpoint_health
// (engine/webhooks/endpoint_health.hpp) keeps the failing streaks by.
std::vector<EndpointReport> endpoint_reports(const std::vector<DeliveryResult>& results);

}  // namespace keyflow
