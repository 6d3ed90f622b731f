#pragma once

#include "consumers/delivery_queue.hpp"
#include "engine/crypto/keyring.hpp"
#include "engine/crypto/secret_box.hpp"
#include "engine/store/database.hpp"

namespace keyflow {

// The rotation webhooks (rotation_deliveries): each carries a rotated key's replacement to
// its owner, signed with the key's rotation webhook secret. The plaintext is opened only
// here, to build the body of an attempt; a success erases it at rest.
class RotationDeliveryQueue final : public DeliveryQueue {
 public:
  RotationDeliveryQueue(ConnectionPool& pool, const Keyring& keyring)
      : pool_(pool), box_(keyring) {}

  std::string_view name() const override { return "rotation webhooks"; }
  std::vector<DueDelivery> claim(TimePoint now, TimePoint lease_until, std::size_t limit,
                                 const std::vector<std::string>& saturated,
                                 const AdmitDelivery& admit) override;
  void record(const std::vector<DeliveryResult>& results, TimePoint now) override;
  void release(const std::vector<std::pair<std::string, TimePoint>>& leases) override;

 private:
  ConnectionPool& pool_;
  SecretBox box_;
};

}  // namespace keyflow
