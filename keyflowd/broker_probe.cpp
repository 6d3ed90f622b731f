#include "keyflowd/broker_probe.hpp"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include "outbox/kafka_config.hpp"

namespace keyflow {
namespace {

// Through spdlog like every other line (JSON when asked), and quietly: /readyz reports the
// broker's absence, the relay and the consumers log it already.
void log_quietly(const rd_kafka_t*, int, const char* facility, const char* message) {
  spdlog::debug("broker probe: {} {}", facility, message);
}

}  // namespace

BrokerProbe::BrokerProbe(const std::string& brokers,
                         const std::map<std::string, std::string>& properties) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_conf_set_log_cb(conf, log_quietly);
  set_kafka_client_defaults(conf, "broker probe");
  for (const auto& [name, value] : properties)
    rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof err);
  client_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (client_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    spdlog::error("broker probe: {}", err);
  }
}

BrokerProbe::~BrokerProbe() {
  if (client_ != nullptr) rd_kafka_destroy(client_);
}

bool BrokerProbe::reachable() {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (client_ == nullptr) return false;
  if (now - checked_ < std::chrono::seconds(1)) return last_;
  const struct rd_kafka_metadata* metadata = nullptr;
  const auto err = rd_kafka_metadata(client_, 0, nullptr, &metadata, 1000);
  last_ = err == RD_KAFKA_RESP_ERR_NO_ERROR && metadata->broker_cnt > 0;
  if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
  checked_ = std::chrono::steady_clock::now();
  return last_;
}

}  // namespace keyflow
