#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include "engine/core/clock.hpp"
#include "engine/core/model.hpp"
#include "engine/crypto/key_hasher.hpp"
#include "engine/crypto/secret_box.hpp"
#include "engine/keys/api_key_store.hpp"
#include "engine/keys/lifecycle.hpp"
#include "engine/keys/rotation_delivery_store.hpp"
#include "engine/keys/verify_cache.hpp"
#include "engine/store/database.hpp"
#include "engine/webhooks/destination_policy.hpp"

namespace keyflow {

struct NewKey {
  std::optional<std::string> organization_id;  // one of organization_id and project_id
  std::optional<std::string> project_id;
  std::optional<std::string> environment_id;  // an environment of the project
  std::string name;
  std::vector<std::string> scopes;
  std::optional<TimePoint> expires_at;
  std::optional<int> rotation_interval_days;
  std::optional<TimePoint> next_rotation_at;        // the first rotation, else created + interval
  std::optional<std::string> rotation_webhook_url;  // required by a schedule
  std::optional<std::string> rotation_public_key;   // base64 of an X25519 public key
  std::optional<int> rotation_grace_seconds;
  bool enabled = true;
  std::optional<std::string> meta;  // serialized JSON object
  std::vector<std::string> allowed_cidrs;
};

// A PATCH: an engaged member is a change; for nullable fields an engaged nullopt clears it.
struct KeyPatch {
  std::optional<std::string> name;
  std::optional<std::vector<std::string>> scopes;
  std::optional<std::optional<TimePoint>> expires_at;
  std::optional<std::optional<int>> rotation_interval_days;
  std::optional<std::optional<std::string>> rotation_webhook_url;
  std::optional<std::optional<std::string>> rotation_public_key;
  std::optional<std::optional<int>> rotation_grace_seconds;
  std::optional<std::optional<std::string>> environment_id;
  std::optional<bool> enabled;
  std::optional<std::optional<std::string>> meta;
  std::optional<std::vector<std::string>> allowed_cidrs;
};

struct KeyListRequest {
  std::optional<std::string> organization_id;
  std::optional<std::string> project_id;
  std::optional<std::string> environment_id;
  std::optional<std::string> state;   // active, revoked, expired
  int limit = 100;                    // 1..1000
  std::optional<std::string> cursor;  // from a previous page
};

struct KeyPage {
  std::vector<ApiKey> keys;
  std::optional<std::string> next_cursor;  // set when more keys follow
};

struct CreatedKey {
  ApiKey key;
  std::string plaintext;  // returned once, never stored
  // Issued when the key has a rotation_webhook_url: shown in this response only.
  std::optional<std::string> rotation_webhook_secret;
};

struct UpdatedKey {
  ApiKey key;
  // Issued when the PATCH set or changed rotation_webhook_url: shown in this response only.
  std::optional<std::string> rotation_webhook_secret;
};

struct RotateOptions {
  std::chrono::seconds grace_period{0};
  std::optional<TimePoint> expires_at;  // of the new key
  // For a scheduled rotation, the due time it is for: the replacement is due an interval
  // after it (not after now), so a schedule does not drift.
  std::optional<TimePoint> due_at;
};

struct Rotation {
  ApiKey old_key;  // with replaced_by_key_id and grace_expires_at set
  ApiKey new_key;
  std::string plaintext;
  std::optional<std::string> delivery_id;  // of the rotation webhook, when the key has one
};

// A key the caller has locked (ApiKeyStore::find_for_update or lock_due_for_rotation), to
// rotate, with what its rotation needs.
struct LockedRotation {
  const ApiKey& key;
  const RotationInputs& inputs;
  RotateOptions options;
};

// A locked key whose rotation the rules refused; it is left as it was.
struct RefusedRotation {
  std::string key_id;
  std::string reason;
};

struct VerifyRequest {
  std::string key;
  std::optional<std::string> ip;    // the caller's client address, checked against CIDRs
  std::vector<std::string> scopes;  // scopes the key must hold
};

struct VerifyResult {
  VerifyCode code = VerifyCode::not_found;
  SharedKeyPtr key;  // set unless NOT_FOUND or MALFORMED
};

// Makes a committed key change visible to the verify caches of every serve process; the
// key service calls it after each change commits and before the change returns.
class KeyChangeBarrier {
 public:
  virtual ~KeyChangeBarrier() = default;
  virtual void await_everywhere() = 0;
};

// The key lifecycle. Each mutation and its outbox event commit in one transaction; every
// operation checks the actor's reach and scopes (engine/tenancy/access.hpp).
class KeyService {
 public:
  // cache, usage and barrier are optional: without them verify reads the database,
  // last_used_at stays as it is, and other processes' caches learn of changes from the
  // key events alone. destinations vets the IP literals of rotation webhook URLs.
  KeyService(ConnectionPool& db, const Keyring& keyring, const Clock& clock,
             VerifyCache* cache = nullptr, UsageRecorder* usage = nullptr,
             KeyChangeBarrier* barrier = nullptr, DestinationPolicy destinations = {})
      : db_(db),
        hasher_(keyring.pepper()),
        box_(keyring),
        clock_(clock),
        cache_(cache),
        usage_(usage),
        barrier_(barrier),
        destinations_(std::move(destinations)) {}

  CreatedKey create(const Actor& actor, const NewKey& request);
  ApiKey get(const Actor& actor, const std::string& id);
  KeyPage list(const Actor& actor, const KeyListRequest& request);
  // Returns the key as it is after the change; emits api_key.updated only when something
  // changed.
  UpdatedKey update(const Actor& actor, const std::string& id, const KeyPatch& patch);
  // A new rotation webhook secret for the key, replacing the old one; shown once.
  std::string issue_rotation_secret(const Actor& actor, const std::string& id);
  // Idempotent: revoking a revoked key changes nothing and emits nothing.
  void revoke(const Actor& actor, const std::string& id);
  Rotation rotate(const Actor& actor, const std::string& id, const RotateOptions& options);
  VerifyResult verify(const Actor& caller, const VerifyRequest& request);

  // The key behind a bearer credential, when it is VALID (and allowed from remote_ip).
  std::optional<ApiKey> authenticate(std::string_view key, std::string_view remote_ip);

  // Rotates keys the caller has locked, inside the caller's transaction: the one path shared
  // by the HTTP rotate (one key) and the scheduler (a batch). The replacement inherits the
  // schedule, the rotation webhook and its secret; when the key has a rotation webhook, the
  // new plaintext is sealed for its delivery in the same transaction. Each key is held to
  // the rules on its own: one refused is listed in `refused` and left as it was (without
  // `refused`, its Error is thrown); the others are written together, a handful of
  // statements whatever their number. Database errors throw, with nothing written.
  std::vector<Rotation> rotate_locked(pqxx::work& txn, const Actor& actor,
                                      const std::vector<LockedRotation>& batch, TimePoint now,
                                      std::vector<RefusedRotation>* refused = nullptr);

  // Writes the recorded uses to last_used_at; returns how many keys were touched.
  std::size_t flush_usage();

 private:
  SharedKeyPtr lookup(std::string_view key);
  struct PlannedRotation;
  // The rules of one rotation and everything it will write; touches no database.
  PlannedRotation plan_rotation(const Actor& actor, const LockedRotation& locked, TimePoint now);
  // The new key sealed for its rotation webhook.
  RotationDelivery rotation_delivery(const Rotation& rotation, TimePoint now);
  // After a change to the key has committed: this process's cache, then everyone's.
  void changed(const std::string& key_id);

  ConnectionPool& db_;
  KeyHasher hasher_;
  SecretBox box_;
  const Clock& clock_;
  VerifyCache* cache_;
  UsageRecorder* usage_;
  KeyChangeBarrier* barrier_;
  DestinationPolicy destinations_;
};

}  // namespace keyflow
