#pragma once

#include <chrono>
#include <string_view>

#include "engine/webhooks/delivery_log.hpp"
#include "engine/webhooks/subscription_service.hpp"
#include "http/request.hpp"

namespace keyflow::http {

// The webhook routes' requests, read strictly (http/json_input.hpp); every failure throws
// Error naming the field.
NewSubscription read_new_subscription(std::string_view body);
// PATCH: a field that is absent stays; null clears description.
SubscriptionPatch read_subscription_patch(std::string_view body);
SubscriptionListRequest read_subscription_list_request(const Request& request);
DeliveryListRequest read_delivery_list_request(const Request& request);
// {"since": "<RFC 3339>"}, required.
TimePoint read_recover_since(std::string_view body);
// {"overlap_seconds": n}, 24 h when absent.
std::chrono::seconds read_secret_overlap(std::string_view body);

}  // namespace keyflow::http
