#include "engine/outbox_append.hpp"

#include <boost/json/serialize.hpp>

#include "engine/sql_values.hpp"
#include "engine/time_format.hpp"

namespace keyflow {

std::string append_event(pqxx::work& txn, const DomainEvent& event) {
  const auto row = txn.exec_params1(
      "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload, occurred_at)"
      " VALUES ($1, $2, $3, $4::jsonb, $5::timestamptz) RETURNING event_id::text",
      event.aggregate_type, event.aggregate_id, event.event_type,
      boost::json::serialize(event.data), sql_timestamp(event.occurred_at));
  return row[0].as<std::string>();
}

}  // namespace keyflow
