#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <pqxx/pqxx>

#include "engine/core/clock.hpp"
#include "engine/core/encoding.hpp"
#include "engine/store/delivery_attempts.hpp"

namespace keyflow {

// A rotation's new key on its way to the owner's rotation_webhook_url.
struct RotationDelivery {
  std::string id;  // the webhook-id
  std::string old_key_id;
  std::string new_key_id;
  std::string url;
  boost::json::object payload;            // the body without the key
  std::optional<Bytes> key_sealed;        // the plaintext under the master key, or
  std::optional<std::string> sealed_key;  // base64 crypto_box_seal to the owner's public key
  TimePoint next_attempt_at;
};

// A claimed delivery: everything needed to send it, still sealed.
struct DueRotationDelivery {
  std::string id;
  std::string url;
  int attempt = 0;  // the number of this attempt, 1 for the first
  boost::json::object payload;
  std::optional<Bytes> key_sealed;
  std::optional<std::string> sealed_key;
  std::optional<Bytes> secret_sealed;  // the key's rotation webhook secret
};

// SQL for rotation_deliveries and their attempts (schemas/sql/008_scheduled_rotation.sql).
class RotationDeliveryStore {
 public:
  // In one statement, however many.
  static void insert(pqxx::work& txn, const std::vector<RotationDelivery>& deliveries,
                     TimePoint at);

  // Claiming is two steps, so that only what the sender takes is locked: due_candidates reads
  // (without locking) at most `limit` due, pending deliveries whose lease is free, in due
  // order, leaving out the URLs in `skip_urls` (their senders are busy); the sender picks
  // from them by its caps, and lock_due leases those picked that are still due and free
  // (SKIP LOCKED) until lease_until, hiding them from other senders, and returns what sending
  // them needs, in one statement.
  struct Candidate {
    std::string id;
    std::string url;
  };
  static std::vector<Candidate> due_candidates(pqxx::work& txn, TimePoint now, std::size_t limit,
                                               const std::vector<std::string>& skip_urls);
  static std::vector<DueRotationDelivery> lock_due(pqxx::work& txn,
                                                   const std::vector<std::string>& ids,
                                                   TimePoint now, TimePoint lease_until);

  // One attempt per record and each delivery's new state, in two statements whatever their
  // number. A delivery's state changes only while its lease is still ours; returns the ids
  // whose lease had run out (their attempts are recorded all the same). A success erases
  // the key material.
  static std::vector<std::string> record_attempts(pqxx::work& txn,
                                                  const std::vector<DeliveryAttempt>& attempts,
                                                  TimePoint now);
  static void release(pqxx::work& txn, const std::string& id, TimePoint lease_until);

  // Undelivered rotations (pending or dead, not yet extended) whose old key's grace ends
  // within `lead` of now but has not ended: the scheduler extends those graces once.
  struct Undelivered {
    std::string delivery_id;
    std::string old_key_id;
  };
  static std::vector<Undelivered> lock_undelivered_near_grace_end(pqxx::work& txn, TimePoint now,
                                                                  std::chrono::seconds lead,
                                                                  int limit);
  // Marks the extension done and gives the delivery a fresh round of attempts.
  static void mark_grace_extended(pqxx::work& txn, const std::string& delivery_id, TimePoint now);
  // The old key's grace is over: erase what is still undelivered, for good.
  static int expire_undelivered(pqxx::work& txn, const std::string& old_key_id, TimePoint now);
};

}  // namespace keyflow
