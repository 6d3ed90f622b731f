#include "engine/event_log.hpp"

#include <boost/json/parse.hpp>

#include "engine/access.hpp"
#include "engine/errc.hpp"
#include "engine/sql_values.hpp"
#include "engine/validation.hpp"

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
  // Tenancy in the query itself: every event's data names its organization and project.
  std::optional<std::string> organization;
  std::optional<std::string> project;
  if (actor.kind == Actor::Kind::key) {
    organization = actor.organization_id;
    project = actor.project_id;
  }
  return db_.transact([&](pqxx::work& txn) {
    std::vector<RecordedEvent> events;
    for (const auto& r :
         txn.exec_params("SELECT event_id::text, aggregate_type, aggregate_id, event_type,"
                         " occurred_at::text, published_at::text, payload::text FROM outbox"
                         " WHERE ($1::text IS NULL OR aggregate_id = $1)"
                         " AND ($2::text IS NULL OR event_type = $2)"
                         " AND ($3::text IS NULL OR payload->>'organization_id' = $3)"
                         " AND ($4::text IS NULL OR payload->>'project_id' = $4)"
                         " ORDER BY id DESC LIMIT $5",
                         query.aggregate_id, query.type, organization, project, query.limit)) {
      RecordedEvent e;
      e.event_id = r[0].as<std::string>();
      e.aggregate_type = r[1].as<std::string>();
      e.aggregate_id = r[2].as<std::string>();
      e.type = r[3].as<std::string>();
      e.occurred_at = timestamp_of(r[4]);
      e.published_at = optional_timestamp(r[5]);
      e.data = boost::json::parse(r[6].c_str()).as_object();
      events.push_back(std::move(e));
    }
    return events;
  });
}

}  // namespace keyflow
