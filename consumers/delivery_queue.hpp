#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "consumers/delivery_outcome.hpp"
#include "consumers/retry_schedule.hpp"
#include "consumers/webhook_client.hpp"
#include "engine/core/clock.hpp"
#include "engine/store/delivery_attempts.hpp"

namespace keyflow {

// A delivery a sender holds a lease on.
struct DeliveryClaim {
  std::string delivery_id;  // also the webhook-id header
  std::string group;        // deliveries of one group share a concurrency cap (an endpoint)
  TimePoint lease_until;    // the lease we set: proof that the delivery is still ours
  int attempt = 0;          // the number of this attempt, 1 for the first
  // The subscription's own retry schedule; null: the sender's.
  std::shared_ptr<const RetrySchedule> retry;
};

class FirstAttempts;

// A claimed delivery, opened: what to POST and the secret to sign it with. When it cannot be
// sent (its secret does not decrypt), `error` says why and it counts as a failed attempt.
struct DueDelivery {
  DeliveryClaim claim;
  std::string url;
  std::string body;
  std::string secret;  // whsec_..., wiped by the sender once signed
  // During a secret rotation's overlap, the previous secret: signed with as well.
  std::string previous_secret;
  // When the subscription signs with Ed25519 too: its secret key, wiped once signed.
  std::string signing_key;
  std::string traceparent;  // sent as the traceparent header when set
  std::string error;
  // Set for a first attempt sent before its delivery is written (consumers/first_attempts.hpp):
  // its result goes there until the delivery is.
  std::shared_ptr<FirstAttempts> first;
};

// An attempt that has finished, before its outcome is decided.
struct FinishedAttempt {
  DeliveryClaim claim;
  TimePoint attempted_at;
  WebhookResponse response;
};

struct DeliveryResult {
  DeliveryClaim claim;
  TimePoint attempted_at;
  WebhookResponse response;
  DeliveryOutcome outcome;
};

// What the attempt logs record of finished attempts.
std::vector<DeliveryAttempt> attempts_of(const std::vector<DeliveryResult>& results);

// Whether the sender takes one more delivery of `group` this round: under its concurrency cap,
// and under rate_limit attempts a second when the group has one. Counts what it admits.
using AdmitDelivery = std::function<bool(const std::string& group, std::optional<int> rate_limit)>;

// Where a DeliverySender's work comes from and where its attempts go: the event fan-out's
// webhook_deliveries, or the rotation webhooks' rotation_deliveries. Implementations hold the
// SQL; the sender holds the sending, the concurrency caps and the retry decisions.
class DeliveryQueue {
 public:
  virtual ~DeliveryQueue() = default;

  virtual std::string_view name() const = 0;  // for logs: "deliver", "rotation webhooks"

  // Claims at most `limit` due deliveries, leasing them until lease_until, skipping groups in
  // `saturated` and any that admit says no to.
  virtual std::vector<DueDelivery> claim(TimePoint now, TimePoint lease_until, std::size_t limit,
                                         const std::vector<std::string>& saturated,
                                         const AdmitDelivery& admit) = 0;

  // Records the attempts and each delivery's new state in one transaction; throws on
  // database errors (nothing is recorded then).
  virtual void record(const std::vector<DeliveryResult>& results, TimePoint now) = 0;

  // Hands leases back at shutdown, so that another sender may retry at once.
  virtual void release(const std::vector<std::pair<std::string, TimePoint>>& leases) = 0;
};

}  // namespace keyflow
