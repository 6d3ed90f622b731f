#include "outbox/embedded_broker.hpp"

#include <algorithm>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "outbox/kafka_config.hpp"
#include "outbox/topics.hpp"

namespace keyflow {
namespace {

void log_to_spdlog(const rd_kafka_t*, int level, const char* facility, const char* message) {
  // The mock cluster's own chatter (connections opening and closing) is debug material.
  const auto spd_level = level <= 3 ? spdlog::level::err : spdlog::level::debug;
  spdlog::log(spd_level, "embedded broker: {} {}", facility, message);
}

}  // namespace

EmbeddedBroker::EmbeddedBroker(int broker_count, int partitions) : broker_count_(broker_count) {
  if (broker_count < 1 || partitions < 1) {
    throw std::invalid_argument("EmbeddedBroker needs at least one broker and one partition");
  }
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, log_to_spdlog);
  // The mock's brokers take their socket options from the hosting handle: no Nagle on the
  // broker's side either.
  set_kafka_client_defaults(conf, "embedded broker");
  // The hosting handle never talks to a cluster itself; it only owns the mock's threads.
  host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (host_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("embedded broker: ") + errstr);
  }
  cluster_ = rd_kafka_mock_cluster_new(host_, broker_count);
  if (cluster_ == nullptr) {
    rd_kafka_destroy(host_);
    throw std::runtime_error("embedded broker: rd_kafka_mock_cluster_new failed");
  }
  const int replication = std::min(broker_count, 3);
  for (const auto& topic : all_topics()) {
    const auto err = rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, replication);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_mock_cluster_destroy(cluster_);
      rd_kafka_destroy(host_);
      throw std::runtime_error("embedded broker: creating " + topic + ": " + rd_kafka_err2str(err));
    }
  }
  spdlog::info("embedded broker: {} broker(s) at {}", broker_count, bootstrap_servers());
}

EmbeddedBroker::~EmbeddedBroker() {
  rd_kafka_mock_cluster_destroy(cluster_);
  rd_kafka_destroy(host_);
}

std::string EmbeddedBroker::bootstrap_servers() const {
  return rd_kafka_mock_cluster_bootstraps(cluster_);
}

void EmbeddedBroker::set_down(bool down) {
  // The mock numbers its brokers from 1.
  for (int32_t id = 1; id <= broker_count_; ++id) {
    if (down) {
      rd_kafka_mock_broker_set_down(cluster_, id);
    } else {
      rd_kafka_mock_broker_set_up(cluster_, id);
    }
  }
}

}  // namespace keyflow
