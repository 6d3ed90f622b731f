#include "engine/keys/key_service.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "engine/core/errc.hpp"
#include "engine/core/ids.hpp"
#include "engine/core/json_render.hpp"
#include "engine/core/time_format.hpp"
#include "engine/core/validation.hpp"
#include "engine/events/outbox_store.hpp"
#include "engine/keys/api_key_store.hpp"
#include "engine/keys/cache_coherence_store.hpp"
#include "engine/keys/containment.hpp"
#include "engine/keys/key_cursor.hpp"
#include "engine/keys/key_events.hpp"
#include "engine/keys/key_format.hpp"
#include "engine/keys/key_rules.hpp"
#include "engine/keys/rotation_webhook.hpp"
#include "engine/tenancy/access.hpp"
#include "engine/tenancy/tenant_resolver.hpp"
#include "engine/tenancy/tenant_store.hpp"
#include "engine/webhooks/webhook_secret.hpp"

namespace keyflow {
namespace {

// Where a new key goes: its tenant and the visible prefix of its text.
struct Owner {
  Tenant tenant;
  std::string prefix = "kf";
  std::string environment;  // empty: no environment part in the key's text
};

// The project (with its organization and prefix) or the organization a key is created in.
Owner resolve_owner(pqxx::work& txn, const NewKey& r) {
  const auto resolved =
      resolve_tenant(txn, r.project_id, r.organization_id, ForeignProject::invalid);
  if (!resolved) {
    throw Error(errc::invalid_argument, "project_id or organization_id is required", "project_id");
  }
  Owner owner;
  owner.tenant = resolved->tenant;
  owner.prefix = resolved->key_prefix;
  return owner;
}

// The environment's name, checking that it belongs to the key's project.
std::string environment_name(pqxx::work& txn, const std::string& environment_id,
                             const std::optional<std::string>& project_id) {
  require_id(environment_id, "environment_id");
  if (!project_id) {
    throw Error(errc::invalid_argument, "only keys of a project have an environment",
                "environment_id");
  }
  auto name = TenantStore::environment_name(txn, environment_id, *project_id);
  if (!name) {
    throw Error(errc::not_found, "environment does not exist in this project", "environment_id");
  }
  return std::move(*name);
}

}  // namespace

CreatedKey KeyService::create(const Actor& actor, const NewKey& request) {
  const auto now = clock_.now();
  require_name(request.name, "name");
  validate_scopes(request.scopes);
  validate_expiry(request.expires_at, now);
  validate_interval(request.rotation_interval_days);
  if (request.next_rotation_at && !request.rotation_interval_days) {
    throw Error(errc::invalid_argument, "next_rotation_at needs rotation_interval_days",
                "next_rotation_at");
  }
  if (request.rotation_webhook_url) {
    require_http_url(*request.rotation_webhook_url, "rotation_webhook_url");
    destinations_.vet_url_host(*request.rotation_webhook_url, "rotation_webhook_url");
  }
  validate_meta(request.meta);
  validate_grace(request.rotation_grace_seconds);
  const auto public_key = canonical_public_key(request.rotation_public_key);
  const auto cidrs = canonical_cidrs(request.allowed_cidrs);

  return db_.transact([&](pqxx::work& txn) {
    auto owner = resolve_owner(txn, request);
    require_access(actor, Permission::create, owner.tenant,
                   owner.tenant.project_id ? "project" : "organization");
    require_contained(actor, {request.scopes, request.expires_at, cidrs}, "the new key");
    if (request.environment_id) {
      owner.environment = environment_name(txn, *request.environment_id, owner.tenant.project_id);
    }

    const std::string plaintext = format_key(owner.prefix, owner.environment, random_key_secret());
    ApiKey key;
    key.id = new_id();
    key.organization_id = owner.tenant.organization_id;
    key.project_id = owner.tenant.project_id;
    key.environment_id = request.environment_id;
    key.name = request.name;
    key.key_prefix = display_prefix(plaintext);
    key.scopes = request.scopes;
    key.enabled = request.enabled;
    key.expires_at = request.expires_at;
    key.created_at = now;
    key.rotation_interval_days = request.rotation_interval_days;
    if (request.rotation_interval_days) {
      key.next_rotation_at = request.next_rotation_at.value_or(
          next_rotation_after(now, *request.rotation_interval_days));
    }
    key.rotation_webhook_url = request.rotation_webhook_url;
    key.meta = request.meta;
    key.allowed_cidrs = cidrs;
    key.rotation_public_key = public_key;
    key.rotation_grace_seconds = request.rotation_grace_seconds;
    require_delivery_target(key);

    CreatedKey created{key, plaintext, std::nullopt};
    std::optional<Bytes> secret_sealed;
    if (key.rotation_webhook_url) {
      created.rotation_webhook_secret = generate_webhook_secret();
      secret_sealed = box_.seal(*created.rotation_webhook_secret, kRotationSecretContext);
      created.key.has_rotation_secret = true;
    }
    const auto hash = hasher_.hash(plaintext);
    while (!ApiKeyStore::insert(txn, created.key, hash, secret_sealed))
      created.key.id = new_id();
    append_event(
        txn, key_event("api_key.created", created.key, key_event_data(created.key, actor), now));
    return created;
  });
}

ApiKey KeyService::get(const Actor& actor, const std::string& id) {
  require_id(id, "id");
  auto key = db_.transact([&](pqxx::work& txn) { return ApiKeyStore::find(txn, id); });
  if (!key) throw Error(errc::not_found, "key does not exist", "id");
  require_access(actor, Permission::read, tenant_of(*key), "key");
  return *key;
}

KeyPage KeyService::list(const Actor& actor, const KeyListRequest& request) {
  if (request.limit < 1 || request.limit > 1000) {
    throw Error(errc::invalid_argument, "limit must be between 1 and 1000", "limit");
  }
  if (request.state && *request.state != "active" && *request.state != "revoked" &&
      *request.state != "expired") {
    throw Error(errc::invalid_argument, "state must be active, revoked or expired", "state");
  }
  if (request.environment_id) require_id(*request.environment_id, "environment_id");
  ApiKeyStore::ListQuery query;
  query.environment_id = request.environment_id;
  query.state = request.state;
  query.now = clock_.now();
  query.limit = request.limit + 1;  // one more tells whether another page follows
  if (request.cursor) {
    auto cursor = decode_key_cursor(*request.cursor);
    query.after = std::pair{cursor.created_at, std::move(cursor.id)};
  }

  auto keys = db_.transact([&](pqxx::work& txn) {
    std::optional<std::string> project_id = request.project_id;
    std::optional<std::string> organization_id = request.organization_id;
    if (!project_id && !organization_id) {
      // A key lists its own tenant by default; the admin must say which.
      if (actor.kind != Actor::Kind::key) {
        throw Error(errc::invalid_argument, "project_id or organization_id is required",
                    "project_id");
      }
      project_id = actor.project_id;
      organization_id = actor.organization_id;
    }
    const auto tenant =
        resolve_tenant(txn, project_id, organization_id, ForeignProject::missing).value().tenant;
    require_access(actor, Permission::read, tenant, project_id ? "project" : "organization");
    query.organization_id = tenant.organization_id;
    query.project_id = tenant.project_id;
    return ApiKeyStore::list(txn, query);
  });

  KeyPage page;
  page.next_cursor = next_page_cursor(keys, request.limit);
  page.keys = std::move(keys);
  return page;
}

UpdatedKey KeyService::update(const Actor& actor, const std::string& id, const KeyPatch& patch) {
  require_id(id, "id");
  const auto now = clock_.now();
  if (patch.name) require_name(*patch.name, "name");
  if (patch.scopes) validate_scopes(*patch.scopes);
  if (patch.expires_at) validate_expiry(*patch.expires_at, now);
  if (patch.rotation_interval_days) validate_interval(*patch.rotation_interval_days);
  if (patch.rotation_webhook_url && *patch.rotation_webhook_url) {
    require_http_url(**patch.rotation_webhook_url, "rotation_webhook_url");
    destinations_.vet_url_host(**patch.rotation_webhook_url, "rotation_webhook_url");
  }
  if (patch.meta) validate_meta(*patch.meta);
  if (patch.rotation_grace_seconds) validate_grace(*patch.rotation_grace_seconds);
  std::optional<std::optional<std::string>> public_key;
  if (patch.rotation_public_key) public_key = canonical_public_key(*patch.rotation_public_key);
  std::optional<std::vector<std::string>> cidrs;
  if (patch.allowed_cidrs) cidrs = canonical_cidrs(*patch.allowed_cidrs);

  bool changed_any = false;
  auto result = db_.transact([&](pqxx::work& txn) {
    changed_any = false;  // a retried transaction starts over
    auto found = ApiKeyStore::find_for_update(txn, id);
    if (!found) throw Error(errc::not_found, "key does not exist", "id");
    require_access(actor, Permission::update, tenant_of(*found), "key");
    require_contained(actor, KeyGrant::of(*found), "this key");
    if (found->revoked_at) throw Error(errc::key_revoked, "key is revoked", "id");

    const ApiKey before = *found;
    ApiKey after = before;
    boost::json::array changed;
    boost::json::object previous;
    const auto old_json = to_json(before);
    auto note = [&](const char* field) {
      changed.emplace_back(field);
      previous[field] = old_json.at(field);
    };
    if (patch.name && *patch.name != before.name) {
      after.name = *patch.name;
      note("name");
    }
    if (patch.scopes && *patch.scopes != before.scopes) {
      after.scopes = *patch.scopes;
      note("scopes");
    }
    if (patch.expires_at && *patch.expires_at != before.expires_at) {
      after.expires_at = *patch.expires_at;
      note("expires_at");
    }
    if (patch.rotation_interval_days &&
        *patch.rotation_interval_days != before.rotation_interval_days) {
      after.rotation_interval_days = *patch.rotation_interval_days;
      // A new interval counts from now; no interval means no scheduled rotation.
      after.next_rotation_at =
          after.rotation_interval_days && !before.replaced_by_key_id
              ? std::optional(next_rotation_after(now, *after.rotation_interval_days))
              : std::nullopt;
      note("rotation_interval_days");
      if (after.next_rotation_at != before.next_rotation_at) note("next_rotation_at");
    }
    bool url_changed = false;
    if (patch.rotation_webhook_url && *patch.rotation_webhook_url != before.rotation_webhook_url) {
      after.rotation_webhook_url = *patch.rotation_webhook_url;
      url_changed = true;
      note("rotation_webhook_url");
    }
    if (public_key && *public_key != before.rotation_public_key) {
      after.rotation_public_key = *public_key;
      note("rotation_public_key");
    }
    if (patch.rotation_grace_seconds &&
        *patch.rotation_grace_seconds != before.rotation_grace_seconds) {
      after.rotation_grace_seconds = *patch.rotation_grace_seconds;
      note("rotation_grace_seconds");
    }
    if (patch.environment_id && *patch.environment_id != before.environment_id) {
      // The key's text keeps the prefix it was created with; only the grouping changes.
      if (*patch.environment_id) {
        environment_name(txn, **patch.environment_id, before.project_id);
      }
      after.environment_id = *patch.environment_id;
      note("environment_id");
    }
    if (patch.enabled && *patch.enabled != before.enabled) {
      after.enabled = *patch.enabled;
      note("enabled");
    }
    if (patch.meta) {
      // Compare as JSON, not text: {"a":1} and { "a": 1 } are the same meta.
      const auto normal = [](const std::optional<std::string>& m) {
        return m ? boost::json::serialize(boost::json::parse(*m)) : std::string();
      };
      if (normal(*patch.meta) != normal(before.meta)) {
        after.meta = *patch.meta;
        note("meta");
      }
    }
    if (cidrs && *cidrs != before.allowed_cidrs) {
      after.allowed_cidrs = *cidrs;
      note("allowed_cidrs");
    }
    if (changed.empty()) return UpdatedKey{before, std::nullopt};
    require_contained(actor, KeyGrant::of(after), "the changed key");
    require_delivery_target(after);

    UpdatedKey updated{after, std::nullopt};
    ApiKeyStore::update(txn, after, now);
    if (url_changed) {
      // A new destination gets a new secret; no destination needs none.
      std::optional<Bytes> sealed;
      if (after.rotation_webhook_url) {
        updated.rotation_webhook_secret = generate_webhook_secret();
        sealed = box_.seal(*updated.rotation_webhook_secret, kRotationSecretContext);
      }
      ApiKeyStore::set_rotation_secret(txn, after.id, sealed, now);
      updated.key.has_rotation_secret = sealed.has_value();
    }
    auto data = key_event_data(after, actor);
    data["changed_fields"] = std::move(changed);
    data["previous"] = std::move(previous);
    append_event(txn, key_event("api_key.updated", after, std::move(data), now));
    CacheCoherenceStore::notify_key_changed(txn, after.id);
    changed_any = true;
    return updated;
  });
  if (changed_any) changed(id);
  return result;
}

std::string KeyService::issue_rotation_secret(const Actor& actor, const std::string& id) {
  require_id(id, "id");
  const auto now = clock_.now();
  return db_.transact([&](pqxx::work& txn) {
    auto key = ApiKeyStore::find_for_update(txn, id);
    if (!key) throw Error(errc::not_found, "key does not exist", "id");
    require_access(actor, Permission::update, tenant_of(*key), "key");
    require_contained(actor, KeyGrant::of(*key), "this key");
    if (key->revoked_at) throw Error(errc::key_revoked, "key is revoked", "id");
    if (!key->rotation_webhook_url) {
      throw Error(errc::invalid_argument, "the key has no rotation_webhook_url to sign for",
                  "rotation_webhook_url");
    }
    auto secret = generate_webhook_secret();
    ApiKeyStore::set_rotation_secret(txn, id, box_.seal(secret, kRotationSecretContext), now);
    key->has_rotation_secret = true;
    auto data = key_event_data(*key, actor);
    data["changed_fields"] = boost::json::array{"rotation_webhook_secret"};
    // The secret itself is never in an event: its previous value shows as null.
    data["previous"] = boost::json::object{{"rotation_webhook_secret", nullptr}};
    append_event(txn, key_event("api_key.updated", *key, std::move(data), now));
    return secret;
  });
}

void KeyService::revoke(const Actor& actor, const std::string& id) {
  require_id(id, "id");
  const auto now = clock_.now();
  const bool revoked_now = db_.transact([&](pqxx::work& txn) {
    auto key = ApiKeyStore::find_for_update(txn, id);
    if (!key) throw Error(errc::not_found, "key does not exist", "id");
    require_access(actor, Permission::remove, tenant_of(*key), "key");
    require_contained(actor, KeyGrant::of(*key), "this key");
    if (key->revoked_at) return false;
    ApiKeyStore::mark_revoked(txn, id, now);
    key->revoked_at = now;
    key->next_rotation_at.reset();
    append_event(txn, key_event("api_key.revoked", *key, key_event_data(*key, actor), now));
    CacheCoherenceStore::notify_key_changed(txn, id);
    return true;
  });
  if (revoked_now) changed(id);
}

void KeyService::changed(const std::string& key_id) {
  // After the commit, not before: a verify that loaded the key in between would read the
  // old state and, with the epoch already moved on, could cache it for good.
  if (cache_) cache_->invalidate_key(key_id);
  if (barrier_) barrier_->await_everywhere();
}

}  // namespace keyflow
