#include "consumers/delivery_queue.hpp"

namespace keyflow {

std::vector<DeliveryAttempt> attempts_of(const std::vector<DeliveryResult>& results) {
  std::vector<DeliveryAttempt> attempts;
  attempts.reserve(results.size());
  for (const auto& f : results) {
    const auto& r = f.response;
    attempts.push_back({f.claim.delivery_id, f.claim.lease_until, f.attempted_at,
                        r.recorded_status(), static_cast<int>(r.latency.count()),
                        r.recorded_error(), r.recorded_body(), std::string(f.outcome.status),
                        f.outcome.next_attempt_at});
  }
  return attempts;
}

}  // namespace keyflow
