#include "keyflowd/background_roles.hpp"

#include "outbox/relay_metrics.hpp"

namespace keyflow {
namespace {

DeliverOptions deliver_options(const Config& config, const std::string& database_url,
                               const std::string& brokers, Metrics& metrics) {
  DeliverOptions options;
  options.metrics = &metrics;
  options.database_url = database_url;
  options.brokers = brokers;
  options.kafka_overrides = config.kafka_properties;
  options.destinations = config.webhook_destinations();
  options.retry = config.webhook_retry;
  options.retention = config.webhook_retention;
  options.disable_after = config.webhook_disable_after;
  return options;
}

LifecycleOptions lifecycle_options(const Config& config) {
  LifecycleOptions options;
  options.expiry_warning = config.expiry_warning;
  options.grace_extension = config.rotation_grace_extension;
  return options;
}

ScheduleOptions schedule_options(const Config& config) {
  ScheduleOptions options;
  options.grace_period = config.rotation_grace;
  return options;
}

RotationWebhookOptions rotation_webhook_options(const Config& config, DeliveryMetrics& metrics) {
  RotationWebhookOptions options;
  options.destinations = config.webhook_destinations();
  options.sender.retry = config.webhook_retry;
  options.sender.metrics = &metrics;
  return options;
}

}  // namespace

RelayRole::RelayRole(const Config& config, const std::string& brokers, EngineCore& core)
    : relay_(RelayOptions{.database_url = core.database_url,
                          .brokers = brokers,
                          .retention = config.outbox_retention,
                          .compression = config.kafka_compression,
                          .producer_overrides = config.kafka_properties,
                          .publish_latency = &relay_publish_latency(core.metrics)},
             core.clock),
      thread_([this](std::stop_token stop) { relay_.run(stop); }) {
  register_relay_metrics(core.metrics, relay_, core.clock);
}

DeliverRole::DeliverRole(const Config& config, const std::string& brokers, EngineCore& core)
    : deliverer_(deliver_options(config, core.database_url, brokers, core.metrics), core.keyring,
                 core.clock),
      thread_([this](std::stop_token stop) { deliverer_.run(stop); }) {}

ScheduleRole::ScheduleRole(const Config& config, EngineCore& core)
    : lifecycle_(core.pool, lifecycle_options(config)),
      scheduler_(core.pool, core.keys, core.clock, schedule_options(config), &lifecycle_),
      webhook_metrics_(core.metrics, "rotation"),
      webhooks_(core.pool, core.keyring, core.clock,
                rotation_webhook_options(config, webhook_metrics_)),
      scheduler_thread_([this](std::stop_token stop) { scheduler_.run(stop); }),
      webhooks_thread_([this](std::stop_token stop) { webhooks_.run(stop); }) {
  core.metrics.gauge("keyflow_scheduler_lag_seconds",
                     "How overdue the most overdue key the scheduler's last round rotated was "
                     "(0 when none was due): grows when rotations fall behind",
                     [this] { return scheduler_.lag_seconds(); });
}

}  // namespace keyflow
