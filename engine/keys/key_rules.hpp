#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/core/clock.hpp"
#include "engine/core/model.hpp"
#include "engine/tenancy/access.hpp"

// The checks of the values a key may have, shared by creating, changing and rotating keys.
// Each throws Error(invalid_argument) naming the field; the canonical_* ones return the value
// as it is stored.
namespace keyflow {

void validate_scopes(const std::vector<std::string>& scopes);
void validate_interval(std::optional<int> days);
void validate_expiry(std::optional<TimePoint> at, TimePoint now);
void validate_grace(std::optional<int> seconds);
void validate_meta(const std::optional<std::string>& meta);
// The 32 bytes of an X25519 public key given in base64, as stored (base64, canonical).
std::optional<std::string> canonical_public_key(const std::optional<std::string>& text);
std::vector<std::string> canonical_cidrs(const std::vector<std::string>& cidrs);
// A scheduled key needs somewhere to deliver its next key.
void require_delivery_target(const ApiKey& key);

Tenant tenant_of(const ApiKey& key);
// True when a key holding held may act on a request that needs wanted.
bool scope_granted(const std::vector<std::string>& held, const std::string& wanted);

}  // namespace keyflow
