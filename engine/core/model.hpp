#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/core/clock.hpp"

namespace keyflow {

struct Organization {
  std::string id;
  std::string name;
  TimePoint created_at;
};

struct Environment {
  std::string id;
  std::string project_id;
  std::string name;  // part of its keys' visible prefix: kf_live_...
  TimePoint created_at;
};

struct Project {
  std::string id;
  std::string organization_id;
  std::string name;
  std::string key_prefix;
  TimePoint created_at;
};

// A key as stored: never the plaintext, never the hash.
struct ApiKey {
  std::string id;
  std::string organization_id;
  std::optional<std::string> project_id;
  std::optional<std::string> environment_id;
  std::string name;
  std::string key_prefix;
  std::vector<std::string> scopes;
  bool enabled = true;
  std::optional<TimePoint> expires_at;
  std::optional<TimePoint> last_used_at;
  TimePoint created_at;
  std::optional<TimePoint> revoked_at;
  std::optional<std::string> replaced_by_key_id;
  std::optional<TimePoint> grace_expires_at;
  std::optional<int> rotation_interval_days;
  std::optional<TimePoint> next_rotation_at;
  std::optional<std::string> rotation_webhook_url;
  std::optional<std::string> meta;                 // free JSON (serialized), returned by verify
  std::vector<std::string> allowed_cidrs;          // canonical; empty allows any source address
  std::optional<std::string> rotation_public_key;  // base64 X25519 key: rotations travel sealed
  std::optional<int> rotation_grace_seconds;       // the old key's grace on a scheduled rotation
  std::optional<std::string> rotated_from;         // the key this one replaced
  bool has_rotation_secret = false;                // a rotation webhook secret has been issued
};

// When a key stops working: the earlier of its expiry and, once it has been rotated, the
// end of its grace. nullopt for a key that never expires.
inline std::optional<TimePoint> end_of_life(const ApiKey& k) {
  std::optional<TimePoint> end = k.expires_at;
  if (k.replaced_by_key_id && k.grace_expires_at && (!end || *k.grace_expires_at < *end)) {
    end = k.grace_expires_at;
  }
  return end;
}

struct WebhookSubscription {
  std::string id;
  std::optional<std::string> organization_id;
  std::optional<std::string> project_id;
  std::string url;
  std::vector<std::string> event_types;  // exact types and wildcards (api_key.*); empty: all
  std::optional<std::string> description;
  std::string status;                          // enabled, paused, disabled
  std::optional<std::string> disabled_reason;  // while disabled
  std::optional<std::string> public_key;       // whpk_..., when deliveries are Ed25519-signed
  // Seconds before each attempt, the first 0; none: the deployment's schedule.
  std::optional<std::vector<int>> retry_schedule;
  std::optional<int> rate_limit;  // attempts a second, at most; none: no limit
  TimePoint created_at;
  TimePoint updated_at;
};

// Who is acting: the admin token, a keyflow key (confined to its organization or project and
// its scopes), or a role of keyflow itself. Recorded in every event.
struct Actor {
  enum class Kind { admin, key, system };
  Kind kind = Kind::admin;
  std::string id;                         // the key id for Kind::key, the role for Kind::system
  std::string organization_id;            // Kind::key only
  std::optional<std::string> project_id;  // Kind::key only, when the key is a project's
  std::vector<std::string> scopes;        // Kind::key only
  // Kind::key only: when the key stops working (its expiry, or the end of its grace after a
  // rotation) and the networks it is confined to. Keys it creates or changes may not exceed
  // either (engine/keys/containment.hpp).
  std::optional<TimePoint> expires_at;
  std::vector<std::string> allowed_cidrs;

  static Actor admin() { return {Kind::admin, {}, {}, {}, {}, {}, {}}; }
  static Actor system(std::string role) {
    return {Kind::system, std::move(role), {}, {}, {}, {}, {}};
  }
  static Actor key(const ApiKey& k) {
    return {Kind::key, k.id,           k.organization_id, k.project_id,
            k.scopes,  end_of_life(k), k.allowed_cidrs};
  }
};

}  // namespace keyflow
