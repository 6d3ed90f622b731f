#include "engine/keys/containment.hpp"

#include <algorithm>

#include "engine/core/errc.hpp"
#include "engine/core/time_format.hpp"
#include "engine/keys/cidr.hpp"

namespace keyflow {

bool scope_covers(const std::vector<std::string>& held, std::string_view wanted) {
  for (const auto& s : held) {
    if (s == "MANAGE" || s == wanted) return true;
    // "orders:*" covers "orders:read"; the wanted scope's own resource must match exactly.
    if (s.ends_with(":*") && wanted.starts_with(std::string_view(s).substr(0, s.size() - 1))) {
      return true;
    }
  }
  return false;
}

void require_contained(const Actor& caller, const KeyGrant& grant, std::string_view subject) {
  if (caller.kind != Actor::Kind::key) return;
  const std::string who(subject);
  for (const auto& scope : grant.scopes) {
    if (!scope_covers(caller.scopes, scope)) {
      throw Error(errc::exceeds_scopes,
                  who + " would hold the scope " + scope + ", which the calling key does not",
                  "scopes");
    }
  }
  if (caller.expires_at) {
    if (!grant.ends_at) {
      throw Error(errc::exceeds_expiry,
                  who + " would never expire; the calling key expires at " +
                      format_timestamp(*caller.expires_at) + ", so give expires_at no later",
                  "expires_at");
    }
    if (*grant.ends_at > *caller.expires_at) {
      throw Error(errc::exceeds_expiry,
                  who + " would outlive the calling key, which expires at " +
                      format_timestamp(*caller.expires_at),
                  "expires_at");
    }
  }
  if (!caller.allowed_cidrs.empty()) {
    if (grant.allowed_cidrs.empty()) {
      throw Error(errc::exceeds_networks,
                  who +
                      " would work from any address; the calling key is limited to its "
                      "allowed_cidrs, so give networks inside them",
                  "allowed_cidrs");
    }
    for (const auto& cidr : grant.allowed_cidrs) {
      if (!cidr_within_any(cidr, caller.allowed_cidrs)) {
        throw Error(
            errc::exceeds_networks,
            who + " would work from " + cidr + ", which is outside the calling key's allowed_cidrs",
            "allowed_cidrs");
      }
    }
  }
}

}  // namespace keyflow
