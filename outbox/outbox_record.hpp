#pragma once

#include <cstdint>
#include <string>

#include "outbox/kafka_producer.hpp"

namespace keyflow {

// One row of the outbox table as the relay reads it; occurred_at is PostgreSQL's text form.
struct OutboxRecord {
  std::int64_t id = 0;
  std::string event_id{};
  std::string aggregate_type{};
  std::string aggregate_id{};
  std::string event_type{};
  std::string payload{};
  std::string occurred_at{};
  std::string traceparent{};  // empty when the change came with no trace context
};

// The Kafka message for an outbox row, as a CloudEvents 1.0 event in binary content mode: the
// topic of its aggregate type, key = aggregate id (one key's events share a partition, so they
// stay in order), value = the payload JSON, attributes in ce_* headers.
// ce_sequence = the outbox id, zero-padded to 20 digits: compared as text (as the CloudEvents
// sequence extension is), later events of a key compare greater, so a consumer can drop a
// duplicate or a stale message by remembering the last sequence it applied per key.
// With a trace context, also ce_traceparent (CloudEvents' distributed tracing extension) and
// traceparent (W3C's name, which Kafka instrumentations read).
OutgoingMessage to_cloud_event(const OutboxRecord& record);
std::string event_sequence(std::int64_t outbox_id);

}  // namespace keyflow
