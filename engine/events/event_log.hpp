#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/core/clock.hpp"
#include "engine/core/model.hpp"
#include "engine/events/event_store.hpp"
#include "engine/store/database.hpp"

namespace keyflow {

struct EventQuery {
  std::optional<std::string> aggregate_id;
  std::optional<std::string> type;
  int limit = 100;  // 1..1000
};

// The audit trail: what happened to a resource, newest first, read from the outbox rows the
// relay keeps for the retention period.
class EventLog {
 public:
  explicit EventLog(ConnectionPool& db) : db_(db) {}

  // A key sees only the events of its own organization (and project).
  std::vector<RecordedEvent> list(const Actor& actor, const EventQuery& query);

 private:
  ConnectionPool& db_;
};

}  // namespace keyflow
