#include "engine/webhooks/subscription_service.hpp"

#include <algorithm>

#include <sodium.h>

#include "engine/core/errc.hpp"
#include "engine/core/ids.hpp"
#include "engine/core/validation.hpp"
#include "engine/events/outbox_store.hpp"
#include "engine/keys/key_cursor.hpp"
#include "engine/keys/lifecycle.hpp"
#include "engine/tenancy/access.hpp"
#include "engine/tenancy/tenant_resolver.hpp"
#include "engine/webhooks/subscription_events.hpp"
#include "engine/webhooks/subscription_store.hpp"
#include "engine/webhooks/webhook_secret.hpp"

namespace keyflow {
namespace {

constexpr std::size_t kMaxEventTypes = 64;
constexpr std::size_t kMaxDescription = 1024;

WebhookSubscription found(pqxx::work& txn, const std::string& id, bool for_update) {
  require_id(id, "id");
  auto s = SubscriptionStore::find(txn, id, for_update);
  if (!s) throw Error(errc::not_found, "webhook subscription does not exist");
  return std::move(*s);
}

void require_description(const std::optional<std::string>& description) {
  if (description && description->size() > kMaxDescription) {
    throw Error(errc::invalid_argument, "description must be at most 1024 bytes", "description");
  }
}

}  // namespace

// Out of the caller's reach is the same answer as not there: ids never leak across tenants.
void require_subscription_access(const Actor& actor, Permission permission,
                                 const WebhookSubscription& s) {
  if (!s.organization_id) {
    if (actor.kind == Actor::Kind::key) {
      throw Error(errc::not_found, "webhook subscription does not exist");
    }
    return;
  }
  require_access(actor, permission, {*s.organization_id, s.project_id}, "webhook subscription");
}

void require_event_types(const std::vector<std::string>& event_types) {
  if (event_types.size() > kMaxEventTypes) {
    throw Error(errc::invalid_argument, "at most 64 event types", "event_types");
  }
  const auto& known = known_event_types();
  for (const auto& type : event_types) {
    const bool exact = std::find(known.begin(), known.end(), type) != known.end();
    bool covers = false;
    if (type.size() > 2 && type.ends_with(".*")) {
      const auto prefix = std::string_view(type).substr(0, type.size() - 1);
      covers = std::any_of(known.begin(), known.end(),
                           [&](const std::string& k) { return k.starts_with(prefix); });
    }
    if (!exact && !covers) {
      throw Error(errc::invalid_argument,
                  "unknown event type '" + type + "' (a known type, or a wildcard like api_key.*)",
                  "event_types");
    }
  }
}

void require_retry_schedule(const std::optional<std::vector<int>>& schedule) {
  if (!schedule) return;
  const auto& s = *schedule;
  if (s.empty() || s.size() > 20 || s.front() != 0 ||
      std::any_of(s.begin(), s.end(), [](int d) { return d < 0 || d > 86400; })) {
    throw Error(errc::invalid_argument,
                "retry_schedule must be 1 to 20 delays in seconds, the first 0 and none over "
                "86400, such as [0, 5, 300, 1800]",
                "retry_schedule");
  }
}

void require_rate_limit(const std::optional<int>& rate_limit) {
  if (rate_limit && (*rate_limit < 1 || *rate_limit > 10000)) {
    throw Error(errc::invalid_argument, "rate_limit must be between 1 and 10000 a second",
                "rate_limit");
  }
}

std::string SubscriptionService::secret(const Actor& actor, const std::string& id) {
  const auto sealed = db_.transact([&](pqxx::work& txn) {
    const auto s = found(txn, id, false);
    require_subscription_access(actor, Permission::manage, s);
    return SubscriptionStore::secret_sealed(txn, id).value();
  });
  auto secret = box_.open(sealed, kWebhookSecretContext);
  if (!secret) {
    throw Error(errc::internal, "the subscription's secret does not decrypt (wrong master key?)");
  }
  return std::move(*secret);
}

SubscriptionService::RotatedSecret SubscriptionService::rotate_secret(
    const Actor& actor, const std::string& id, std::chrono::seconds overlap) {
  if (overlap < std::chrono::seconds(0) || overlap > std::chrono::hours(24 * 7)) {
    throw Error(errc::invalid_argument, "overlap_seconds must be between 0 and 604800",
                "overlap_seconds");
  }
  const auto now = clock_.now();
  RotatedSecret out;
  out.secret = generate_webhook_secret();
  if (overlap.count() > 0) out.previous_expires_at = now + overlap;
  const auto sealed = box_.seal(out.secret, kWebhookSecretContext);
  db_.transact([&](pqxx::work& txn) {
    auto s = found(txn, id, true);
    require_subscription_access(actor, Permission::manage, s);
    SubscriptionStore::replace_secret(txn, id, sealed, now + overlap, now);
    s.updated_at = now;
    append_event(txn, subscription_updated(s, {"secret"}, actor));
  });
  return out;
}

void SubscriptionService::require_url(const std::string& url) const {
  require_http_url(url, "url");
  destinations_.vet_url_host(url, "url");
}

CreatedSubscription SubscriptionService::create(const Actor& actor,
                                                const NewSubscription& request) {
  require_url(request.url);
  require_event_types(request.event_types);
  require_description(request.description);
  require_retry_schedule(request.retry_schedule);
  require_rate_limit(request.rate_limit);
  if (request.organization_id) require_id(*request.organization_id, "organization_id");
  if (request.project_id) require_id(*request.project_id, "project_id");

  CreatedSubscription out;
  auto& sub = out.subscription;
  // A key subscribes inside its own tenant: its organization (and project) by default.
  std::optional<std::string> organization_id = request.organization_id;
  std::optional<std::string> project_id = request.project_id;
  if (actor.kind == Actor::Kind::key && !organization_id && !project_id) {
    organization_id = actor.organization_id;
    project_id = actor.project_id;
  }
  sub.id = new_id();
  sub.url = request.url;
  sub.event_types = request.event_types;
  sub.organization_id = organization_id;
  sub.project_id = project_id;
  sub.description = request.description;
  sub.retry_schedule = request.retry_schedule;
  sub.rate_limit = request.rate_limit;
  sub.status = "enabled";
  sub.created_at = sub.updated_at = clock_.now();
  out.secret = generate_webhook_secret();
  const auto sealed = box_.seal(out.secret, kWebhookSecretContext);
  SubscriptionStore::SigningKeyColumns signing;
  if (request.ed25519) {
    auto key = generate_webhook_signing_key();
    signing.secret_key_sealed = box_.seal(key.secret_key, kWebhookSigningKeyContext);
    sodium_memzero(key.secret_key.data(), key.secret_key.size());
    sub.public_key = public_key_text(key.public_key);
    signing.public_key = std::move(key.public_key);
  }

  db_.transact([&](pqxx::work& txn) {
    if (const auto resolved =
            resolve_tenant(txn, sub.project_id, sub.organization_id, ForeignProject::invalid)) {
      sub.organization_id = resolved->tenant.organization_id;
    }
    if (sub.organization_id) {
      require_access(actor, Permission::manage, {*sub.organization_id, sub.project_id},
                     sub.project_id ? "project" : "organization");
    } else if (actor.kind == Actor::Kind::key) {
      // Only the admin subscribes to every tenant's events.
      throw Error(errc::forbidden, "only the admin token subscribes across organizations");
    }
    if (SubscriptionStore::count_for_cap(txn, sub.organization_id) >= max_per_organization_) {
      throw Error(errc::limit_exceeded, "an organization has at most " +
                                            std::to_string(max_per_organization_) +
                                            " webhook subscriptions; delete one first");
    }
    SubscriptionStore::insert(txn, sub, sealed, signing);
    append_event(txn, subscription_created(sub, actor));
  });
  return out;
}

WebhookSubscription SubscriptionService::get(const Actor& actor, const std::string& id) {
  return db_.transact([&](pqxx::work& txn) {
    auto s = found(txn, id, false);
    require_subscription_access(actor, Permission::read, s);
    return s;
  });
}

SubscriptionPage SubscriptionService::list(const Actor& actor,
                                           const SubscriptionListRequest& request) {
  if (request.limit < 1 || request.limit > 1000) {
    throw Error(errc::invalid_argument, "limit must be between 1 and 1000", "limit");
  }
  SubscriptionStore::ListQuery query;
  query.limit = request.limit + 1;  // one more tells whether another page follows
  if (request.cursor) {
    auto cursor = decode_key_cursor(*request.cursor);
    query.after = std::pair{cursor.created_at, std::move(cursor.id)};
  }
  auto subscriptions = db_.transact([&](pqxx::work& txn) {
    std::optional<std::string> project_id = request.project_id;
    std::optional<std::string> organization_id = request.organization_id;
    if (actor.kind == Actor::Kind::key && !project_id && !organization_id) {
      // A key lists its own tenant; the admin, without filters, every tenant's.
      project_id = actor.project_id;
      organization_id = actor.organization_id;
    }
    if (const auto resolved =
            resolve_tenant(txn, project_id, organization_id, ForeignProject::missing)) {
      const auto& tenant = resolved->tenant;
      require_access(actor, Permission::read, tenant, project_id ? "project" : "organization");
      query.organization_id = tenant.organization_id;
      query.project_id = tenant.project_id;
    }
    return SubscriptionStore::list(txn, query);
  });
  SubscriptionPage page;
  page.next_cursor = next_page_cursor(subscriptions, request.limit);
  page.subscriptions = std::move(subscriptions);
  return page;
}

WebhookSubscription SubscriptionService::update(const Actor& actor, const std::string& id,
                                                const SubscriptionPatch& patch) {
  if (patch.url) require_url(*patch.url);
  if (patch.event_types) require_event_types(*patch.event_types);
  if (patch.description) require_description(*patch.description);
  if (patch.retry_schedule) require_retry_schedule(*patch.retry_schedule);
  if (patch.rate_limit) require_rate_limit(*patch.rate_limit);
  if (patch.status && *patch.status != "enabled" && *patch.status != "paused" &&
      *patch.status != "disabled") {
    throw Error(errc::invalid_argument, "status must be enabled, paused or disabled", "status");
  }
  if (patch.status && patch.enabled && (*patch.status == "enabled") != *patch.enabled) {
    throw Error(errc::invalid_argument, "enabled contradicts status", "enabled");
  }
  const auto now = clock_.now();
  return db_.transact([&](pqxx::work& txn) {
    const auto before = found(txn, id, true);
    require_subscription_access(actor, Permission::manage, before);
    auto after = before;
    if (patch.url) after.url = *patch.url;
    if (patch.event_types) after.event_types = *patch.event_types;
    if (patch.description) after.description = *patch.description;
    if (patch.retry_schedule) after.retry_schedule = *patch.retry_schedule;
    if (patch.rate_limit) after.rate_limit = *patch.rate_limit;
    std::optional<std::string> status = patch.status;
    if (!status && patch.enabled) status = *patch.enabled ? "enabled" : "disabled";
    if (status && *status != before.status) {
      after.status = *status;
      after.disabled_reason =
          *status == "disabled" ? std::optional<std::string>("disabled by a caller") : std::nullopt;
    }
    std::vector<std::string> changed;
    if (after.url != before.url) changed.push_back("url");
    if (after.event_types != before.event_types) changed.push_back("event_types");
    if (after.description != before.description) changed.push_back("description");
    if (after.status != before.status) changed.push_back("status");
    if (after.retry_schedule != before.retry_schedule) changed.push_back("retry_schedule");
    if (after.rate_limit != before.rate_limit) changed.push_back("rate_limit");
    if (changed.empty()) return before;
    after.updated_at = now;
    SubscriptionStore::update(txn, after);
    append_event(txn, subscription_updated(after, changed, actor));
    return after;
  });
}

void SubscriptionService::remove(const Actor& actor, const std::string& id) {
  const auto now = clock_.now();
  db_.transact([&](pqxx::work& txn) {
    const auto s = found(txn, id, true);
    require_subscription_access(actor, Permission::manage, s);
    SubscriptionStore::mark_deleted(txn, s.id, now);
    append_event(txn, subscription_deleted(s, actor, now));
  });
}

}  // namespace keyflow
