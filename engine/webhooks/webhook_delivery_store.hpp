#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "engine/core/clock.hpp"
#include "engine/core/encoding.hpp"
#include "engine/store/delivery_attempts.hpp"
#include "engine/webhooks/delivery_log.hpp"

namespace keyflow {

// One event on its way to one subscription.
struct NewWebhookDelivery {
  std::string id;  // the webhook-id
  std::string subscription_id;
  std::string event_id;
  std::string event_type;
  std::string body;           // the exact body POSTed on every attempt
  std::string traceparent{};  // the event's trace context, sent along; empty for none
};

// What sending to a subscription takes, its secrets still sealed.
struct SealedSubscription {
  std::string url;
  Bytes secret;
  std::optional<Bytes> previous_secret;            // while a secret rotation overlaps
  std::optional<Bytes> signing_key;                // the Ed25519 secret key, when it has one
  std::optional<std::vector<int>> retry_schedule;  // the subscription's own, in seconds
};

// A claimed delivery: everything needed to send it, the secrets still sealed.
struct DueWebhookDelivery {
  std::string id;
  std::string subscription_id;
  int attempt = 0;  // the number of this attempt, 1 for the first
  std::string body;
  SealedSubscription subscription;
  std::string traceparent;  // empty for none
};

// An enabled subscription an event goes to, with what sending to it takes.
struct SubscriptionTarget {
  std::string id;
  SealedSubscription sending;
  std::optional<int> rate_limit;  // attempts a second, when limited
};

// A delivery written once the fan-out has tried it: with its first attempt and that attempt's
// outcome when it has finished, else leased to the sender that is still trying it, else
// simply pending.
struct FannedOutDelivery {
  NewWebhookDelivery delivery;
  std::optional<DeliveryAttempt> attempt;  // status and next_attempt_at are the outcome's
  std::optional<TimePoint> lease_until;    // without an attempt: in flight until then
};

// SQL for webhook_deliveries and webhook_attempts (schemas/sql/001_initial.sql), and nothing
// else; inside the caller's transaction.
class WebhookDeliveryStore {
 public:
  // The enabled subscriptions an event goes to: event_types empty or holding its type or a
  // wildcard over it (api_key.* holds api_key.created), and
  // organization and project unset or equal to the event's.
  static std::vector<std::string> matching_subscriptions(
      pqxx::work& txn, const std::string& event_type,
      const std::optional<std::string>& organization_id,
      const std::optional<std::string>& project_id);

  // The same, with what sending takes: for first attempts sent before the delivery is written.
  static std::vector<SubscriptionTarget> matching_targets(
      pqxx::work& txn, const std::string& event_type,
      const std::optional<std::string>& organization_id,
      const std::optional<std::string>& project_id, TimePoint now);

  // The delivery ids among `ids` written already (an event consumed again: its deliveries' ids
  // are their pairs', delivery_id_for).
  static std::vector<std::string> existing(pqxx::work& txn, const std::vector<std::string>& ids);

  // The deliveries and the attempts of those tried, in one statement; a delivery already
  // recorded (its id, which is its pair's) is left as it is, and its attempt is not recorded.
  // Returns the ids written.
  static std::vector<std::string> insert_fanned_out(pqxx::work& txn,
                                                    const std::vector<FannedOutDelivery>& rows,
                                                    TimePoint at);

  // In one statement; a delivery already recorded (its id, which is its pair's) is left as it
  // is. Returns how many were new.
  static std::size_t insert(pqxx::work& txn, const std::vector<NewWebhookDelivery>& deliveries,
                            TimePoint at);

  // Claiming is two steps, as for rotation deliveries (RotationDeliveryStore): due_candidates
  // reads without locking, the sender picks by its caps, and lock_due leases what was picked
  // that is still due and free until lease_until, in one statement, hiding it from other
  // senders. Only enabled subscriptions' deliveries are due. lease() leases by id alone.
  struct Candidate {
    std::string id;
    std::string subscription_id;
    std::optional<int> rate_limit;  // the subscription's, attempts a second
  };
  static std::vector<Candidate> due_candidates(pqxx::work& txn, TimePoint now, std::size_t limit,
                                               const std::vector<std::string>& skip_subscriptions);
  static std::vector<DueWebhookDelivery> lock_due(pqxx::work& txn,
                                                  const std::vector<std::string>& ids,
                                                  TimePoint now, TimePoint lease_until);
  static void lease(pqxx::work& txn, const std::vector<std::string>& ids, TimePoint lease_until);
  // One delivery as lock_due reads it, whatever its state or its subscription's: for a test
  // event the caller has just inserted and leased.
  static std::optional<DueWebhookDelivery> sending(pqxx::work& txn, const std::string& id,
                                                   TimePoint now);

  // The attempts and each delivery's new state, in two statements; returns the ids whose
  // lease had run out (their attempts are recorded all the same, their state is not).
  static std::vector<std::string> record_attempts(pqxx::work& txn,
                                                  const std::vector<DeliveryAttempt>& attempts,
                                                  TimePoint now);
  static void release(pqxx::work& txn, const std::string& id, TimePoint lease_until);

  // Fresh planner statistics for webhook_deliveries (ANALYZE; a warning and nothing else
  // for a role that does not own it); returns the table's row count as they now estimate it.
  static double analyze(pqxx::work& txn);
  // How many deliveries wait, per subscription that has any (live or not).
  static std::vector<std::pair<std::string, long>> pending_by_subscription(pqxx::work& txn);

  // The delivery log, newest first by (created_at, id), of live subscriptions only.
  struct LogQuery {
    std::optional<std::string> subscription_id;
    std::optional<std::string> organization_id;  // of the subscription
    std::optional<std::string> project_id;
    std::optional<std::string> status;
    std::optional<std::string> event_type;
    std::optional<std::pair<TimePoint, std::string>> before;  // (created_at, id) of the last seen
    int limit = 100;
  };
  static std::vector<WebhookDelivery> list(pqxx::work& txn, const LogQuery& query);
  // The delivery and the body it sends.
  static std::optional<std::pair<WebhookDelivery, std::string>> find(pqxx::work& txn,
                                                                     const std::string& id);
  static std::vector<WebhookAttempt> attempts(pqxx::work& txn, const std::string& delivery_id);
  // Pending and due at `now`; a sender holding it keeps its lease.
  static void requeue(pqxx::work& txn, const std::string& id, TimePoint now);
  // Up to `batch` succeeded or dead deliveries last changed before `cutoff`, with their
  // attempts, in one statement; returns how many deliveries.
  static std::size_t delete_finished_before(pqxx::work& txn, TimePoint cutoff, int batch);
  // Up to `batch` dead deliveries of the subscription created at or after `since`, requeued;
  // returns how many.
  static std::size_t requeue_dead(pqxx::work& txn, const std::string& subscription_id,
                                  TimePoint since, TimePoint now, int batch);
};

}  // namespace keyflow
