#include "keyflowd/engine_core.hpp"

namespace keyflow {
namespace {

std::optional<VerifyCache> cache_if(bool serves, const Clock& clock) {
  if (!serves) return std::nullopt;
  return std::optional<VerifyCache>(std::in_place, clock, std::chrono::seconds(10));
}

}  // namespace

EngineCore::EngineCore(const std::string& url, const MasterKey& key, bool serves,
                       const DestinationPolicy& destinations)
    : database_url(url),
      master_key(key),
      pool(url, 16),
      verify_cache(cache_if(serves, clock)),
      coherence(serves
                    ? std::optional<CacheCoherence>(std::in_place, url, pool, *verify_cache, clock)
                    : std::nullopt),
      keys(pool, master_key, clock, verify_cache ? &*verify_cache : nullptr, &usage,
           coherence ? &*coherence : nullptr, destinations) {}

}  // namespace keyflow
