#include "engine/connections/connection_events.hpp"

#include <string>

#include "engine/core/json_render.hpp"
#include "engine/core/time_format.hpp"

namespace keyflow {
namespace {

boost::json::object connection_data(const Connection& c, const Actor& actor) {
  auto data = to_json(c);
  data["actor"] = to_json(actor);
  return data;
}

boost::json::object write_key_data(const WriteKeyRow& key, const Connection& c,
                                   const Actor& actor) {
  return {{"id", key.id},
          {"connection_id", c.id},
          {"connection_type", to_string(c.type)},
          {"project_id", c.project_id},
          {"organization_id", c.organization_id},
          {"key_prefix", key.key_prefix},
          {"created_at", format_timestamp(key.created_at)},
          {"actor", to_json(actor)}};
}

}  // namespace

DomainEvent connection_created(const Connection& c, const Actor& actor) {
  return {"connection", std::to_string(c.id), "connection.created", connection_data(c, actor),
          c.created_at};
}

DomainEvent connection_deleted(const Connection& c, const Actor& actor, TimePoint at) {
  auto data = connection_data(c, actor);
  data["deleted_at"] = format_timestamp(at);
  return {"connection", std::to_string(c.id), "connection.deleted", std::move(data), at};
}

DomainEvent write_key_created(const WriteKeyRow& key, const Connection& c, const Actor& actor) {
  return {"event_write_key", key.id, "event_write_key.created", write_key_data(key, c, actor),
          key.created_at};
}

DomainEvent write_key_deleted(const WriteKeyRow& key, const Connection& c, const Actor& actor,
                              TimePoint at, std::string_view reason) {
  auto data = write_key_data(key, c, actor);
  data["deleted_at"] = format_timestamp(at);
  data["reason"] = reason;
  return {"event_write_key", key.id, "event_write_key.deleted", std::move(data), at};
}

}  // namespace keyflow
