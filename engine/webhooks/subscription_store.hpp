#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "engine/core/clock.hpp"
#include "engine/core/encoding.hpp"
#include "engine/core/model.hpp"

namespace keyflow {

// SQL for webhook subscriptions, and nothing else; inside the caller's transaction. Deleted
// subscriptions are never found.
class SubscriptionStore {
 public:
  // The Ed25519 key pair's columns; both unset for a subscription signed with HMAC alone.
  struct SigningKeyColumns {
    std::optional<Bytes> secret_key_sealed;
    std::optional<Bytes> public_key;
  };
  // secret_sealed: the whsec_ secret under the master key (engine/webhooks/webhook_secret.hpp).
  static void insert(pqxx::work& txn, const WebhookSubscription& subscription,
                     const Bytes& secret_sealed, const SigningKeyColumns& signing = {});

  // FOR UPDATE when `for_update`: a change holds the row until it commits.
  static std::optional<WebhookSubscription> find(pqxx::work& txn, const std::string& id,
                                                 bool for_update);

  struct ListQuery {
    // Unset: every tenant's (the admin's list); organization set, project unset: the whole
    // organization's, project-scoped ones included.
    std::optional<std::string> organization_id;
    std::optional<std::string> project_id;
    std::optional<std::pair<TimePoint, std::string>> after;  // (created_at, id) of the last seen
    int limit = 100;
  };
  // Oldest first, by (created_at, id).
  static std::vector<WebhookSubscription> list(pqxx::work& txn, const ListQuery& query);

  // Writes url, event_types, description, status, disabled_reason, retry_schedule, rate_limit
  // and updated_at.
  static void update(pqxx::work& txn, const WebhookSubscription& subscription);
  static void mark_deleted(pqxx::work& txn, const std::string& id, TimePoint at);

  // The sealed signing secret of a live subscription.
  static std::optional<Bytes> secret_sealed(pqxx::work& txn, const std::string& id);
  // The new secret takes over; the current one signs beside it until previous_expires_at
  // (not at all when that is not after `at`).
  static void replace_secret(pqxx::work& txn, const std::string& id, const Bytes& secret_sealed,
                             TimePoint previous_expires_at, TimePoint at);

  // Failing streaks (webhook_subscriptions.failing_since, schemas/sql/011_*), locked in id
  // order so that two senders recording the same subscriptions cannot deadlock.
  struct Failing {
    std::string id;
    TimePoint since;  // the batch's first failed attempt
    bool dead = false;
  };
  struct Streak {
    std::string id;
    TimePoint failing_since;  // the streak's start, after this batch
    bool enabled = false;
  };
  // Starts a streak where none is running; a dead delivery marks it reported.
  static std::vector<Streak> record_failures(pqxx::work& txn, const std::vector<Failing>& failing);
  struct Answered {
    std::string id;
    bool dead = false;  // a delivery of the batch went dead before the success
  };
  struct EndedStreak {
    std::string id;
    std::optional<TimePoint> failing_since;  // none when the streak began and ended in the batch
    bool reported = false;                   // it was reported: its end is announced
  };
  // Ends the running streaks of subscriptions whose receiver answered.
  static std::vector<EndedStreak> end_failing_streaks(pqxx::work& txn,
                                                      const std::vector<Answered>& answered);
  static void mark_failing_reported(pqxx::work& txn, const std::string& id);

  // Live subscriptions of one organization (or, with none, the unscoped ones), with the
  // organization's row locked first so that concurrent creates count one after another.
  static long count_for_cap(pqxx::work& txn, const std::optional<std::string>& organization_id);
  // Live subscriptions with this status.
  static long count_with_status(pqxx::work& txn, const std::string& status);
};

}  // namespace keyflow
