#pragma once

#include <string_view>

#include "engine/webhooks/subscription_service.hpp"

namespace keyflow::http {

// The webhook routes' requests, read strictly (http/json_input.hpp); every failure throws
// Error naming the field.
NewSubscription read_new_subscription(std::string_view body);

}  // namespace keyflow::http
