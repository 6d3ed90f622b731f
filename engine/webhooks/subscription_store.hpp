#pragma once

#include <pqxx/pqxx>

#include "engine/core/encoding.hpp"
#include "engine/core/model.hpp"

namespace keyflow {

// SQL for webhook subscriptions, and nothing else; inside the caller's transaction.
class SubscriptionStore {
 public:
  // secret_sealed: the whsec_ secret under the master key (engine/webhooks/webhook_secret.hpp).
  static void insert(pqxx::work& txn, const WebhookSubscription& subscription,
                     const Bytes& secret_sealed);
};

}  // namespace keyflow
