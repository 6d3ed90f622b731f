#pragma once

#include <optional>
#include <string_view>

#include "consumers/delivery_queue.hpp"
#include "consumers/webhook_client.hpp"
#include "engine/core/clock.hpp"

namespace keyflow {

// The POST of a claimed delivery with its Standard Webhooks headers: webhook-id (the delivery
// id), webhook-timestamp (`now`, per attempt) and webhook-signature, a v1 signature by the
// secret, another by the previous secret during a rotation's overlap and a v1a one when the
// delivery has a signing key; traceparent when the event carried one. Takes the url and body,
// and wipes the secrets either way.
// nullopt when a secret is malformed.
std::optional<WebhookRequest> signed_request(DueDelivery& due, TimePoint now,
                                             std::string_view user_agent);

}  // namespace keyflow
