#pragma once

#include <stop_token>
#include <string>

#include "engine/keys/verify_cache.hpp"

namespace keyflow {

// Keeps one serve process's verify cache honest: reads every event on keyflow.api_keys (a
// consumer group of its own, from the newest offset) and drops the cached state of the key
// it names, so that a revoke through any process takes effect everywhere within moments.
class KeyCacheInvalidator {
 public:
  KeyCacheInvalidator(std::string brokers, VerifyCache& cache)
      : brokers_(std::move(brokers)), cache_(cache) {}

  void run(std::stop_token stop);

 private:
  std::string brokers_;
  VerifyCache& cache_;
};

}  // namespace keyflow
