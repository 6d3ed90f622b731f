#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/clock.hpp"
#include "engine/core/model.hpp"

namespace keyflow {

// What a key can do, as far as containment compares keys: its scopes, when it stops working
// and where it may be used from.
struct KeyGrant {
  std::vector<std::string> scopes;
  std::optional<TimePoint> ends_at;        // nullopt: never expires
  std::vector<std::string> allowed_cidrs;  // canonical; empty: from anywhere

  static KeyGrant of(const ApiKey& key) {
    return {key.scopes, end_of_life(key), key.allowed_cidrs};
  }
};

// True when a caller holding `held` may hand out `wanted`: MANAGE covers every scope, a scope
// covers itself, and resource:* covers every resource:action.
bool scope_covers(const std::vector<std::string>& held, std::string_view wanted);

// A calling key never ends up holding or handing out more than it has. Throws
// Error(exceeds_scopes | exceeds_expiry | exceeds_networks) naming the field when `grant`
// (a key the caller creates, or one it changes, rotates or revokes, before and after the
// change) reaches beyond the caller's own scopes, life or networks. `subject` names that key
// in the message ("the new key", "this key"). The admin and keyflow's own roles are exempt.
void require_contained(const Actor& caller, const KeyGrant& grant, std::string_view subject);

}  // namespace keyflow
