#pragma once

#include "engine/connections/connection_service.hpp"
#include "http/authenticator.hpp"
#include "http/router.hpp"

namespace keyflow::http {

// Connections and their event write keys (seed 003):
//   POST   /v1/connections                              {"project_id","type","name"} → 201
//   GET    /v1/connections?project_id=                  → 200 {"connections":[...]}
//   GET    /v1/connections/{id}                         → 200
//   DELETE /v1/connections/{id}                         → 204
//   POST   /v1/connections/{id}/event-write-keys        → 201 {"key"}
//   GET    /v1/connections/{id}/event-write-keys        → 200 {"keys":[...]}
//   DELETE /v1/connections/{id}/event-write-keys/{key}  → 204
//   POST   /v1/event-write-keys/verify                  {"key"} → 200 {"valid","code",...}
void add_connection_routes(Router& router, ConnectionService& connections,
                           const Authenticator& auth);

}  // namespace keyflow::http
