#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <librdkafka/rdkafka.h>

namespace keyflow {

struct ProducerOptions {
  std::string bootstrap_servers{};
  // Upper bound on the time between produce() and the message's delivery report.
  std::chrono::milliseconds message_timeout{30000};
  std::chrono::milliseconds linger{5};
  // None by default: every Kafka client reads uncompressed batches, while some (kafkajs, for
  // one) decode lz4, snappy or zstd only with a plugin. KEYFLOW_KAFKA_COMPRESSION picks another.
  std::string compression = "none";
  std::string client_id = "keyflow";
  // Further librdkafka properties, applied last (they win over the settings above).
  std::map<std::string, std::string> overrides{};
};

struct MessageHeader {
  std::string name{};
  std::string value{};
};

struct OutgoingMessage {
  std::string topic{};
  std::string key{};
  std::string value{};
  std::vector<MessageHeader> headers{};
};

// The outcome of one produced message, carrying the tag given to produce().
struct DeliveryReport {
  std::uint64_t tag = 0;
  std::error_code error{};  // kafka_category(); empty when the broker acknowledged the message
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  bool ok() const { return !error; }
};

// An idempotent Kafka producer (acks=all, in-order per partition) over librdkafka's C API.
// Every accepted message gets exactly one DeliveryReport, within message_timeout, from poll().
// Not thread-safe: one thread produces and polls.
class KafkaProducer {
 public:
  explicit KafkaProducer(const ProducerOptions& options);
  // Fails whatever is still pending (call flush() first to wait for it) and closes the client.
  ~KafkaProducer();
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // Queues a message (librdkafka copies it). An error means it was refused outright and no
  // report will follow for this tag.
  std::error_code produce(const OutgoingMessage& message, std::uint64_t tag);

  // Waits up to timeout for delivery reports and returns those that arrived (possibly none).
  std::vector<DeliveryReport> poll(std::chrono::milliseconds timeout);

  // Fetches the partitions and leaders of these topics now, so that the first message to each
  // does not wait for them (about a second with librdkafka's defaults). Returns false when the
  // cluster did not answer within timeout; producing works regardless.
  bool prefetch_metadata(const std::vector<std::string>& topics, std::chrono::milliseconds timeout);

  // Messages accepted by produce() whose report has not been returned by poll() yet.
  std::size_t pending() const { return pending_; }

  // Fails every pending message now (queued and in flight); the reports come from poll().
  // A purged in-flight message may still have been written: retrying it can duplicate it.
  void purge();

  // Set once librdkafka has raised a fatal error; the producer is unusable and must be
  // replaced.
  std::optional<std::string> fatal_error() const;

 private:
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque);

  rd_kafka_t* rk_ = nullptr;
  std::size_t pending_ = 0;
  std::vector<DeliveryReport> reports_;
};

}  // namespace keyflow
