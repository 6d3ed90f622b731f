#include "consumers/delivery_fanout.hpp"

#include <optional>
#include <string>
#include <vector>

#include "consumers/delivery_payload.hpp"
#include "engine/webhooks/webhook_delivery_store.hpp"

namespace keyflow {
namespace {

// The scope ids of an event's data, digits as a string or as a JSON integer; null (or
// absent) matches only unscoped subscriptions.
std::optional<std::string> scope_id(const boost::json::object& data, std::string_view field) {
  const auto* value = data.if_contains(field);
  if (value == nullptr) return std::nullopt;
  if (value->is_string()) return std::string(value->get_string());
  if (value->is_int64()) return std::to_string(value->get_int64());
  if (value->is_uint64()) return std::to_string(value->get_uint64());
  return std::nullopt;
}

}  // namespace

DeliveryFanout::Result DeliveryFanout::fan_out(const CloudEvent& event) {
  const auto now = clock_.now();
  const auto organization_id = scope_id(event.data, "organization_id");
  const auto project_id = scope_id(event.data, "project_id");
  return pool_.transact([&](pqxx::work& txn) {
    const auto subscriptions =
        WebhookDeliveryStore::matching_subscriptions(txn, event.type, organization_id, project_id);
    std::vector<NewWebhookDelivery> deliveries;
    deliveries.reserve(subscriptions.size());
    for (const auto& subscription : subscriptions) {
      auto id = new_delivery_id();
      auto body = delivery_body(id, event);
      deliveries.push_back({std::move(id), subscription, event.id, event.type, std::move(body)});
    }
    return Result{subscriptions.size(), WebhookDeliveryStore::insert(txn, deliveries, now)};
  });
}

}  // namespace keyflow
