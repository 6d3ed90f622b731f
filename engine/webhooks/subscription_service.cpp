#include "engine/webhooks/subscription_service.hpp"

#include <algorithm>

#include "engine/core/errc.hpp"
#include "engine/core/ids.hpp"
#include "engine/core/time_format.hpp"
#include "engine/core/validation.hpp"
#include "engine/events/outbox_store.hpp"
#include "engine/keys/lifecycle.hpp"
#include "engine/tenancy/access.hpp"
#include "engine/tenancy/tenant_resolver.hpp"
#include "engine/webhooks/subscription_events.hpp"
#include "engine/webhooks/subscription_store.hpp"
#include "engine/webhooks/webhook_secret.hpp"

namespace keyflow {

CreatedSubscription SubscriptionService::create(const Actor& actor,
                                                const NewSubscription& request) {
  require_http_url(request.url, "url");
  destinations_.vet_url_host(request.url, "url");
  const auto& known = known_event_types();
  for (const auto& type : request.event_types) {
    if (std::find(known.begin(), known.end(), type) == known.end()) {
      throw Error(errc::invalid_argument, "unknown event type '" + type + "'", "event_types");
    }
  }
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
  sub.status = "enabled";
  sub.created_at = clock_.now();
  out.secret = generate_webhook_secret();
  const auto sealed = box_.seal(out.secret, kWebhookSecretContext);

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
    SubscriptionStore::insert(txn, sub, sealed);
    append_event(txn, subscription_created(sub, actor));
  });
  return out;
}

}  // namespace keyflow
