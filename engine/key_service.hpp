#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include "engine/clock.hpp"
#include "engine/database.hpp"
#include "engine/key_hasher.hpp"
#include "engine/lifecycle.hpp"
#include "engine/model.hpp"

namespace keyflow {

struct NewKey {
  std::optional<std::string> organization_id;  // one of organization_id and project_id
  std::optional<std::string> project_id;
  std::string name;
  std::vector<std::string> scopes;
  std::optional<TimePoint> expires_at;
  std::optional<int> rotation_interval_days;
  std::optional<TimePoint> next_rotation_at;  // the first rotation, else created + interval
  std::optional<std::string> rotation_webhook_url;
};

struct CreatedKey {
  ApiKey key;
  std::string plaintext;  // returned once, never stored
};

struct RotateOptions {
  std::chrono::seconds grace_period{0};
  std::optional<TimePoint> expires_at;  // of the new key
};

struct Rotation {
  ApiKey old_key;  // with replaced_by_key_id and grace_expires_at set
  ApiKey new_key;
  std::string plaintext;
};

struct VerifyResult {
  VerifyCode code = VerifyCode::not_found;
  std::optional<ApiKey> key;  // set unless NOT_FOUND or MALFORMED
};

// The key lifecycle. Each mutation and its outbox event commit in one transaction.
class KeyService {
 public:
  KeyService(ConnectionPool& db, const MasterKey& master_key, const Clock& clock)
      : db_(db), hasher_(master_key), clock_(clock) {}

  CreatedKey create(const Actor& actor, const NewKey& request);
  ApiKey get(const std::string& id);
  std::vector<ApiKey> list_by_project(const std::string& project_id);
  // Idempotent: revoking a revoked key changes nothing and emits nothing.
  void revoke(const Actor& actor, const std::string& id);
  Rotation rotate(const Actor& actor, const std::string& id, const RotateOptions& options);
  VerifyResult verify(std::string_view key);

  // Rotates a key the caller has locked (find_for_update) inside the caller's transaction:
  // the one path shared by the HTTP rotate and the scheduler.
  Rotation rotate_locked(pqxx::work& txn, const Actor& actor, const ApiKey& locked,
                         const RotateOptions& options, TimePoint now);

 private:
  ConnectionPool& db_;
  KeyHasher hasher_;
  const Clock& clock_;
};

}  // namespace keyflow
