#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "consumers/delivery_metrics.hpp"
#include "consumers/retry_schedule.hpp"
#include "engine/core/clock.hpp"
#include "engine/core/metrics.hpp"
#include "engine/crypto/keyring.hpp"
#include "engine/store/database.hpp"
#include "engine/webhooks/destination_policy.hpp"
#include "outbox/topics.hpp"

namespace keyflow {

class KafkaConsumer;

struct DeliverOptions {
  std::string database_url;
  std::string brokers;
  std::string group_id = "keyflow-deliver";
  DestinationPolicy destinations;  // engine/webhooks/destination_policy.hpp
  RetrySchedule retry;
  std::chrono::milliseconds request_timeout{30000};
  // Past the brief's minimum: what is consumed and how much is sent at once.
  std::vector<std::string> topics = all_topics();
  std::size_t max_in_flight = 128;
  std::size_t max_in_flight_per_subscription = 32;
  std::chrono::milliseconds poll_interval{200};
  // Finished deliveries and their attempts are deleted this long after they finished
  // (KEYFLOW_WEBHOOK_RETENTION); zero keeps them.
  std::chrono::seconds retention{std::chrono::hours(24 * 30)};
  std::chrono::milliseconds retention_interval{60000};
  // A subscription whose receiver fails every attempt this long is disabled.
  std::chrono::seconds disable_after{std::chrono::hours(24 * 5)};
  std::string ca_file;                                 // extra trust anchors for HTTPS
  std::map<std::string, std::string> kafka_overrides;  // librdkafka properties
  // Where attempts and the backlog are counted (consumers/delivery_metrics.hpp,
  // webhook_backlog_gauges.hpp), when set; the backlog is read every backlog_interval.
  Metrics* metrics = nullptr;
  std::chrono::milliseconds backlog_interval{10000};
};

// The deliver role: Kafka events -> webhook deliveries (DeliveryFanout, offsets committed
// after the deliveries are) and due deliveries -> signed POSTs (DeliverySender). Scales as a
// Kafka consumer group for the fan-out, and by SKIP LOCKED leases for the sending.
class WebhookDeliverer {
 public:
  // Throws std::invalid_argument on a Kafka setting librdkafka refuses.
  WebhookDeliverer(DeliverOptions options, const Keyring& keyring, const Clock& clock);
  ~WebhookDeliverer();

  // Consumes and sends until stop is requested (noticed within about 200 ms), then leaves the
  // consumer group and waits briefly for attempts in flight. Once per deliverer.
  void run(std::stop_token stop);

 private:
  DeliverOptions options_;
  Keyring keyring_;
  const Clock& clock_;
  ConnectionPool pool_;
  // Made with the deliverer, so that a bad Kafka setting fails its caller, not its thread.
  std::unique_ptr<KafkaConsumer> consumer_;
  std::optional<DeliveryMetrics> metrics_;
};

}  // namespace keyflow
