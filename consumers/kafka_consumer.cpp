#include "consumers/kafka_consumer.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <utility>

#include <spdlog/spdlog.h>

#include "outbox/kafka_config.hpp"
#include "outbox/kafka_error.hpp"

namespace keyflow {
namespace {

void set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  set_kafka_property(conf, name, value, "kafka consumer");
}

void log_to_spdlog(const rd_kafka_t*, int level, const char* facility, const char* message) {
  const auto spd_level = kafka_log_level(level);
  spdlog::log(spd_level, "kafka consumer: {} {}", facility, message);
}

}  // namespace

std::optional<std::string_view> KafkaMessage::header(std::string_view name) const {
  const auto it = headers.find(name);
  if (it == headers.end()) return std::nullopt;
  return std::string_view(it->second);
}

KafkaConsumer::KafkaConsumer(const ConsumerOptions& options) {
  if (options.topics.empty()) throw std::invalid_argument("kafka consumer: no topics");
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", options.bootstrap_servers);
  set(conf, "group.id", options.group_id);
  set(conf, "client.id", options.client_id);
  set(conf, "enable.auto.commit", "false");
  set(conf, "auto.offset.reset", "earliest");
  set(conf, "enable.partition.eof", "false");
  set(conf, "fetch.wait.max.ms", std::to_string(options.fetch_wait.count()));
  set_kafka_client_defaults(conf, "kafka consumer");
  for (const auto& [name, value] : options.overrides)
    set(conf, name, value);
  rd_kafka_conf_set_log_cb(conf, log_to_spdlog);

  char errstr[512];
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("kafka consumer: ") + errstr);
  }
  // Serve everything (rebalances, errors, messages) from rd_kafka_consumer_poll.
  rd_kafka_poll_set_consumer(rk_);

  rd_kafka_topic_partition_list_t* topics =
      rd_kafka_topic_partition_list_new(static_cast<int>(options.topics.size()));
  for (const auto& topic : options.topics) {
    rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  const auto err = rd_kafka_subscribe(rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(rk_);
    throw std::runtime_error(std::string("kafka consumer: subscribe: ") + rd_kafka_err2str(err));
  }
}

KafkaConsumer::~KafkaConsumer() {
  rd_kafka_consumer_close(rk_);
  rd_kafka_destroy(rk_);
}

std::optional<KafkaMessage> KafkaConsumer::poll(std::chrono::milliseconds timeout) {
  rd_kafka_message_t* raw = rd_kafka_consumer_poll(rk_, static_cast<int>(timeout.count()));
  if (raw == nullptr) return std::nullopt;
  if (raw->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("kafka consumer: {}: {}", rd_kafka_err2name(raw->err),
                 rd_kafka_message_errstr(raw));
    rd_kafka_message_destroy(raw);
    return std::nullopt;
  }
  KafkaMessage m;
  m.topic = rd_kafka_topic_name(raw->rkt);
  m.partition = raw->partition;
  m.offset = raw->offset;
  if (raw->key != nullptr) m.key.assign(static_cast<const char*>(raw->key), raw->key_len);
  if (raw->payload != nullptr) m.value.assign(static_cast<const char*>(raw->payload), raw->len);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(raw, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    for (std::size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      m.headers[name] = value != nullptr ? std::string(static_cast<const char*>(value), size) : "";
    }
  }
  rd_kafka_message_destroy(raw);
  return m;
}

std::vector<KafkaMessage> KafkaConsumer::poll_batch(std::size_t max,
                                                    std::chrono::milliseconds timeout) {
  std::vector<KafkaMessage> batch;
  auto first = poll(timeout);
  if (!first) return batch;
  batch.push_back(std::move(*first));
  while (batch.size() < max) {
    auto next = poll(std::chrono::milliseconds(0));
    if (!next) break;
    batch.push_back(std::move(*next));
  }
  return batch;
}

std::error_code KafkaConsumer::commit(const std::vector<KafkaMessage>& messages) {
  if (messages.empty()) return {};
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> last;
  for (const auto& m : messages) {
    auto& offset = last[{m.topic, m.partition}];
    offset = std::max(offset, m.offset);
  }
  rd_kafka_topic_partition_list_t* offsets =
      rd_kafka_topic_partition_list_new(static_cast<int>(last.size()));
  for (const auto& [partition, offset] : last) {
    rd_kafka_topic_partition_list_add(offsets, partition.first.c_str(), partition.second)->offset =
        offset + 1;
  }
  auto err = rd_kafka_commit(rk_, offsets, 0);
  for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < offsets->cnt; ++i)
    err = offsets->elems[i].err;
  rd_kafka_topic_partition_list_destroy(offsets);
  return make_kafka_error(err);
}

}  // namespace keyflow
