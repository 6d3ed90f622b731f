#pragma once

#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "engine/core/clock.hpp"

namespace keyflow {

// One finished attempt of a webhook or rotation delivery, as both attempt logs record it.
struct DeliveryAttempt {
  std::string delivery_id;
  TimePoint lease_until;  // the lease the attempt ran under
  TimePoint attempted_at;
  std::optional<int> status_code;
  int latency_ms = 0;
  std::optional<std::string> error;
  std::optional<std::string> response_body;  // its first 20 000 bytes, when one arrived
  std::string status;                        // the delivery's new status
  TimePoint next_attempt_at;
};

// Attempts as one jsonb parameter, and the FROM clause that reads it back as rows r(id,
// lease_until, attempted_at, status_code, latency_ms, error, response_body, status,
// next_attempt_at): so
// that a batch of attempts is recorded in two statements, whatever its size.
std::string delivery_attempts_json(const std::vector<DeliveryAttempt>& attempts);
inline constexpr const char* kDeliveryAttemptRows =
    " FROM jsonb_to_recordset($1::jsonb) AS r(id text, lease_until timestamptz,"
    "  attempted_at timestamptz, status_code integer, latency_ms integer, error text,"
    "  response_body text, status text, next_attempt_at timestamptz)";

// The attempts whose delivery id is not among `updated` (the RETURNING of the state update):
// their lease had run out, so another sender owns the delivery's state now.
std::vector<std::string> attempts_not_updated(const std::vector<DeliveryAttempt>& attempts,
                                              const pqxx::result& updated);

}  // namespace keyflow
