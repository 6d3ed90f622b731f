#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "engine/core/clock.hpp"
#include "engine/core/model.hpp"

namespace keyflow {

// How one subscription's receiver did in one batch of recorded attempts.
struct EndpointReport {
  std::string subscription_id;
  bool failed = false;          // at least one attempt failed
  TimePoint first_failure;      // the earliest failed attempt, when failed
  bool succeeded_last = false;  // its latest attempt succeeded
  bool dead = false;            // a delivery went dead
  bool gone = false;            // the receiver answered 410 Gone
};

struct EndpointHealthChanges {
  std::size_t disabled = 0;
  std::size_t recovered = 0;
  bool events() const { return disabled + recovered > 0; }
};

// Keeps each subscription's failing streak, inside the caller's transaction (the one that
// records the attempts). A failure starts the streak (failing_since) unless one is running; a
// subscription failing for `disable_after`, or whose receiver answered 410, is disabled, with
// webhook_subscription.updated and webhook.endpoint_disabled. A success ends the streak; when
// a delivery had gone dead during it, webhook.endpoint_recovered says the receiver is back.
EndpointHealthChanges apply_endpoint_health(pqxx::work& txn,
                                            const std::vector<EndpointReport>& reports,
                                            TimePoint now, std::chrono::seconds disable_after);

// Disables the enabled or paused subscriptions among `ids`, inside the caller's transaction,
// each with `reason` and a webhook_subscription.updated by `actor`, and, when the deliverer
// disables it, webhook.endpoint_disabled. Returns the subscriptions it disabled.
std::vector<WebhookSubscription> disable_subscriptions(pqxx::work& txn,
                                                       const std::vector<std::string>& ids,
                                                       const std::string& reason, TimePoint now,
                                                       const Actor& actor);

}  // namespace keyflow
