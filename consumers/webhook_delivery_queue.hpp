#pragma once

#include "consumers/delivery_queue.hpp"
#include "engine/crypto/master_key.hpp"
#include "engine/crypto/secret_box.hpp"
#include "engine/store/database.hpp"

namespace keyflow {

// The event fan-out's deliveries (webhook_deliveries), grouped by subscription, signed with
// the subscription's secret; only enabled subscriptions' deliveries are due.
class WebhookDeliveryQueue final : public DeliveryQueue {
 public:
  WebhookDeliveryQueue(ConnectionPool& pool, const MasterKey& master_key)
      : pool_(pool), box_(master_key) {}

  std::string_view name() const override { return "deliver"; }
  std::vector<DueDelivery> claim(TimePoint now, TimePoint lease_until, std::size_t limit,
                                 const std::vector<std::string>& saturated,
                                 const std::function<bool(const std::string&)>& admit) override;
  void record(const std::vector<DeliveryResult>& results, TimePoint now) override;
  void release(const std::vector<std::pair<std::string, TimePoint>>& leases) override;

 private:
  ConnectionPool& pool_;
  SecretBox box_;
};

}  // namespace keyflow
