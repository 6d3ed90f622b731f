#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

struct rd_kafka_s;

namespace keyflow {

// Answers /readyz's "is the broker reachable": a metadata request over a client of its own,
// at most once a second however often it is asked.
class BrokerProbe {
 public:
  // properties: the operator's librdkafka properties (TLS, SASL), as every client gets them.
  BrokerProbe(const std::string& brokers, const std::map<std::string, std::string>& properties);
  ~BrokerProbe();
  BrokerProbe(const BrokerProbe&) = delete;
  BrokerProbe& operator=(const BrokerProbe&) = delete;

  bool reachable();

 private:
  rd_kafka_s* client_ = nullptr;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point checked_{};
  bool last_ = false;
};

}  // namespace keyflow
