#include "keyflowd/engine_core.hpp"

#include <algorithm>

#include "engine/crypto/master_key_rotation.hpp"

namespace keyflow {
namespace {

std::optional<VerifyCache> cache_if(bool serves, const Clock& clock,
                                    EngineCore::CacheSettings cache) {
  if (!serves) return std::nullopt;
  return std::optional<VerifyCache>(std::in_place, clock, cache.ttl, cache.keys,
                                    std::max<std::size_t>(1000, cache.keys / 10));
}

}  // namespace

EngineCore::EngineCore(const std::string& url, const Keyring& master_keys, bool serves,
                       const DestinationPolicy& destinations, CacheSettings cache)
    : database_url(url),
      pool(url, 16),
      keyring(load_keyring(pool, master_keys)),
      verify_cache(cache_if(serves, clock, cache)),
      coherence(serves
                    ? std::optional<CacheCoherence>(std::in_place, url, pool, *verify_cache, clock)
                    : std::nullopt),
      keys(pool, keyring, clock, verify_cache ? &*verify_cache : nullptr, &usage,
           coherence ? &*coherence : nullptr, destinations) {}

}  // namespace keyflow
