#include "engine/events/event_store.hpp"

#include <boost/json/parse.hpp>

#include "engine/store/sql_values.hpp"

namespace keyflow {

std::vector<RecordedEvent> EventStore::list(pqxx::work& txn, const EventFilter& filter) {
  std::vector<RecordedEvent> events;
  for (const auto& r : txn.exec_params(kListSql, filter.aggregate_id, filter.type,
                                       filter.organization_id, filter.project_id, filter.limit)) {
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
}

}  // namespace keyflow
