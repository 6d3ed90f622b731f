#include "engine/keys/key_service.hpp"

// KeyService: verifying keys, for callers and for authentication, and their usage.

#include "engine/core/errc.hpp"
#include "engine/keys/api_key_store.hpp"
#include "engine/keys/cidr.hpp"
#include "engine/keys/key_format.hpp"
#include "engine/keys/key_rules.hpp"
#include "engine/keys/lifecycle.hpp"
#include "engine/tenancy/access.hpp"

namespace keyflow {

SharedKeyPtr KeyService::lookup(std::string_view key) {
  const auto hash = hasher_.hash(key);
  std::uint64_t epoch = 0;
  if (cache_) {
    if (auto hit = cache_->get(hash)) return std::move(*hit);
    epoch = cache_->epoch();
  }
  auto found = db_.transact([&](pqxx::work& txn) { return ApiKeyStore::find_by_hash(txn, hash); });
  if (cache_) return cache_->put(hash, std::move(found), epoch);
  return found ? std::make_shared<const SharedKey>(std::move(*found)) : SharedKeyPtr();
}

VerifyResult KeyService::verify(const Actor& caller, const VerifyRequest& request) {
  if (!has_permission(caller, Permission::read)) {
    throw Error(errc::forbidden, "this key lacks the READ scope");
  }
  // The checksum turns away mistyped and made-up keys before any lookup.
  if (!parse_key(request.key)) return {VerifyCode::malformed, nullptr};
  const auto found = lookup(request.key);
  // Keys outside the caller's tenant do not exist for it.
  if (!found || !can_reach(caller, tenant_of(*found))) return {VerifyCode::not_found, nullptr};
  const auto& key = *found;
  const auto now = clock_.now();
  // The key's shared state, not a copy of it: verify answers from the cache every time.
  VerifyResult result{key_state_at(key, now), found};
  if (result.code != VerifyCode::valid) return result;
  if (!key.allowed_cidrs.empty() && (!request.ip || !ip_in_any(*request.ip, key.allowed_cidrs))) {
    result.code = VerifyCode::forbidden;
    return result;
  }
  for (const auto& wanted : request.scopes) {
    if (!scope_granted(key.scopes, wanted)) {
      result.code = VerifyCode::insufficient_scopes;
      return result;
    }
  }
  if (usage_ && found->first_use_this_minute(now)) usage_->record(key.id, now);
  return result;
}

std::optional<ApiKey> KeyService::authenticate(std::string_view key, std::string_view remote_ip) {
  if (!parse_key(key)) return std::nullopt;
  const auto found = lookup(key);
  const auto now = clock_.now();
  if (!found || key_state_at(*found, now) != VerifyCode::valid) return std::nullopt;
  if (!found->allowed_cidrs.empty() && !ip_in_any(remote_ip, found->allowed_cidrs)) {
    return std::nullopt;
  }
  if (usage_ && found->first_use_this_minute(now)) usage_->record(found->id, now);
  return static_cast<const ApiKey&>(*found);
}

std::size_t KeyService::flush_usage() {
  if (!usage_) return 0;
  auto uses = usage_->take();
  if (uses.empty()) return 0;
  db_.transact([&](pqxx::work& txn) { ApiKeyStore::record_last_used(txn, uses); });
  return uses.size();
}

}  // namespace keyflow
