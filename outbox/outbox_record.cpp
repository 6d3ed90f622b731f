#include "outbox/outbox_record.hpp"

#include <cstdio>

#include "engine/core/time_format.hpp"
#include "outbox/topics.hpp"

namespace keyflow {

std::string event_sequence(std::int64_t outbox_id) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%020lld", static_cast<long long>(outbox_id));
  return digits;
}

OutgoingMessage to_cloud_event(const OutboxRecord& record) {
  // CloudEvents wants RFC 3339; PostgreSQL's text form ("2026-11-23 15:48:00.123456+00") is
  // not. A value that does not parse cannot come from a timestamptz column, but is passed on
  // rather than dropping the event.
  const auto occurred_at = parse_timestamp(record.occurred_at);
  OutgoingMessage message{
      .topic = topic_for_aggregate(record.aggregate_type),
      .key = record.aggregate_id,
      .value = record.payload,
      .headers =
          {
              {"ce_specversion", "1.0"},
              {"ce_id", record.event_id},
              {"ce_source", "/keyflow"},
              {"ce_type", record.event_type},
              {"ce_time", occurred_at ? format_timestamp(*occurred_at) : record.occurred_at},
              {"ce_subject", record.aggregate_id},
              {"ce_sequence", event_sequence(record.id)},
              {"content-type", "application/json"},
          },
  };
  if (!record.traceparent.empty()) {
    message.headers.push_back({"ce_traceparent", record.traceparent});
    message.headers.push_back({"traceparent", record.traceparent});
  }
  return message;
}

}  // namespace keyflow
