#pragma once

#include <string_view>

#include "consumers/retry_schedule.hpp"
#include "engine/core/clock.hpp"

namespace keyflow {

// What a delivery becomes after one attempt. Pure: the caller passes now and the jitter.
struct DeliveryOutcome {
  std::string_view status;    // "succeeded", "pending" (retry at next_attempt_at) or "dead"
  TimePoint next_attempt_at;  // for "pending"; now otherwise
};

// attempt is the number of the attempt just made (1 for the first).
DeliveryOutcome decide_outcome(bool succeeded, int attempt, TimePoint now,
                               const RetrySchedule& schedule, double jitter);

}  // namespace keyflow
