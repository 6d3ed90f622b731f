#pragma once

#include "engine/core/model.hpp"
#include "engine/events/outbox_store.hpp"

// The events of webhook subscriptions, built here and nowhere else, to match
// schemas/events/webhook_subscription.*.json. Never the secret.
namespace keyflow {

DomainEvent subscription_created(const WebhookSubscription& subscription, const Actor& actor);

}  // namespace keyflow
