#include "engine/keys/key_service.hpp"

// KeyService: rotation, by request and in the scheduler's batches.

#include "engine/core/errc.hpp"
#include "engine/core/ids.hpp"
#include "engine/core/json_render.hpp"
#include "engine/core/time_format.hpp"
#include "engine/core/validation.hpp"
#include "engine/events/outbox_store.hpp"
#include "engine/keys/api_key_store.hpp"
#include "engine/keys/cache_coherence_store.hpp"
#include "engine/keys/containment.hpp"
#include "engine/keys/key_events.hpp"
#include "engine/keys/key_format.hpp"
#include "engine/keys/key_rules.hpp"
#include "engine/keys/rotation_delivery_store.hpp"
#include "engine/keys/rotation_webhook.hpp"
#include "engine/tenancy/access.hpp"
#include "engine/webhooks/webhook_message.hpp"

namespace keyflow {

struct KeyService::PlannedRotation {
  Rotation rotation;
  Bytes key_hash;
  std::optional<Bytes> secret_sealed;  // inherited by the replacement
  std::vector<DomainEvent> events;
  std::optional<RotationDelivery> delivery;
};

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
  delivery.id = new_delivery_id(now);
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

}  // namespace keyflow
