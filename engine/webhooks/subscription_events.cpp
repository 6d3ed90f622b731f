#include "engine/webhooks/subscription_events.hpp"

#include <boost/json/value_from.hpp>

#include "engine/core/json_render.hpp"
#include "engine/core/time_format.hpp"

namespace keyflow {

DomainEvent subscription_created(const WebhookSubscription& subscription, const Actor& actor) {
  auto data = to_json(subscription);
  data["actor"] = to_json(actor);
  return {"webhook_subscription", subscription.id, "webhook_subscription.created", std::move(data),
          subscription.created_at};
}

DomainEvent subscription_updated(const WebhookSubscription& subscription,
                                 const std::vector<std::string>& changed_fields,
                                 const Actor& actor) {
  auto data = to_json(subscription);
  data["changed_fields"] = boost::json::value_from(changed_fields);
  data["actor"] = to_json(actor);
  return {"webhook_subscription", subscription.id, "webhook_subscription.updated", std::move(data),
          subscription.updated_at};
}

DomainEvent subscription_deleted(const WebhookSubscription& subscription, const Actor& actor,
                                 TimePoint deleted_at) {
  auto data = to_json(subscription);
  data["deleted_at"] = format_timestamp(deleted_at);
  data["actor"] = to_json(actor);
  return {"webhook_subscription", subscription.id, "webhook_subscription.deleted", std::move(data),
          deleted_at};
}

DomainEvent endpoint_disabled(const WebhookSubscription& subscription, std::string_view cause,
                              TimePoint failing_since, TimePoint disabled_at) {
  auto data = to_json(subscription);
  data["cause"] = cause;
  data["failing_since"] = format_timestamp(failing_since);
  data["disabled_at"] = format_timestamp(disabled_at);
  data["actor"] = to_json(Actor::system("deliver"));
  return {"webhook", subscription.id, "webhook.endpoint_disabled", std::move(data), disabled_at};
}

DomainEvent endpoint_recovered(const WebhookSubscription& subscription,
                               const std::optional<TimePoint>& failing_since,
                               TimePoint recovered_at) {
  auto data = to_json(subscription);
  data["failing_since"] = json_or_null(failing_since);
  data["recovered_at"] = format_timestamp(recovered_at);
  data["actor"] = to_json(Actor::system("deliver"));
  return {"webhook", subscription.id, "webhook.endpoint_recovered", std::move(data), recovered_at};
}

}  // namespace keyflow
