#pragma once

#include <functional>

#include "engine/connections/connection_service.hpp"
#include "engine/core/metrics.hpp"
#include "engine/events/event_log.hpp"
#include "engine/keys/key_service.hpp"
#include "engine/tenancy/organization_service.hpp"
#include "engine/webhooks/delivery_log.hpp"
#include "engine/webhooks/subscription_service.hpp"
#include "http/authenticator.hpp"
#include "http/connection_routes.hpp"
#include "http/router.hpp"

namespace keyflow::http {

// What the routes need; the handlers own nothing.
struct ApiContext {
  KeyService& keys;
  OrganizationService& organizations;
  SubscriptionService& subscriptions;
  DeliveryLog& deliveries;
  TestEventSender& test_events;  // POST …/subscriptions/{id}/test
  ConnectionService& connections;
  EventLog& events;
  const Authenticator& auth;
  Metrics& metrics;
  std::function<bool()> database_ready;
  std::function<bool()> broker_ready;
};

// Wraps a handler so that it runs only for an authenticated caller (401 otherwise).
Handler guarded(const Authenticator& auth, Handler handler);

void add_health_routes(Router& router, ApiContext& api);
void add_organization_routes(Router& router, ApiContext& api);
void add_key_routes(Router& router, ApiContext& api);
void add_webhook_routes(Router& router, ApiContext& api);
void add_delivery_routes(Router& router, ApiContext& api);
void add_event_routes(Router& router, ApiContext& api);

inline void add_api_routes(Router& router, ApiContext& api) {
  add_health_routes(router, api);
  add_organization_routes(router, api);
  add_key_routes(router, api);
  add_webhook_routes(router, api);
  add_delivery_routes(router, api);
  add_event_routes(router, api);
  add_connection_routes(router, api.connections, api.auth);
}

}  // namespace keyflow::http
