#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <pqxx/pqxx>

#include "engine/core/clock.hpp"

namespace keyflow {

struct RecordedEvent {
  std::string event_id;  // the CloudEvents ce_id on Kafka
  std::string aggregate_type;
  std::string aggregate_id;
  std::string type;
  TimePoint occurred_at;
  std::optional<TimePoint> published_at;
  boost::json::object data;  // includes "actor": who made the change
};

// Which retained outbox rows to read, newest first; an empty member does not filter.
struct EventFilter {
  std::optional<std::string> aggregate_id;
  std::optional<std::string> type;
  std::optional<std::string> organization_id;
  std::optional<std::string> project_id;
  int limit = 100;
};

// SQL for reading the outbox as an event log.
class EventStore {
 public:
  // Parameters: aggregate_id, type, organization_id, project_id, limit (in that order). The
  // tenant predicates match the expression indexes of schemas/sql/006_event_log_tenancy.sql.
  static constexpr const char* kListSql =
      "SELECT event_id::text, aggregate_type, aggregate_id, event_type, occurred_at::text,"
      " published_at::text, payload::text FROM outbox"
      " WHERE ($1::text IS NULL OR aggregate_id = $1)"
      " AND ($2::text IS NULL OR event_type = $2)"
      " AND ($3::text IS NULL OR payload->>'organization_id' = $3)"
      " AND ($4::text IS NULL OR payload->>'project_id' = $4)"
      " ORDER BY id DESC LIMIT $5";

  static std::vector<RecordedEvent> list(pqxx::work& txn, const EventFilter& filter);
};

}  // namespace keyflow
