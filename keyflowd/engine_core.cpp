#include "keyflowd/engine_core.hpp"

#include <algorithm>

namespace keyflow {
namespace {

std::optional<VerifyCache> cache_if(bool serves, const Clock& clock,
                                    EngineCore::CacheSettings cache) {
  if (!serves) return std::nullopt;
  return std::optional<VerifyCache>(std::in_place, clock, cache.ttl, cache.keys,
                                    std::max<std::size_t>(1000, cache.keys / 10));
}

}  // namespace

EngineCore::EngineCore(const std::string& url, const MasterKey& key, bool serves,
                       const DestinationPolicy& destinations, CacheSettings cache)
    : database_url(url),
      master_key(key),
      pool(url, 16),
      verify_cache(cache_if(serves, clock, cache)),
      coherence(serves
                    ? std::optional<CacheCoherence>(std::in_place, url, pool, *verify_cache, clock)
                    : std::nullopt),
      keys(pool, master_key, clock, verify_cache ? &*verify_cache : nullptr, &usage,
           coherence ? &*coherence : nullptr, destinations) {}

}  // namespace keyflow
