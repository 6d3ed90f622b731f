#include "engine/outbox_append.hpp"

#include <boost/json/array.hpp>
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

void append_events(pqxx::work& txn, const std::vector<DomainEvent>& events) {
  if (events.empty()) return;
  boost::json::array rows;
  for (const auto& e : events) {
    rows.push_back({{"aggregate_type", e.aggregate_type},
                    {"aggregate_id", e.aggregate_id},
                    {"event_type", e.event_type},
                    {"payload", e.data},
                    {"occurred_at", sql_timestamp(e.occurred_at)}});
  }
  // ORDER BY the position: nextval() numbers the rows in the order they are inserted.
  txn.exec_params(
      "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload, occurred_at)"
      " SELECT e->>'aggregate_type', e->>'aggregate_id', e->>'event_type', e->'payload',"
      "  (e->>'occurred_at')::timestamptz"
      " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n",
      boost::json::serialize(rows));
}

}  // namespace keyflow
