#pragma once

#include <optional>
#include <string>

#include <boost/json/object.hpp>

#include "consumers/kafka_consumer.hpp"
#include "engine/core/clock.hpp"

namespace keyflow {

// A keyflow domain event as the relay publishes it: CloudEvents 1.0 in Kafka binary mode, the
// attributes in ce_* headers and the event's data as the message value.
struct CloudEvent {
  std::string id;           // ce_id, the outbox event_id (a UUID, lower case)
  std::string type;         // ce_type, e.g. api_key.created
  std::string source;       // ce_source
  std::string subject;      // ce_subject (the aggregate id), else the message key
  std::string time;         // ce_time, RFC 3339, as published
  std::string traceparent;  // ce_traceparent when it is a valid one, else empty
  boost::json::object data;
};

// nullopt and a reason when the message is not a usable event: ce_id missing or not a UUID,
// ce_type, ce_time or the subject missing, ce_time malformed, or a value that is not a JSON
// object.
std::optional<CloudEvent> parse_cloud_event(const KafkaMessage& message, std::string& error);

// The event's time (ce_time) as a time point; the epoch when it does not read, which
// parse_cloud_event has ruled out for the events it returns.
TimePoint event_time(const CloudEvent& event);

}  // namespace keyflow
