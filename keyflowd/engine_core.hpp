#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "engine/core/clock.hpp"
#include "engine/core/metrics.hpp"
#include "engine/crypto/keyring.hpp"
#include "engine/keys/cache_coherence.hpp"
#include "engine/keys/key_service.hpp"
#include "engine/keys/verify_cache.hpp"
#include "engine/store/database.hpp"
#include "engine/webhooks/destination_policy.hpp"

namespace keyflow {

// What every role of one process shares: the clock, the metrics, the database pool and the key
// service. Serve processes also answer verifies from a cache kept coherent through
// PostgreSQL; other roles read the database. Built before any role, destroyed after them all.
struct EngineCore {
  // destinations: which webhook targets URLs may name (KEYFLOW_WEBHOOK_ALLOW_*); the verify
  // cache's TTL and size (KEYFLOW_VERIFY_CACHE_*), for serve.
  struct CacheSettings {
    std::chrono::seconds ttl{60};
    std::size_t keys = 200000;
  };
  // master_keys: the configured master keys; the pepper is read from the database
  // (load_keyring), which therefore must be migrated.
  EngineCore(const std::string& database_url, const Keyring& master_keys, bool serves,
             const DestinationPolicy& destinations, CacheSettings cache);

  std::string database_url;
  SystemClock clock;
  Metrics metrics;
  ConnectionPool pool;
  Keyring keyring;  // the master keys and the installation's pepper
  std::optional<VerifyCache> verify_cache;
  UsageRecorder usage;
  std::optional<CacheCoherence> coherence;
  KeyService keys;
};

}  // namespace keyflow
