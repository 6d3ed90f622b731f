#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "consumers/retry_schedule.hpp"
#include "consumers/webhook_client.hpp"
#include "engine/core/clock.hpp"

namespace keyflow {

// What a delivery becomes after one attempt. Pure: the caller passes now and the jitter.
struct DeliveryOutcome {
  std::string_view status;     // "succeeded", "pending" (retry at next_attempt_at) or "dead"
  TimePoint next_attempt_at;   // for "pending"; now otherwise
  bool endpoint_gone = false;  // 410 Gone: the receiver asked never to be sent to again
};

// attempt is the number of the attempt just made (1 for the first). 2xx acknowledges; any
// other status (3xx included: redirects are never followed) or no response at all is a
// failure, retried on the schedule; 410 is dead at once; 429 and 503 wait at least their
// Retry-After (at most a day).
DeliveryOutcome decide_outcome(const WebhookResponse& response, int attempt, TimePoint now,
                               const RetrySchedule& schedule, double jitter);

// A Retry-After value (RFC 9110): delay-seconds or an HTTP-date, as a wait from now (zero for
// a date in the past); nullopt when it is neither.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, TimePoint now);

}  // namespace keyflow
