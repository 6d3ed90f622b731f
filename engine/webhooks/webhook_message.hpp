#pragma once

#include <string>
#include <string_view>

namespace keyflow {

// What every webhook keyflow sends shares, event fan-out and rotation webhooks alike.

// The version of the webhook payload's shape, sent as apiVersion.
inline constexpr std::string_view kWebhookApiVersion = "2026-11-01";

// The type of what POST /v1/webhooks/subscriptions/{id}/test sends: a delivery like any
// other, of no outbox event.
inline constexpr std::string_view kTestEventType = "webhook.test";

// A webhook message id, also the webhook-id header: "msg_" + 27 random base62 characters
// (160 random bits).
std::string new_delivery_id();
// The id of the delivery of one event to one subscription, of the same form, derived from the
// pair (BLAKE2b): a first attempt sent before its delivery row was written, and sent again after
// a crash, carries the same webhook-id, so that the receiver can drop the duplicate.
std::string delivery_id_for(std::string_view subscription_id, std::string_view event_id);
// Of the form new_delivery_id makes: msg_ and 27 base62 characters.
bool is_delivery_id(std::string_view text);

}  // namespace keyflow
