#pragma once

#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <pqxx/pqxx>

#include "engine/core/clock.hpp"

namespace keyflow {

struct DomainEvent {
  std::string aggregate_type;  // api_key -> topic keyflow.api_keys
  std::string aggregate_id;    // the Kafka message key
  std::string event_type;      // api_key.created
  boost::json::object data;    // never a plaintext secret or a hash
  TimePoint occurred_at;
};

// Inserts the event into the outbox inside the caller's transaction, so that the change and
// its event commit together or not at all. Returns the event id (the CloudEvents ce_id). The
// row carries the trace context of the request being handled (TraceScope), when it has one.
std::string append_event(pqxx::work& txn, const DomainEvent& event);
// Many events in one statement, in the order given (their outbox ids ascend in that order).
void append_events(pqxx::work& txn, const std::vector<DomainEvent>& events);

}  // namespace keyflow
