#include "consumers/delivery_fanout.hpp"

#include <optional>
#include <string>
#include <vector>

#include "consumers/delivery_payload.hpp"
#include "engine/core/time_format.hpp"

namespace keyflow {
namespace {

// The scope ids of an event's data; null (or absent) matches only unscoped subscriptions.
std::optional<std::string> scope_id(const boost::json::object& data, std::string_view field) {
  const auto* value = data.if_contains(field);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return std::string(value->get_string());
}

}  // namespace

DeliveryFanout::Result DeliveryFanout::fan_out(const CloudEvent& event) {
  const auto now = format_timestamp(clock_.now());
  const auto organization_id = scope_id(event.data, "organization_id");
  const auto project_id = scope_id(event.data, "project_id");
  return pool_.transact([&](pqxx::work& txn) {
    Result result;
    // Compared as text so that a malformed id in the data matches nothing instead of failing
    // the cast (and with it, forever, the event).
    const auto subscriptions = txn.exec_params(
        "SELECT id FROM webhook_subscriptions"
        " WHERE status = 'enabled'"
        "   AND (cardinality(event_types) = 0 OR $1 = ANY (event_types))"
        "   AND (organization_id IS NULL OR organization_id::text = lower($2))"
        "   AND (project_id IS NULL OR project_id::text = lower($3))"
        " ORDER BY id",
        event.type, organization_id, project_id);
    result.matched = subscriptions.size();
    for (const auto& row : subscriptions) {
      const auto delivery_id = new_delivery_id();
      const auto inserted = txn.exec_params(
          "INSERT INTO webhook_deliveries"
          " (id, subscription_id, event_id, event_type, body, next_attempt_at, created_at,"
          "  updated_at)"
          " VALUES ($1, $2, $3, $4, $5, $6, $6, $6)"
          " ON CONFLICT (subscription_id, event_id) DO NOTHING",
          delivery_id, row[0].c_str(), event.id, event.type, delivery_body(delivery_id, event),
          now);
      result.created += static_cast<std::size_t>(inserted.affected_rows());
    }
    return result;
  });
}

}  // namespace keyflow
