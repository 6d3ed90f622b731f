#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "engine/core/clock.hpp"

namespace keyflow {

// What every webhook keyflow sends shares, event fan-out and rotation webhooks alike.

// The version of the webhook payload's shape, sent as apiVersion.
inline constexpr std::string_view kWebhookApiVersion = "2026-11-01";

// The type of what POST /v1/webhooks/subscriptions/{id}/test sends: a delivery like any
// other, of no outbox event.
inline constexpr std::string_view kTestEventType = "webhook.test";

// A webhook message id, also the webhook-id header: "msg_" + a KSUID as Svix's are, 27 base62
// characters of 4 bytes of seconds since the KSUID epoch (2014-05-13T16:53:20Z) and 16 random
// bytes. Ids sort by their time, so that the delivery log's indexes take new rows at their end
// instead of at random places all over them.
std::string new_delivery_id(TimePoint at);
// The KSUID of `at` and a payload of 16 bytes, as a message id.
std::string ksuid_message_id(TimePoint at, std::span<const std::uint8_t, 16> payload);
// The id of the delivery of one event to one subscription, of the same form: the event's time,
// then 16 bytes derived from the pair (BLAKE2b). A first attempt sent before its delivery row was
// written, and sent again after a crash, carries the same webhook-id, so that the receiver can
// drop the duplicate; and the id is the delivery's key, so it is written once.
std::string delivery_id_for(std::string_view subscription_id, std::string_view event_id,
                            TimePoint event_time);
// Of the form new_delivery_id makes: msg_ and 27 base62 characters.
bool is_delivery_id(std::string_view text);

}  // namespace keyflow
