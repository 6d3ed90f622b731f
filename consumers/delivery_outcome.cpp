#include "consumers/delivery_outcome.hpp"

namespace keyflow {

DeliveryOutcome decide_outcome(bool succeeded, int attempt, TimePoint now,
                               const RetrySchedule& schedule, double jitter) {
  if (succeeded) return {"succeeded", now};
  const auto delay = schedule.delay_before(attempt + 1, jitter);
  if (!delay) return {"dead", now};
  return {"pending", now + *delay};
}

}  // namespace keyflow
