#include "engine/events/outbox_store.hpp"

#include <boost/json/serialize.hpp>

#include "engine/core/time_format.hpp"
#include "engine/core/trace_context.hpp"
#include "engine/store/sql_values.hpp"

namespace keyflow {

namespace {

// The request's trace context, when the change comes from one that carried it.
std::optional<std::string> traceparent() {
  const auto current = TraceScope::current();
  return current.empty() ? std::nullopt : std::optional<std::string>(current);
}

}  // namespace

std::string append_event(pqxx::work& txn, const DomainEvent& event) {
  const auto row = txn.exec_params1(
      "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload, occurred_at,"
      " traceparent)"
      " VALUES ($1, $2, $3, $4::jsonb, $5::timestamptz, $6) RETURNING event_id::text",
      event.aggregate_type, event.aggregate_id, event.event_type,
      boost::json::serialize(event.data), sql_timestamp(event.occurred_at), traceparent());
  return row[0].as<std::string>();
}

void append_events(pqxx::work& txn, const std::vector<DomainEvent>& events) {
  if (events.empty()) return;
  std::vector<std::string> types, ids, event_types, payloads, times;
  for (const auto& e : events) {
    types.push_back(e.aggregate_type);
    ids.push_back(e.aggregate_id);
    event_types.push_back(e.event_type);
    payloads.push_back(boost::json::serialize(e.data));
    times.push_back(sql_timestamp(e.occurred_at));
  }
  // Column arrays rather than one JSON document: each payload is parsed once, as itself.
  // WITH ORDINALITY and ORDER BY: nextval() numbers the rows in the order they are inserted.
  txn.exec_params(
      "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload, occurred_at,"
      " traceparent)"
      " SELECT t, a, e, p::jsonb, o, $6"
      " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])"
      "  WITH ORDINALITY AS r(t, a, e, p, o, n) ORDER BY n",
      text_array_literal(types), text_array_literal(ids), text_array_literal(event_types),
      text_array_literal(payloads), text_array_literal(times), traceparent());
}

}  // namespace keyflow
