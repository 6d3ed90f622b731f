#pragma once

#include <string>
#include <string_view>

#include "consumers/cloud_event.hpp"
#include "engine/webhooks/webhook_message.hpp"

namespace keyflow {

// The resource an event type is about: "api_key" for "api_key.created".
std::string_view event_resource(std::string_view event_type);

// The exact body POSTed for event under delivery_id (seed 000 plus data):
// {"id","event","resource","resourceId","timestamp","apiVersion","data"}, in that order.
std::string delivery_body(std::string_view delivery_id, const CloudEvent& event);

// The same, with the event's data as delivery_data() gives it: a fan-out serializes each
// event's data once for all the subscriptions that receive it.
std::string delivery_data(const CloudEvent& event);
std::string delivery_body(std::string_view delivery_id, const CloudEvent& event,
                          std::string_view data);

}  // namespace keyflow
