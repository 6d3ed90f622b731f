#include "engine/events/event_log.hpp"

#include "engine/core/errc.hpp"
#include "engine/core/validation.hpp"
#include "engine/tenancy/access.hpp"

namespace keyflow {

std::vector<RecordedEvent> EventLog::list(const Actor& actor, const EventQuery& query) {
  if (query.limit < 1 || query.limit > 1000) {
    throw Error(errc::invalid_argument, "limit must be between 1 and 1000", "limit");
  }
  if (!has_permission(actor, Permission::read)) {
    throw Error(errc::forbidden, "this key lacks the READ scope");
  }
  if (query.aggregate_id && query.aggregate_id->size() > 200) {
    throw Error(errc::invalid_argument, "aggregate_id is too long", "aggregate_id");
  }
  if (query.type && query.type->size() > 100) {
    throw Error(errc::invalid_argument, "type is too long", "type");
  }
  // Tenancy in the query itself: every event's data names its organization and project.
  EventFilter filter{query.aggregate_id, query.type, std::nullopt, std::nullopt, query.limit};
  if (actor.kind == Actor::Kind::key) {
    filter.organization_id = actor.organization_id;
    filter.project_id = actor.project_id;
  }
  return db_.transact([&](pqxx::work& txn) { return EventStore::list(txn, filter); });
}

}  // namespace keyflow
