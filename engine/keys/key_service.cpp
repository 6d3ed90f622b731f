#include "engine/keys/key_service.hpp"

#include <algorithm>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "engine/core/errc.hpp"
#include "engine/core/ids.hpp"
#include "engine/core/json_render.hpp"
#include "engine/core/time_format.hpp"
#include "engine/core/validation.hpp"
#include "engine/events/outbox_append.hpp"
#include "engine/keys/api_key_store.hpp"
#include "engine/keys/cache_coherence_store.hpp"
#include "engine/keys/cidr.hpp"
#include "engine/keys/containment.hpp"
#include "engine/keys/key_cursor.hpp"
#include "engine/keys/key_events.hpp"
#include "engine/keys/key_format.hpp"
#include "engine/keys/rotation_delivery_store.hpp"
#include "engine/keys/rotation_webhook.hpp"
#include "engine/store/sql_values.hpp"
#include "engine/tenancy/access.hpp"
#include "engine/tenancy/tenant_resolver.hpp"
#include "engine/tenancy/tenant_store.hpp"
#include "engine/webhooks/webhook_message.hpp"
#include "engine/webhooks/webhook_secret.hpp"

namespace keyflow {
namespace {

constexpr int kMaxRotationIntervalDays = 3650;
constexpr std::size_t kMaxScopes = 64;
constexpr std::size_t kMaxMetaBytes = 4096;
constexpr std::size_t kMaxCidrs = 100;
constexpr int kMaxGraceSeconds = 90 * 24 * 3600;

// Where a new key goes: its tenant and the visible prefix of its text.
struct Owner {
  Tenant tenant;
  std::string prefix = "kf";
  std::string environment;  // empty: no environment part in the key's text
};

void validate_scopes(const std::vector<std::string>& scopes) {
  if (scopes.size() > kMaxScopes)
    throw Error(errc::invalid_argument, "at most 64 scopes", "scopes");
  for (const auto& s : scopes) {
    if (!is_valid_scope(s)) {
      throw Error(
          errc::invalid_argument,
          "unknown scope '" + s + "': use READ, CREATE, UPDATE, DELETE, MANAGE or resource:action",
          "scopes");
    }
  }
}

void validate_interval(std::optional<int> days) {
  if (days && (*days < 1 || *days > kMaxRotationIntervalDays)) {
    throw Error(errc::invalid_argument, "rotation_interval_days must be between 1 and 3650",
                "rotation_interval_days");
  }
}

void validate_expiry(std::optional<TimePoint> at, TimePoint now) {
  if (at && *at <= now) {
    throw Error(errc::invalid_argument, "expires_at must be in the future", "expires_at");
  }
}

void validate_grace(std::optional<int> seconds) {
  if (seconds && (*seconds < 0 || *seconds > kMaxGraceSeconds)) {
    throw Error(errc::invalid_argument, "rotation_grace_seconds must be between 0 and 7776000",
                "rotation_grace_seconds");
  }
}

// The canonical base64 of a rotation_public_key; 422 unless it is 32 bytes.
std::optional<std::string> canonical_public_key(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  const auto bytes = parse_rotation_public_key(*text);
  if (!bytes) {
    throw Error(errc::invalid_argument,
                "rotation_public_key must be base64 of a 32-byte X25519 public key",
                "rotation_public_key");
  }
  return base64_encode(*bytes);
}

// A schedule needs somewhere to deliver the new key, or rotation would lock its owner out.
void require_delivery_target(const ApiKey& key) {
  if ((key.rotation_interval_days || key.next_rotation_at) && !key.rotation_webhook_url) {
    throw Error(errc::invalid_argument,
                "a rotation schedule needs rotation_webhook_url, where each new key is sent",
                "rotation_webhook_url");
  }
}

void validate_meta(const std::optional<std::string>& meta) {
  if (!meta) return;
  if (meta->size() > kMaxMetaBytes) {
    throw Error(errc::invalid_argument, "meta must be at most 4096 bytes of JSON", "meta");
  }
  boost::system::error_code ec;
  const auto value = boost::json::parse(*meta, ec);
  if (ec || !value.is_object()) {
    throw Error(errc::invalid_argument, "meta must be a JSON object", "meta");
  }
}

std::vector<std::string> canonical_cidrs(const std::vector<std::string>& cidrs) {
  if (cidrs.size() > kMaxCidrs) {
    throw Error(errc::invalid_argument, "at most 100 allowed_cidrs", "allowed_cidrs");
  }
  std::vector<std::string> out;
  for (const auto& c : cidrs) {
    auto canonical = canonical_cidr(c);
    if (!canonical) {
      throw Error(errc::invalid_argument, "'" + c + "' is not an IP network such as 10.0.0.0/8",
                  "allowed_cidrs");
    }
    out.push_back(*canonical);
  }
  return out;
}

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

Tenant tenant_of(const ApiKey& k) {
  return {k.organization_id, k.project_id};
}

bool scope_granted(const std::vector<std::string>& held, const std::string& wanted) {
  for (const auto& s : held) {
    if (s == wanted) return true;
    // resource:* grants every action on the resource.
    if (s.ends_with(":*") && wanted.starts_with(s.substr(0, s.size() - 1))) return true;
  }
  return false;
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
  if (keys.size() > static_cast<std::size_t>(request.limit)) {
    keys.resize(static_cast<std::size_t>(request.limit));
    page.next_cursor = encode_key_cursor({keys.back().created_at, keys.back().id});
  }
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

Rotation KeyService::rotate(const Actor& actor, const std::string& id,
                            const RotateOptions& options) {
  require_id(id, "id");
  const auto now = clock_.now();
  if (options.grace_period.count() < 0) {
    throw Error(errc::invalid_argument, "grace_period_seconds must not be negative",
                "grace_period_seconds");
  }
  validate_expiry(options.expires_at, now);
  auto result = db_.transact([&](pqxx::work& txn) {
    auto key = ApiKeyStore::find_for_update(txn, id);
    if (!key) throw Error(errc::not_found, "key does not exist", "id");
    require_access(actor, Permission::update, tenant_of(*key), "key");
    const auto inputs = ApiKeyStore::rotation_inputs(txn, id);
    return std::move(rotate_locked(txn, actor, {{*key, inputs, options}}, now).front());
  });
  changed(id);
  return result;
}

RotationDelivery KeyService::rotation_delivery(const Rotation& rotation, TimePoint now) {
  RotationDelivery delivery;
  delivery.id = new_delivery_id();
  delivery.old_key_id = rotation.old_key.id;
  delivery.new_key_id = rotation.new_key.id;
  delivery.url = *rotation.new_key.rotation_webhook_url;
  delivery.payload = rotation_envelope(delivery.id, rotation.old_key, rotation.new_key, now);
  // At rest the new plaintext exists only sealed: to the owner's public key when it has one,
  // else under the master key until the POST succeeds.
  if (rotation.new_key.rotation_public_key) {
    delivery.sealed_key = seal_to_public_key(
        rotation.plaintext, *parse_rotation_public_key(*rotation.new_key.rotation_public_key));
  } else {
    delivery.key_sealed = box_.seal(rotation.plaintext, kRotationKeyContext);
  }
  delivery.next_attempt_at = now;
  return delivery;
}

void KeyService::changed(const std::string& key_id) {
  // After the commit, not before: a verify that loaded the key in between would read the
  // old state and, with the epoch already moved on, could cache it for good.
  if (cache_) cache_->invalidate_key(key_id);
  if (barrier_) barrier_->await_everywhere();
}

struct KeyService::PlannedRotation {
  Rotation rotation;
  Bytes key_hash;
  std::optional<Bytes> secret_sealed;  // inherited by the replacement
  std::vector<DomainEvent> events;
  std::optional<RotationDelivery> delivery;
};

KeyService::PlannedRotation KeyService::plan_rotation(const Actor& actor,
                                                      const LockedRotation& request,
                                                      TimePoint now) {
  const ApiKey& locked = request.key;
  const RotateOptions& options = request.options;
  if (locked.revoked_at) throw Error(errc::key_revoked, "key is revoked", "id");
  if (locked.replaced_by_key_id) {
    // Refused rather than chained, so that two clients rotating the same key at once cannot
    // both think they hold the newest one.
    throw Error(errc::key_rotated,
                "key was already rotated; rotate its replacement " + *locked.replaced_by_key_id,
                "id");
  }
  if (!locked.enabled) throw Error(errc::key_disabled, "key is disabled", "id");
  if (locked.expires_at && *locked.expires_at <= now) {
    throw Error(errc::key_expired, "key has expired", "id");
  }
  // Rotation never extends a life: the replacement expires when the old key would have.
  std::optional<TimePoint> expires_at = locked.expires_at;
  if (options.expires_at) {
    if (locked.expires_at && *options.expires_at > *locked.expires_at) {
      throw Error(errc::invalid_argument,
                  "expires_at must not be later than the key's own, " +
                      format_timestamp(*locked.expires_at),
                  "expires_at");
    }
    expires_at = options.expires_at;
  }
  require_contained(actor, KeyGrant::of(locked), "this key");
  require_contained(actor, {locked.scopes, expires_at, locked.allowed_cidrs}, "the new key");

  PlannedRotation plan;
  Rotation& result = plan.rotation;
  result.plaintext =
      format_key(request.inputs.key_prefix, request.inputs.environment, random_key_secret());
  plan.key_hash = hasher_.hash(result.plaintext);

  ApiKey& fresh = result.new_key;
  fresh = locked;
  fresh.id = new_id();
  fresh.key_prefix = display_prefix(result.plaintext);
  fresh.created_at = now;
  fresh.last_used_at.reset();
  fresh.replaced_by_key_id.reset();
  fresh.grace_expires_at.reset();
  fresh.expires_at = expires_at;
  fresh.rotated_from = locked.id;
  fresh.next_rotation_at.reset();
  if (fresh.rotation_interval_days) {
    fresh.next_rotation_at =
        next_rotation_after(options.due_at.value_or(now), *fresh.rotation_interval_days, now);
  }
  // The replacement signs its own rotation webhooks with the same secret.
  if (locked.has_rotation_secret) plan.secret_sealed = request.inputs.rotation_secret_sealed;
  fresh.has_rotation_secret = plan.secret_sealed.has_value();

  result.old_key = locked;
  result.old_key.replaced_by_key_id = fresh.id;
  result.old_key.grace_expires_at = now + options.grace_period;
  result.old_key.next_rotation_at.reset();

  auto data = key_event_data(result.old_key, actor);
  data["old_key_id"] = result.old_key.id;
  data["new_key_id"] = fresh.id;
  data["new_key"] = to_json(fresh);
  plan.events.push_back(key_event("api_key.rotated", result.old_key, std::move(data), now));
  // A consumer that follows keys sees the replacement arrive like any other key.
  plan.events.push_back(key_event("api_key.created", fresh, key_event_data(fresh, actor), now));
  if (fresh.rotation_webhook_url && plan.secret_sealed) {
    plan.delivery = rotation_delivery(result, now);
    result.delivery_id = plan.delivery->id;
  }
  return plan;
}

std::vector<Rotation> KeyService::rotate_locked(pqxx::work& txn, const Actor& actor,
                                                const std::vector<LockedRotation>& batch,
                                                TimePoint now,
                                                std::vector<RefusedRotation>* refused) {
  std::vector<PlannedRotation> plans;
  plans.reserve(batch.size());
  for (const auto& request : batch) {
    try {
      plans.push_back(plan_rotation(actor, request, now));
    } catch (const Error& e) {
      if (!refused) throw;
      refused->push_back({request.key.id, e.what()});
    }
  }
  std::vector<KeyRow> rows;
  std::vector<Replacement> replacements;
  std::vector<DomainEvent> events;
  std::vector<RotationDelivery> deliveries;
  std::vector<std::string> changed_ids;
  for (auto& plan : plans) {
    const auto& r = plan.rotation;
    rows.push_back({r.new_key, plan.key_hash, plan.secret_sealed});
    replacements.push_back({r.old_key.id, r.new_key.id, *r.old_key.grace_expires_at});
    std::move(plan.events.begin(), plan.events.end(), std::back_inserter(events));
    if (plan.delivery) deliveries.push_back(std::move(*plan.delivery));
    changed_ids.push_back(r.old_key.id);
  }
  // The replacements first: the old keys' rows and the deliveries refer to them.
  ApiKeyStore::insert_many(txn, rows);
  ApiKeyStore::mark_replaced(txn, replacements, now);
  append_events(txn, events);
  RotationDeliveryStore::insert(txn, deliveries, now);
  CacheCoherenceStore::notify_keys_changed(txn, changed_ids);

  std::vector<Rotation> rotations;
  rotations.reserve(plans.size());
  for (auto& plan : plans)
    rotations.push_back(std::move(plan.rotation));
  return rotations;
}

std::optional<ApiKey> KeyService::lookup(std::string_view key) {
  const auto hash = hasher_.hash(key);
  std::uint64_t epoch = 0;
  if (cache_) {
    if (auto hit = cache_->get(hash)) return *hit;
    epoch = cache_->epoch();
  }
  auto found = db_.transact([&](pqxx::work& txn) { return ApiKeyStore::find_by_hash(txn, hash); });
  if (cache_) cache_->put(hash, found, epoch);
  return found;
}

VerifyResult KeyService::verify(const Actor& caller, const VerifyRequest& request) {
  if (!has_permission(caller, Permission::read)) {
    throw Error(errc::forbidden, "this key lacks the READ scope");
  }
  // The checksum turns away mistyped and made-up keys before any lookup.
  if (!parse_key(request.key)) return {VerifyCode::malformed, std::nullopt};
  auto found = lookup(request.key);
  // Keys outside the caller's tenant do not exist for it.
  if (!found || !can_reach(caller, tenant_of(*found))) return {VerifyCode::not_found, std::nullopt};
  const auto now = clock_.now();
  VerifyResult result{key_state_at(*found, now), found};
  if (result.code != VerifyCode::valid) return result;
  if (!found->allowed_cidrs.empty() &&
      (!request.ip || !ip_in_any(*request.ip, found->allowed_cidrs))) {
    result.code = VerifyCode::forbidden;
    return result;
  }
  for (const auto& wanted : request.scopes) {
    if (!scope_granted(found->scopes, wanted)) {
      result.code = VerifyCode::insufficient_scopes;
      return result;
    }
  }
  if (usage_) usage_->record(found->id, now);
  return result;
}

std::optional<ApiKey> KeyService::authenticate(std::string_view key, std::string_view remote_ip) {
  if (!parse_key(key)) return std::nullopt;
  auto found = lookup(key);
  if (!found || key_state_at(*found, clock_.now()) != VerifyCode::valid) return std::nullopt;
  if (!found->allowed_cidrs.empty() && !ip_in_any(remote_ip, found->allowed_cidrs)) {
    return std::nullopt;
  }
  if (usage_) usage_->record(found->id, clock_.now());
  return found;
}

std::size_t KeyService::flush_usage() {
  if (!usage_) return 0;
  auto uses = usage_->take();
  if (uses.empty()) return 0;
  db_.transact([&](pqxx::work& txn) { ApiKeyStore::record_last_used(txn, uses); });
  return uses.size();
}

}  // namespace keyflow
