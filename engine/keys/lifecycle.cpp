#include "engine/keys/lifecycle.hpp"

#include <algorithm>

namespace keyflow {

std::string_view to_string(VerifyCode code) {
  switch (code) {
    case VerifyCode::valid:
      return "VALID";
    case VerifyCode::not_found:
      return "NOT_FOUND";
    case VerifyCode::revoked:
      return "REVOKED";
    case VerifyCode::expired:
      return "EXPIRED";
    case VerifyCode::disabled:
      return "DISABLED";
    case VerifyCode::forbidden:
      return "FORBIDDEN";
    case VerifyCode::insufficient_scopes:
      return "INSUFFICIENT_SCOPES";
    case VerifyCode::malformed:
      return "MALFORMED";
  }
  return "NOT_FOUND";
}

VerifyCode key_state_at(const ApiKey& key, TimePoint now) {
  if (key.revoked_at && *key.revoked_at <= now) return VerifyCode::revoked;
  if (!key.enabled) return VerifyCode::disabled;
  if (key.expires_at && *key.expires_at <= now) return VerifyCode::expired;
  // A rotated key stays valid until its grace period ends.
  if (key.replaced_by_key_id && (!key.grace_expires_at || *key.grace_expires_at <= now)) {
    return VerifyCode::expired;
  }
  return VerifyCode::valid;
}

TimePoint next_rotation_after(TimePoint from, int interval_days, std::optional<TimePoint> now) {
  const auto interval = std::chrono::hours(24) * interval_days;
  auto next = from + interval;
  if (now && next <= *now) next += interval * ((*now - next) / interval + 1);
  return next;
}

bool is_valid_scope(std::string_view scope) {
  if (std::find(kManagementScopes.begin(), kManagementScopes.end(), scope) !=
      kManagementScopes.end()) {
    return true;
  }
  // resource:action, lower case, e.g. "orders:read" or "orders:*".
  const auto colon = scope.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == scope.size() ||
      scope.size() > 64) {
    return false;
  }
  auto part_ok = [](std::string_view part, bool allow_star) {
    if (allow_star && part == "*") return true;
    return std::all_of(part.begin(), part.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    });
  };
  return part_ok(scope.substr(0, colon), false) && part_ok(scope.substr(colon + 1), true);
}

const std::vector<std::string>& known_event_types() {
  static const std::vector<std::string> types = {"api_key.created",
                                                 "api_key.updated",
                                                 "api_key.revoked",
                                                 "api_key.rotated",
                                                 "api_key.expiring",
                                                 "api_key.expired",
                                                 "api_key.grace_ended",
                                                 "api_key.rotation_undelivered",
                                                 "event_write_key.created",
                                                 "event_write_key.deleted",
                                                 "webhook_subscription.created",
                                                 "webhook_subscription.updated",
                                                 "webhook_subscription.deleted",
                                                 "webhook.endpoint_disabled",
                                                 "webhook.endpoint_recovered",
                                                 "connection.created",
                                                 "connection.deleted"};
  return types;
}

}  // namespace keyflow
