#include "engine/keys/key_events.hpp"

#include "engine/core/json_render.hpp"

namespace keyflow {

boost::json::object key_event_data(const ApiKey& key, const Actor& actor) {
  auto data = to_json(key);
  data["actor"] = to_json(actor);
  return data;
}

DomainEvent key_event(std::string type, const ApiKey& key, boost::json::object data, TimePoint at) {
  return {"api_key", key.id, std::move(type), std::move(data), at};
}

}  // namespace keyflow
