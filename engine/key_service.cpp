#include "engine/key_service.hpp"

#include "engine/api_key_store.hpp"
#include "engine/errc.hpp"
#include "engine/ids.hpp"
#include "engine/json_render.hpp"
#include "engine/key_format.hpp"
#include "engine/outbox_append.hpp"
#include "engine/validation.hpp"

namespace keyflow {
namespace {

constexpr int kMaxRotationIntervalDays = 3650;
constexpr std::size_t kMaxScopes = 64;
// Keys without an environment read kf_live_...; environments name their own (issue-level
// environments replace this default).
constexpr std::string_view kDefaultEnvironment = "live";

void validate(const NewKey& r, TimePoint now) {
  require_name(r.name, "name");
  if (r.scopes.size() > kMaxScopes) {
    throw Error(errc::invalid_argument, "at most 64 scopes", "scopes");
  }
  for (const auto& s : r.scopes) {
    if (!is_valid_scope(s)) {
      throw Error(
          errc::invalid_argument,
          "unknown scope '" + s + "': use READ, CREATE, UPDATE, DELETE, MANAGE or resource:action",
          "scopes");
    }
  }
  if (r.expires_at && *r.expires_at <= now) {
    throw Error(errc::invalid_argument, "expires_at must be in the future", "expires_at");
  }
  if (r.rotation_interval_days &&
      (*r.rotation_interval_days < 1 || *r.rotation_interval_days > kMaxRotationIntervalDays)) {
    throw Error(errc::invalid_argument, "rotation_interval_days must be between 1 and 3650",
                "rotation_interval_days");
  }
  if (r.next_rotation_at && !r.rotation_interval_days) {
    throw Error(errc::invalid_argument, "next_rotation_at needs rotation_interval_days",
                "next_rotation_at");
  }
  if (r.rotation_webhook_url) require_http_url(*r.rotation_webhook_url, "rotation_webhook_url");
}

boost::json::object key_event_data(const ApiKey& key, const Actor& actor) {
  auto data = to_json(key);
  data["actor"] = to_json(actor);
  return data;
}

DomainEvent key_event(std::string type, const ApiKey& key, boost::json::object data, TimePoint at) {
  return {"api_key", key.id, std::move(type), std::move(data), at};
}

}  // namespace

CreatedKey KeyService::create(const Actor& actor, const NewKey& request) {
  const auto now = clock_.now();
  validate(request, now);
  return db_.transact([&](pqxx::work& txn) {
    ApiKey key;
    std::string prefix = "kf";
    if (request.project_id) {
      require_id(*request.project_id, "project_id");
      const auto row = txn.exec_params(
          "SELECT organization_id::text, key_prefix FROM projects WHERE id = $1::uuid",
          *request.project_id);
      if (row.empty()) throw Error(errc::not_found, "project does not exist", "project_id");
      key.organization_id = row[0][0].as<std::string>();
      prefix = row[0][1].as<std::string>();
      if (request.organization_id && *request.organization_id != key.organization_id) {
        throw Error(errc::invalid_argument, "project belongs to another organization",
                    "organization_id");
      }
      key.project_id = request.project_id;
    } else if (request.organization_id) {
      require_id(*request.organization_id, "organization_id");
      if (txn.exec_params("SELECT 1 FROM organizations WHERE id = $1::uuid",
                          *request.organization_id)
              .empty()) {
        throw Error(errc::not_found, "organization does not exist", "organization_id");
      }
      key.organization_id = *request.organization_id;
    } else {
      throw Error(errc::invalid_argument, "project_id or organization_id is required",
                  "project_id");
    }

    const std::string plaintext = format_key(prefix, kDefaultEnvironment, random_key_secret());
    key.id = new_uuid();
    key.name = request.name;
    key.key_prefix = display_prefix(plaintext);
    key.scopes = request.scopes;
    key.expires_at = request.expires_at;
    key.created_at = now;
    key.rotation_interval_days = request.rotation_interval_days;
    if (request.rotation_interval_days) {
      key.next_rotation_at = request.next_rotation_at.value_or(
          next_rotation_after(now, *request.rotation_interval_days));
    }
    key.rotation_webhook_url = request.rotation_webhook_url;

    ApiKeyStore::insert(txn, key, hasher_.hash(plaintext));
    append_event(txn, key_event("api_key.created", key, key_event_data(key, actor), now));
    return CreatedKey{key, plaintext};
  });
}

ApiKey KeyService::get(const std::string& id) {
  require_id(id, "id");
  auto key = db_.transact([&](pqxx::work& txn) { return ApiKeyStore::find(txn, id); });
  if (!key) throw Error(errc::not_found, "key does not exist", "id");
  return *key;
}

std::vector<ApiKey> KeyService::list_by_project(const std::string& project_id) {
  require_id(project_id, "project_id");
  return db_.transact([&](pqxx::work& txn) {
    if (txn.exec_params("SELECT 1 FROM projects WHERE id = $1::uuid", project_id).empty()) {
      throw Error(errc::not_found, "project does not exist", "project_id");
    }
    return ApiKeyStore::list_by_project(txn, project_id);
  });
}

void KeyService::revoke(const Actor& actor, const std::string& id) {
  require_id(id, "id");
  const auto now = clock_.now();
  db_.transact([&](pqxx::work& txn) {
    auto key = ApiKeyStore::find_for_update(txn, id);
    if (!key) throw Error(errc::not_found, "key does not exist", "id");
    if (key->revoked_at) return;
    ApiKeyStore::mark_revoked(txn, id, now);
    key->revoked_at = now;
    key->next_rotation_at.reset();
    append_event(txn, key_event("api_key.revoked", *key, key_event_data(*key, actor), now));
  });
}

Rotation KeyService::rotate(const Actor& actor, const std::string& id,
                            const RotateOptions& options) {
  require_id(id, "id");
  const auto now = clock_.now();
  if (options.grace_period.count() < 0) {
    throw Error(errc::invalid_argument, "grace_period_seconds must not be negative",
                "grace_period_seconds");
  }
  if (options.expires_at && *options.expires_at <= now) {
    throw Error(errc::invalid_argument, "expires_at must be in the future", "expires_at");
  }
  return db_.transact([&](pqxx::work& txn) {
    auto key = ApiKeyStore::find_for_update(txn, id);
    if (!key) throw Error(errc::not_found, "key does not exist", "id");
    return rotate_locked(txn, actor, *key, options, now);
  });
}

Rotation KeyService::rotate_locked(pqxx::work& txn, const Actor& actor, const ApiKey& locked,
                                   const RotateOptions& options, TimePoint now) {
  if (locked.revoked_at) throw Error(errc::conflict, "key is revoked", "id");
  if (locked.replaced_by_key_id) {
    // Refused rather than chained, so that two clients rotating the same key at once cannot
    // both think they hold the newest one.
    throw Error(errc::conflict,
                "key was already rotated; rotate its replacement " + *locked.replaced_by_key_id,
                "id");
  }
  std::string prefix = "kf";
  if (locked.project_id) {
    prefix = txn.exec_params1("SELECT key_prefix FROM projects WHERE id = $1::uuid",
                              *locked.project_id)[0]
                 .as<std::string>();
  }
  Rotation result;
  result.plaintext = format_key(prefix, kDefaultEnvironment, random_key_secret());

  ApiKey& fresh = result.new_key;
  fresh = locked;
  fresh.id = new_uuid();
  fresh.key_prefix = display_prefix(result.plaintext);
  fresh.created_at = now;
  fresh.last_used_at.reset();
  fresh.replaced_by_key_id.reset();
  fresh.grace_expires_at.reset();
  fresh.expires_at = options.expires_at;
  fresh.next_rotation_at.reset();
  if (fresh.rotation_interval_days) {
    fresh.next_rotation_at = next_rotation_after(now, *fresh.rotation_interval_days);
  }
  ApiKeyStore::insert(txn, fresh, hasher_.hash(result.plaintext));

  result.old_key = locked;
  result.old_key.replaced_by_key_id = fresh.id;
  result.old_key.grace_expires_at = now + options.grace_period;
  result.old_key.next_rotation_at.reset();
  ApiKeyStore::mark_replaced(txn, locked.id, fresh.id, *result.old_key.grace_expires_at, now);

  auto data = key_event_data(result.old_key, actor);
  data["old_key_id"] = result.old_key.id;
  data["new_key_id"] = fresh.id;
  data["new_key"] = to_json(fresh);
  append_event(txn, key_event("api_key.rotated", result.old_key, std::move(data), now));
  return result;
}

VerifyResult KeyService::verify(std::string_view key) {
  // The checksum turns away mistyped and made-up keys before any database work.
  if (!parse_key(key)) return {VerifyCode::malformed, std::nullopt};
  const auto hash = hasher_.hash(key);
  auto found = db_.transact([&](pqxx::work& txn) { return ApiKeyStore::find_by_hash(txn, hash); });
  if (!found) return {VerifyCode::not_found, std::nullopt};
  return {key_state_at(*found, clock_.now()), std::move(found)};
}

}  // namespace keyflow
