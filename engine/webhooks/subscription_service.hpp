#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/core/clock.hpp"
#include "engine/core/model.hpp"
#include "engine/crypto/secret_box.hpp"
#include "engine/store/database.hpp"
#include "engine/webhooks/destination_policy.hpp"

namespace keyflow {

struct NewSubscription {
  std::string url;
  std::vector<std::string> event_types;  // empty: every event
  std::optional<std::string> organization_id;
  std::optional<std::string> project_id;
};

struct CreatedSubscription {
  WebhookSubscription subscription;
  std::string secret;  // whsec_..., shown at creation; stored sealed
};

// Webhook subscriptions. The signing secret is stored sealed under the master key, because
// the deliverer needs it back to sign.
class SubscriptionService {
 public:
  // destinations vets the IP literals of subscription URLs.
  SubscriptionService(ConnectionPool& db, const MasterKey& master_key, const Clock& clock,
                      DestinationPolicy destinations = {})
      : db_(db), box_(master_key), clock_(clock), destinations_(std::move(destinations)) {}

  CreatedSubscription create(const Actor& actor, const NewSubscription& request);

 private:
  ConnectionPool& db_;
  SecretBox box_;
  const Clock& clock_;
  DestinationPolicy destinations_;
};

}  // namespace keyflow
