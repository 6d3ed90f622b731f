#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>

namespace keyflow::test {

struct ConsumedMessage {
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::string key;
  std::string value;
  std::map<std::string, std::string> headers;
};

// Reads one topic from its beginning, every partition, for assertions on what was published.
// It assigns the partitions itself instead of joining its consumer group: a group join costs
// seconds of rebalance on the embedded broker, and a fresh group at the earliest offset reads
// the same messages.
class KafkaTestConsumer {
 public:
  KafkaTestConsumer(const std::string& bootstrap_servers, const std::string& topic);
  ~KafkaTestConsumer();
  KafkaTestConsumer(const KafkaTestConsumer&) = delete;
  KafkaTestConsumer& operator=(const KafkaTestConsumer&) = delete;

  // Consumes until at least n messages have arrived since construction, or until timeout, and
  // returns all of them in arrival order (in offset order within a partition). Fewer than n
  // means the timeout passed.
  std::vector<ConsumedMessage> wait_for(std::size_t n, std::chrono::milliseconds timeout);
  // Consumes until done(everything received so far) holds, or until timeout; returns it all.
  // For topics with duplicates, where a count of messages says nothing of which arrived.
  std::vector<ConsumedMessage> wait_until(
      const std::function<bool(const std::vector<ConsumedMessage>&)>& done,
      std::chrono::milliseconds timeout);

  // Consumes for the given time and returns everything received so far; for asserting that
  // nothing (more) arrives.
  std::vector<ConsumedMessage> drain_for(std::chrono::milliseconds duration);

  // The topic's partitions, as the cluster's metadata reported them.
  int partitions() const { return partitions_; }

 private:
  void poll_once(std::chrono::milliseconds timeout);

  rd_kafka_t* rk_ = nullptr;
  std::string topic_;
  int partitions_ = 0;
  std::vector<ConsumedMessage> received_;
};

}  // namespace keyflow::test
