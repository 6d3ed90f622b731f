#include "engine/subscription_service.hpp"

#include <algorithm>

#include "engine/access.hpp"
#include "engine/errc.hpp"
#include "engine/ids.hpp"
#include "engine/json_render.hpp"
#include "engine/lifecycle.hpp"
#include "engine/outbox_append.hpp"
#include "engine/sql_values.hpp"
#include "engine/time_format.hpp"
#include "engine/validation.hpp"
#include "engine/webhook_secret.hpp"

namespace keyflow {

CreatedSubscription SubscriptionService::create(const Actor& actor,
                                                const NewSubscription& request) {
  require_http_url(request.url, "url");
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
    if (sub.project_id) {
      const auto r = txn.exec_params(
          "SELECT organization_id::text FROM projects WHERE id = $1::bigint", *sub.project_id);
      if (r.empty()) throw Error(errc::not_found, "project does not exist", "project_id");
      const auto owner = r[0][0].as<std::string>();
      if (sub.organization_id && *sub.organization_id != owner) {
        throw Error(errc::invalid_argument, "project belongs to another organization",
                    "organization_id");
      }
      sub.organization_id = owner;
    } else if (sub.organization_id &&
               txn.exec_params("SELECT 1 FROM organizations WHERE id = $1::bigint",
                               *sub.organization_id)
                   .empty()) {
      throw Error(errc::not_found, "organization does not exist", "organization_id");
    }
    if (sub.organization_id) {
      require_access(actor, Permission::manage, {*sub.organization_id, sub.project_id},
                     sub.project_id ? "project" : "organization");
    } else if (actor.kind == Actor::Kind::key) {
      // Only the admin subscribes to every tenant's events.
      throw Error(errc::forbidden, "only the admin token subscribes across organizations");
    }
    txn.exec_params(
        "INSERT INTO webhook_subscriptions (id, organization_id, project_id, url, event_types,"
        " secret_sealed, status, created_at)"
        " VALUES ($1::bigint, $2::bigint, $3::bigint, $4, $5::text[], $6, $7, $8::timestamptz)",
        sub.id, sub.organization_id, sub.project_id, sub.url, text_array_literal(sub.event_types),
        pqxx::binarystring(sealed.data(), sealed.size()), sub.status,
        sql_timestamp(sub.created_at));
    auto data = to_json(sub);
    data["actor"] = to_json(actor);
    append_event(txn, {"webhook_subscription", sub.id, "webhook_subscription.created",
                       std::move(data), sub.created_at});
  });
  return out;
}

}  // namespace keyflow
