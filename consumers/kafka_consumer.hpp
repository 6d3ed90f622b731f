#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <librdkafka/rdkafka.h>

namespace keyflow {

struct ConsumerOptions {
  std::string bootstrap_servers;
  std::string group_id;
  std::vector<std::string> topics;
  std::string client_id = "keyflow";
  // How long the broker may hold a fetch that finds nothing new: an upper bound on how late a
  // message is seen when the broker does not answer as soon as one arrives.
  std::chrono::milliseconds fetch_wait{100};
  // Further librdkafka properties, applied last (they win over the settings above).
  std::map<std::string, std::string> overrides;
};

struct KafkaMessage {
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::string key;
  std::string value;
  // A header sent more than once keeps its last value.
  std::map<std::string, std::string, std::less<>> headers;

  // The header's value, or nullopt when absent.
  std::optional<std::string_view> header(std::string_view name) const;
};

// A member of a Kafka consumer group over librdkafka's high-level C API. Offsets are committed
// only by commit(), after the caller has made its work durable, so a crash re-delivers what was
// not finished (at least once). New groups start from the earliest offset, so events published
// before the first consumer started are not lost. Not thread-safe: one thread polls and
// commits.
class KafkaConsumer {
 public:
  // Throws std::invalid_argument for a bad property, std::runtime_error when librdkafka cannot
  // create the client or subscribe.
  explicit KafkaConsumer(const ConsumerOptions& options);
  // Leaves the group, so that its partitions move to the other members at once.
  ~KafkaConsumer();
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  // The next message, or nullopt after timeout. Consumer errors (broker down, unknown topic)
  // are logged, not returned: librdkafka recovers from them by itself.
  std::optional<KafkaMessage> poll(std::chrono::milliseconds timeout);
  // Up to max messages: waits up to timeout for the first, then takes what has arrived
  // without waiting. Empty after timeout.
  std::vector<KafkaMessage> poll_batch(std::size_t max, std::chrono::milliseconds timeout);

  // Synchronously commits, in one request, each partition's last offset among messages + 1
  // (Kafka's committed offset is the next one to read). kafka_category() errors.
  std::error_code commit(const std::vector<KafkaMessage>& messages);

 private:
  rd_kafka_t* rk_ = nullptr;
};

}  // namespace keyflow
