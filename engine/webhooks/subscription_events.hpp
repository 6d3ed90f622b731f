#pragma once

#include <string>
#include <vector>

#include "engine/core/model.hpp"
#include "engine/events/outbox_store.hpp"

// The events of webhook subscriptions, built here and nowhere else, to match
// schemas/events/webhook_subscription.*.json. Never the secret.
namespace keyflow {

DomainEvent subscription_created(const WebhookSubscription& subscription, const Actor& actor);
// changed_fields: the members a PATCH changed (url, event_types, description, status).
DomainEvent subscription_updated(const WebhookSubscription& subscription,
                                 const std::vector<std::string>& changed_fields,
                                 const Actor& actor);
DomainEvent subscription_deleted(const WebhookSubscription& subscription, const Actor& actor,
                                 TimePoint deleted_at);

}  // namespace keyflow
