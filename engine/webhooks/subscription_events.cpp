#include "engine/webhooks/subscription_events.hpp"

#include "engine/core/json_render.hpp"

namespace keyflow {

DomainEvent subscription_created(const WebhookSubscription& subscription, const Actor& actor) {
  auto data = to_json(subscription);
  data["actor"] = to_json(actor);
  return {"webhook_subscription", subscription.id, "webhook_subscription.created", std::move(data),
          subscription.created_at};
}

}  // namespace keyflow
