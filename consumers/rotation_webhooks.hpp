#pragma once

#include <stop_token>

#include "consumers/delivery_sender.hpp"
#include "engine/core/clock.hpp"
#include "engine/crypto/keyring.hpp"
#include "engine/store/database.hpp"
#include "engine/webhooks/destination_policy.hpp"

namespace keyflow {

struct RotationWebhookOptions {
  DestinationPolicy destinations;  // engine/webhooks/destination_policy.hpp
  std::string ca_file;             // extra trust anchors for HTTPS
  SenderOptions sender;            // the webhook retry schedule, timeouts, concurrency
};

// The schedule role's sender of rotation webhooks: each rotated key's replacement, POSTed to
// its rotation_webhook_url with the retries and the attempt log of event webhooks.
class RotationWebhooks {
 public:
  RotationWebhooks(ConnectionPool& pool, const Keyring& keyring, const Clock& clock,
                   RotationWebhookOptions options = {})
      : pool_(pool), keyring_(keyring), clock_(clock), options_(std::move(options)) {}

  // Sends until stop is requested, then waits briefly for attempts in flight.
  void run(std::stop_token stop);

 private:
  ConnectionPool& pool_;
  Keyring keyring_;
  const Clock& clock_;
  RotationWebhookOptions options_;
};

}  // namespace keyflow
