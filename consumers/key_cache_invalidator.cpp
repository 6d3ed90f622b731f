#include "consumers/key_cache_invalidator.hpp"

#include <spdlog/spdlog.h>

#include "consumers/kafka_consumer.hpp"
#include "engine/core/ids.hpp"
#include "outbox/topics.hpp"

namespace keyflow {

void KeyCacheInvalidator::run(std::stop_token stop) {
  ConsumerOptions options;
  options.bootstrap_servers = brokers_;
  // Every process needs every event: a group of its own, starting from now (the TTL covers
  // whatever happened before it joined).
  options.group_id = "keyflow-serve-cache-" + new_uuid();
  options.topics = {topic_for_aggregate("api_key")};
  options.overrides = properties_;
  options.overrides["auto.offset.reset"] = "latest";
  options.overrides["fetch.wait.max.ms"] = "50";
  KafkaConsumer consumer(options);
  spdlog::info("verify cache: following {} for invalidations", options.topics.front());
  while (!stop.stop_requested()) {
    auto message = consumer.poll(std::chrono::milliseconds(200));
    if (!message || message->key.empty()) continue;
    cache_.invalidate_key(message->key);
  }
}

}  // namespace keyflow
