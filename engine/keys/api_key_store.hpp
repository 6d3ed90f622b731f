#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "engine/core/encoding.hpp"
#include "engine/core/model.hpp"

namespace keyflow {

// What rotating a key needs besides its row: the visible prefix and environment name its new
// text carries, and its rotation webhook secret (sealed), which the replacement inherits.
struct RotationInputs {
  std::string key_prefix = "kf";  // the project's, or keyflow's own for a key of no project
  std::string environment;        // the environment's name; empty for none
  std::optional<Bytes> rotation_secret_sealed;
};

// A key locked for rotation, with what its rotation needs.
struct LockedKey {
  ApiKey key;
  RotationInputs inputs;
};

// A key row to write: the key, its hash and its sealed rotation secret, if any.
struct KeyRow {
  const ApiKey& key;
  const Bytes& key_hash;
  const std::optional<Bytes>& rotation_secret_sealed;
};

// A rotated key's new state: replaced by `replaced_by`, working until grace_expires_at.
struct Replacement {
  std::string id;
  std::string replaced_by;
  TimePoint grace_expires_at;
};

// SQL for the api_keys table. Every function works inside the caller's transaction, so that
// the service can add the outbox row to the same commit.
class ApiKeyStore {
 public:
  // False when key.id is taken (ids are random: draw another).
  static bool insert(pqxx::work& txn, const ApiKey& key, const Bytes& key_hash,
                     const std::optional<Bytes>& rotation_secret_sealed = std::nullopt);
  // Many rows in one statement (the scheduler's batches).
  static void insert_many(pqxx::work& txn, const std::vector<KeyRow>& rows);
  // The rotation webhook's signing secret, sealed (engine/keys/rotation_webhook.hpp's context).
  static void set_rotation_secret(pqxx::work& txn, const std::string& id,
                                  const std::optional<Bytes>& sealed, TimePoint at);
  static std::optional<ApiKey> find(pqxx::work& txn, const std::string& id);
  // Locks the row until the transaction ends: concurrent changes to one key serialize here,
  // which also keeps its outbox events in commit order.
  static std::optional<ApiKey> find_for_update(pqxx::work& txn, const std::string& id);
  static std::optional<ApiKey> find_by_hash(pqxx::work& txn, const Bytes& key_hash);

  struct ListQuery {
    std::optional<std::string> organization_id;
    std::optional<std::string> project_id;
    std::optional<std::string> environment_id;
    std::optional<std::string> state;  // active, revoked or expired (at `now`)
    TimePoint now;
    // Keyset pagination, newest first: rows strictly older than (created_at, id).
    std::optional<std::pair<TimePoint, std::string>> after;
    int limit = 100;
  };
  static std::vector<ApiKey> list(pqxx::work& txn, const ListQuery& query);

  // Writes every mutable column of the key (the PATCH path reads, changes, writes back).
  static void update(pqxx::work& txn, const ApiKey& key, TimePoint at);

  // Moves last_used_at forward for many keys in one statement; never backwards.
  static void record_last_used(pqxx::work& txn,
                               const std::vector<std::pair<std::string, TimePoint>>& uses);

  static void mark_revoked(pqxx::work& txn, const std::string& id, TimePoint at);
  static void mark_replaced(pqxx::work& txn, const std::vector<Replacement>& replacements,
                            TimePoint at);
  // What rotating the key needs (see RotationInputs).
  static RotationInputs rotation_inputs(pqxx::work& txn, const std::string& id);

  // Due-time sweeps, each locking what it returns (SKIP LOCKED: sweepers share the work).
  // Live keys (not revoked, not replaced) whose expires_at is within `warning` of now, not yet
  // warned of for this expires_at; and those whose expires_at has passed, not yet reported.
  static std::vector<ApiKey> lock_expiring(pqxx::work& txn, TimePoint now,
                                           std::chrono::seconds warning, int limit);
  static std::vector<ApiKey> lock_expired(pqxx::work& txn, TimePoint now, int limit);
  static void mark_expiring_sent(pqxx::work& txn, const ApiKey& key);
  static void mark_expired_sent(pqxx::work& txn, const ApiKey& key);
  // Rotated keys whose grace has ended, not yet reported.
  static std::vector<ApiKey> lock_grace_ended(pqxx::work& txn, TimePoint now, int limit);
  static void mark_grace_ended(pqxx::work& txn, const std::string& id, TimePoint at);
  static void set_grace_expires_at(pqxx::work& txn, const std::string& id, TimePoint until,
                                   TimePoint at);

  // Keys whose next_rotation_at has come, locked, skipping rows another scheduler holds,
  // each with its RotationInputs read by the same statement.
  static std::vector<LockedKey> lock_due_for_rotation(pqxx::work& txn, TimePoint now, int limit);
};

}  // namespace keyflow
