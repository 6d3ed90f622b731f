#include "consumers/retry_schedule.hpp"

#include <algorithm>
#include <cmath>

namespace keyflow {

std::chrono::milliseconds RetrySchedule::base_delay(int next_attempt) const {
  const double factor = std::pow(options_.multiplier, std::max(0, next_attempt - 2));
  const double ms = static_cast<double>(options_.initial.count()) * factor;
  const double capped = std::min(ms, static_cast<double>(options_.max_delay.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(capped));
}

std::optional<std::chrono::milliseconds> RetrySchedule::delay_before(int next_attempt,
                                                                     double jitter) const {
  if (next_attempt < 2 || next_attempt > options_.max_attempts) return std::nullopt;
  // "Equal jitter": half fixed, half random, so retries spread out but never bunch at zero.
  const auto base = base_delay(next_attempt);
  const double j = std::clamp(jitter, 0.0, 1.0);
  const auto half = base.count() / 2;
  return std::chrono::milliseconds(half + static_cast<std::int64_t>(static_cast<double>(half) * j));
}

}  // namespace keyflow
