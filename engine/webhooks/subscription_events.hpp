#pragma once

#include <optional>
#include <string>
#include <string_view>
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

// The deliverer's operational events: a receiver disabled because it answered 410 ("gone") or
// kept failing since failing_since ("failing"), and one that answered again after a dead
// delivery or a disable.
DomainEvent endpoint_disabled(const WebhookSubscription& subscription, std::string_view cause,
                              TimePoint failing_since, TimePoint disabled_at);
DomainEvent endpoint_recovered(const WebhookSubscription& subscription,
                               const std::optional<TimePoint>& failing_since,
                               TimePoint recovered_at);

}  // namespace keyflow
