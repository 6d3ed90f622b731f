#pragma once

#include <string>

#include <boost/json/object.hpp>

#include "engine/core/clock.hpp"
#include "engine/core/model.hpp"
#include "engine/events/outbox_store.hpp"

namespace keyflow {

// The one place the api_key events' payloads are built (schemas/events/api_key.*.json):
// the key as the API shows it, and who acted.
boost::json::object key_event_data(const ApiKey& key, const Actor& actor);

// An event on the key's aggregate (Kafka key = the key id, so a key's events stay in order).
DomainEvent key_event(std::string type, const ApiKey& key, boost::json::object data, TimePoint at);

}  // namespace keyflow
