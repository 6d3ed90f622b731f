#include "tests/support/kafka_test_consumer.hpp"

#include <cstdint>
#include <stdexcept>

#include <sodium.h>

#include "engine/core/encoding.hpp"

namespace keyflow::test {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

void set(rd_kafka_conf_t* conf, const char* name, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name, value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    throw std::invalid_argument(std::string("test consumer: ") + errstr);
  }
}

std::string fresh_group_id() {
  std::uint8_t random[6];
  randombytes_buf(random, sizeof random);
  return "keyflow-test-" + hex_encode(random);
}

// The topic's partition count, asking until the cluster answers (a broker may still be
// starting, or the topic may be created on first use).
int partition_count(rd_kafka_t* rk, const std::string& topic) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const auto deadline = SteadyClock::now() + 10s;
  int count = 0;
  while (count == 0 && SteadyClock::now() < deadline) {
    const rd_kafka_metadata_t* metadata = nullptr;
    if (rd_kafka_metadata(rk, 0, rkt, &metadata, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (metadata->topic_cnt == 1 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        count = metadata->topics[0].partition_cnt;
      }
      rd_kafka_metadata_destroy(metadata);
    }
  }
  rd_kafka_topic_destroy(rkt);
  if (count == 0) throw std::runtime_error("test consumer: no metadata for topic " + topic);
  return count;
}

}  // namespace

KafkaTestConsumer::KafkaTestConsumer(const std::string& bootstrap_servers, const std::string& topic)
    : topic_(topic) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap_servers);
  set(conf, "group.id", fresh_group_id());
  set(conf, "auto.offset.reset", "earliest");
  set(conf, "enable.auto.commit", "false");
  // Tests wait on messages; don't let the broker sit on a fetch.
  set(conf, "fetch.wait.max.ms", "50");
  set(conf, "reconnect.backoff.max.ms", "500");
  set(conf, "log_level", "3");
  char errstr[512];
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("test consumer: ") + errstr);
  }
  rd_kafka_poll_set_consumer(rk_);

  try {
    partitions_ = partition_count(rk_, topic);
  } catch (...) {
    rd_kafka_destroy(rk_);
    throw;
  }
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions_);
  for (int32_t p = 0; p < partitions_; ++p) {
    rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  const auto err = rd_kafka_assign(rk_, assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(rk_);
    throw std::runtime_error(std::string("test consumer: assign: ") + rd_kafka_err2str(err));
  }
}

KafkaTestConsumer::~KafkaTestConsumer() {
  rd_kafka_consumer_close(rk_);
  rd_kafka_destroy(rk_);
}

std::vector<ConsumedMessage> KafkaTestConsumer::wait_for(std::size_t n,
                                                         std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  while (received_.size() < n && SteadyClock::now() < deadline) {
    poll_once(50ms);
  }
  return received_;
}

std::vector<ConsumedMessage> KafkaTestConsumer::wait_until(
    const std::function<bool(const std::vector<ConsumedMessage>&)>& done,
    std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  while (!done(received_) && SteadyClock::now() < deadline) {
    poll_once(50ms);
  }
  return received_;
}

std::vector<ConsumedMessage> KafkaTestConsumer::drain_for(std::chrono::milliseconds duration) {
  const auto deadline = SteadyClock::now() + duration;
  while (SteadyClock::now() < deadline) {
    poll_once(50ms);
  }
  return received_;
}

void KafkaTestConsumer::poll_once(std::chrono::milliseconds timeout) {
  rd_kafka_message_t* message = rd_kafka_consumer_poll(rk_, static_cast<int>(timeout.count()));
  if (message == nullptr) return;
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ConsumedMessage consumed;
    consumed.topic = rd_kafka_topic_name(message->rkt);
    consumed.partition = message->partition;
    consumed.offset = message->offset;
    if (message->key != nullptr) {
      consumed.key.assign(static_cast<const char*>(message->key), message->key_len);
    }
    if (message->payload != nullptr) {
      consumed.value.assign(static_cast<const char*>(message->payload), message->len);
    }
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* value = nullptr;
      std::size_t size = 0;
      for (std::size_t i = 0;
           rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        consumed.headers[name] =
            value != nullptr ? std::string(static_cast<const char*>(value), size) : std::string();
      }
    }
    received_.push_back(std::move(consumed));
  }
  // Errors (a broker going away and coming back) are transient here; the deadline decides.
  rd_kafka_message_destroy(message);
}

}  // namespace keyflow::test
