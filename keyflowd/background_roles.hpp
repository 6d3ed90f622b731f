#pragma once

#include <string>
#include <thread>

#include "consumers/delivery_metrics.hpp"
#include "consumers/rotation_scheduler.hpp"
#include "consumers/rotation_webhooks.hpp"
#include "consumers/webhook_deliverer.hpp"
#include "engine/keys/key_lifecycle_service.hpp"
#include "keyflowd/config.hpp"
#include "keyflowd/engine_core.hpp"
#include "outbox/outbox_relay.hpp"

// The roles that run without HTTP. Each owns its parts and the threads that use them, declared
// last: constructing one starts it, destroying one (a failed start-up of a later role
// included) stops and joins its threads before what they use goes.
namespace keyflow {

// relay: the outbox to Kafka.
class RelayRole {
 public:
  RelayRole(const Config& config, const std::string& brokers, EngineCore& core);
  bool ready() const { return relay_.ready(); }
  void request_stop() { thread_.request_stop(); }

 private:
  OutboxRelay relay_;
  std::jthread thread_;
};

// deliver: Kafka to webhook deliveries, and their sending.
class DeliverRole {
 public:
  DeliverRole(const Config& config, const std::string& brokers, EngineCore& core);
  void request_stop() { thread_.request_stop(); }

 private:
  WebhookDeliverer deliverer_;
  std::jthread thread_;
};

// schedule: due rotations and their webhooks, expiry and grace-end events.
class ScheduleRole {
 public:
  ScheduleRole(const Config& config, EngineCore& core);
  void request_stop() {
    scheduler_thread_.request_stop();
    webhooks_thread_.request_stop();
  }

 private:
  KeyLifecycleService lifecycle_;
  RotationScheduler scheduler_;
  DeliveryMetrics webhook_metrics_;
  RotationWebhooks webhooks_;
  std::jthread scheduler_thread_;
  std::jthread webhooks_thread_;
};

}  // namespace keyflow
