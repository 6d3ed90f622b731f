#pragma once

#include <map>
#include <stop_token>
#include <string>

#include "engine/keys/verify_cache.hpp"

namespace keyflow {

// Keeps one serve process's verify cache honest: reads every event on keyflow.api_keys (a
// consumer group of its own, from the newest offset) and drops the cached state of the key
// it names, so that a revoke through any process takes effect everywhere within moments.
class KeyCacheInvalidator {
 public:
  // properties: librdkafka's, the operator's (TLS, SASL); the invalidator's own win.
  KeyCacheInvalidator(std::string brokers, std::map<std::string, std::string> properties,
                      VerifyCache& cache)
      : brokers_(std::move(brokers)), properties_(std::move(properties)), cache_(cache) {}

  void run(std::stop_token stop);

 private:
  std::string brokers_;
  std::map<std::string, std::string> properties_;
  VerifyCache& cache_;
};

}  // namespace keyflow
