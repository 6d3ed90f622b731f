#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/clock.hpp"
#include "engine/core/model.hpp"

namespace keyflow {

enum class VerifyCode {
  valid,
  not_found,
  revoked,
  expired,
  disabled,
  forbidden,
  insufficient_scopes,
  malformed,
};

std::string_view to_string(VerifyCode code);

// The state of a key at `now`, for verify. Order matters: a revoked key says REVOKED even
// when it has also expired, because revocation is the deliberate act a caller should see.
VerifyCode key_state_at(const ApiKey& key, TimePoint now);

// When a key with a rotation interval is next due: an interval after `from`, and, when `now`
// is given, the first such time after it (a scheduler that was down skips missed periods
// instead of rotating again at once). Counting from the due time, not the rotation's own
// time, keeps a schedule from drifting.
TimePoint next_rotation_after(TimePoint from, int interval_days,
                              std::optional<TimePoint> now = std::nullopt);

// Scopes: the five of the management API, or custom resource:action scopes that downstream
// services check through verify.
bool is_valid_scope(std::string_view scope);
inline const std::vector<std::string> kManagementScopes = {"READ", "CREATE", "UPDATE", "DELETE",
                                                           "MANAGE"};

// Event types a webhook subscription may filter on.
const std::vector<std::string>& known_event_types();

}  // namespace keyflow
