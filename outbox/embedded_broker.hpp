#pragma once

#include <string>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace keyflow {

// An in-process Kafka cluster for development and tests: librdkafka's mock cluster, which speaks
// the real Kafka protocol on loopback, so stock clients (kcat, other languages) can connect. It
// keeps messages in memory and trims the oldest beyond about 5 MB per partition.
class EmbeddedBroker {
 public:
  // Starts broker_count brokers on ephemeral loopback ports and creates every keyflow topic
  // (all_topics()) with the given number of partitions.
  explicit EmbeddedBroker(int broker_count = 1, int partitions = 4);
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  // host:port,host:port... for bootstrap.servers.
  std::string bootstrap_servers() const;

  // For fault injection in tests (rdkafka_mock.h: request errors, RTTs, leader moves).
  rd_kafka_mock_cluster_t* mock() const { return cluster_; }

  // Takes every broker down (connections are closed and new ones refused) or back up.
  void set_down(bool down);

  int broker_count() const { return broker_count_; }

 private:
  int broker_count_;
  // The mock cluster lives inside a client handle, which must outlive it.
  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

}  // namespace keyflow
