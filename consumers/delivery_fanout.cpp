#include "consumers/delivery_fanout.hpp"

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "consumers/delivery_payload.hpp"
#include "engine/webhooks/webhook_delivery_store.hpp"

namespace keyflow {

std::optional<std::string> scope_id(const boost::json::object& data, std::string_view field) {
  const auto* value = data.if_contains(field);
  if (value == nullptr) return std::nullopt;
  if (value->is_string()) return std::string(value->get_string());
  if (value->is_int64()) return std::to_string(value->get_int64());
  if (value->is_uint64()) return std::to_string(value->get_uint64());
  return std::nullopt;
}

DeliveryFanout::Result DeliveryFanout::fan_out(const CloudEvent& event) {
  return fan_out(std::vector<CloudEvent>{event});
}

DeliveryFanout::Result DeliveryFanout::fan_out(const std::vector<CloudEvent>& events) {
  const auto now = clock_.now();
  const auto outcome = pool_.transact([&](pqxx::work& txn) {
    using Audience =
        std::tuple<std::string, std::optional<std::string>, std::optional<std::string>>;
    std::map<Audience, std::vector<std::string>> matches;
    std::vector<NewWebhookDelivery> deliveries;
    Result result;
    for (const auto& event : events) {
      Audience audience{event.type, scope_id(event.data, "organization_id"),
                        scope_id(event.data, "project_id")};
      auto it = matches.find(audience);
      if (it == matches.end()) {
        auto subscriptions = WebhookDeliveryStore::matching_subscriptions(
            txn, event.type, std::get<1>(audience), std::get<2>(audience));
        it = matches.emplace(std::move(audience), std::move(subscriptions)).first;
      }
      result.matched += it->second.size();
      const auto at = event_time(event);
      for (const auto& subscription : it->second) {
        auto id = delivery_id_for(subscription, event.id, at);
        auto body = delivery_body(id, event);
        deliveries.push_back({std::move(id), subscription, event.id, event.type, std::move(body),
                              event.traceparent});
      }
    }
    result.created = WebhookDeliveryStore::insert(txn, deliveries, now);
    return result;
  });
  statistics_.written(outcome.created);
  return outcome;
}

}  // namespace keyflow
