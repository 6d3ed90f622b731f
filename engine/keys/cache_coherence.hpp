#pragma once

#include <chrono>
#include <cstdint>
#include <stop_token>
#include <string>

#include "engine/core/clock.hpp"
#include "engine/core/log_limiter.hpp"
#include "engine/keys/key_service.hpp"
#include "engine/keys/verify_cache.hpp"
#include "engine/store/database.hpp"

namespace keyflow {

struct CacheCoherenceOptions {
  std::chrono::milliseconds heartbeat{250};
  // How long this process trusts its cache after a heartbeat reached the database. Shorter
  // than alive_seconds, so that a process the others have stopped waiting for has already
  // stopped answering from its cache (the margin covers clock skew with the database).
  std::chrono::milliseconds trust{2000};
  int alive_seconds = 3;
  std::chrono::milliseconds wait_limit{5000};  // a bound on await_everywhere, whatever happens
};

// Keeps the verify caches of all serve processes coherent with key changes, through
// PostgreSQL: a key change's transaction notifies keyflow_verify_cache (delivered to every
// listener at commit, in commit order); before the change returns, await_everywhere() pings
// on the same channel and waits until every live serve process has answered the ping, which
// each does only after handling every notification before it. So once a PATCH, revoke or
// rotate returns, no serve process answers from the key's old state.
class CacheCoherence final : public KeyChangeBarrier {
 public:
  CacheCoherence(std::string database_url, ConnectionPool& pool, VerifyCache& cache,
                 const Clock& clock, CacheCoherenceOptions options = {});

  // The listener: joins, drops changed keys, answers pings, heartbeats; until stop.
  void run(std::stop_token stop);

  void await_everywhere() override;

 private:
  std::string database_url_;
  ConnectionPool& pool_;
  VerifyCache& cache_;
  const Clock& clock_;
  CacheCoherenceOptions options_;
  std::string instance_id_;
  LogLimiter warnings_;
};

}  // namespace keyflow
