#pragma once

#include <string_view>

#include "engine/connections/connection_service.hpp"
#include "engine/connections/connection_store.hpp"
#include "engine/core/model.hpp"
#include "engine/events/outbox_store.hpp"

// The events of connections and their write keys, built here and nowhere else, to match
// schemas/events/connection.*.json and event_write_key.*.json. A write key's events carry its
// id and first characters, never the key or its hash.
namespace keyflow {

DomainEvent connection_created(const Connection& c, const Actor& actor);
DomainEvent connection_deleted(const Connection& c, const Actor& actor, TimePoint at);
DomainEvent write_key_created(const WriteKeyRow& key, const Connection& c, const Actor& actor);
// reason: "deleted" (the key alone) or "connection_deleted".
DomainEvent write_key_deleted(const WriteKeyRow& key, const Connection& c, const Actor& actor,
                              TimePoint at, std::string_view reason);

}  // namespace keyflow
