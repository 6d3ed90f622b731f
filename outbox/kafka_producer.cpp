#include "outbox/kafka_producer.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include <spdlog/spdlog.h>

#include "outbox/kafka_config.hpp"
#include "outbox/kafka_error.hpp"

namespace keyflow {
namespace {

void set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  set_kafka_property(conf, name, value, "kafka producer");
}

void log_to_spdlog(const rd_kafka_t*, int level, const char* facility, const char* message) {
  const auto spd_level = kafka_log_level(level);
  spdlog::log(spd_level, "kafka producer: {} {}", facility, message);
}

void on_error(rd_kafka_t* rk, int err, const char* reason, void*) {
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512];
    rd_kafka_fatal_error(rk, fatal, sizeof fatal);
    spdlog::error("kafka producer: fatal error: {}", fatal);
    return;
  }
  // Transport errors already came through the log callback.
  spdlog::debug("kafka producer: {}: {}", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)),
                reason);
}

void* tag_to_opaque(std::uint64_t tag) {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(tag));
}

std::uint64_t opaque_to_tag(void* opaque) {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(opaque));
}

}  // namespace

KafkaProducer::KafkaProducer(const ProducerOptions& options) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", options.bootstrap_servers);
  set(conf, "client.id", options.client_id);
  // Idempotence brings acks=all and per-partition order across retries, without duplicates
  // from the producer's own retries.
  set(conf, "enable.idempotence", "true");
  set(conf, "acks", "all");
  set(conf, "linger.ms", std::to_string(options.linger.count()));
  set(conf, "compression.type", options.compression);
  set(conf, "message.timeout.ms", std::to_string(options.message_timeout.count()));
  // The partitioner of the Java client, so that other producers keyed by the same aggregate id
  // land on the same partition.
  set(conf, "partitioner", "murmur2_random");
  // linger.ms does the batching; the socket sends at once (set_kafka_client_defaults).
  set_kafka_client_defaults(conf, "kafka producer");
  for (const auto& [name, value] : options.overrides)
    set(conf, name, value);
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaProducer::on_delivery);
  rd_kafka_conf_set_log_cb(conf, log_to_spdlog);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_opaque(conf, this);

  char errstr[512];
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("kafka producer: ") + errstr);
  }
}

KafkaProducer::~KafkaProducer() {
  rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(rk_, 0);
  rd_kafka_destroy(rk_);
}

std::error_code KafkaProducer::produce(const OutgoingMessage& message, std::uint64_t tag) {
  std::vector<rd_kafka_vu_t> parts;
  parts.reserve(5 + message.headers.size());
  auto add = [&](rd_kafka_vtype_t type) -> rd_kafka_vu_t& {
    auto& part = parts.emplace_back();
    part.vtype = type;
    return part;
  };
  add(RD_KAFKA_VTYPE_TOPIC).u.cstr = message.topic.c_str();
  auto& key = add(RD_KAFKA_VTYPE_KEY).u.mem;
  key.ptr = const_cast<char*>(message.key.data());
  key.size = message.key.size();
  auto& value = add(RD_KAFKA_VTYPE_VALUE).u.mem;
  value.ptr = const_cast<char*>(message.value.data());
  value.size = message.value.size();
  add(RD_KAFKA_VTYPE_MSGFLAGS).u.i = RD_KAFKA_MSG_F_COPY;
  add(RD_KAFKA_VTYPE_OPAQUE).u.ptr = tag_to_opaque(tag);
  for (const auto& header : message.headers) {
    auto& h = add(RD_KAFKA_VTYPE_HEADER).u.header;
    h.name = header.name.c_str();
    h.val = header.value.data();
    h.size = static_cast<ssize_t>(header.value.size());
  }
  rd_kafka_error_t* error = rd_kafka_produceva(rk_, parts.data(), parts.size());
  if (error != nullptr) {
    const auto code = rd_kafka_error_code(error);
    rd_kafka_error_destroy(error);
    return make_kafka_error(code);
  }
  ++pending_;
  return {};
}

std::vector<DeliveryReport> KafkaProducer::poll(std::chrono::milliseconds timeout) {
  rd_kafka_poll(rk_, static_cast<int>(timeout.count()));
  std::vector<DeliveryReport> reports;
  reports.swap(reports_);
  pending_ -= reports.size();
  return reports;
}

bool KafkaProducer::prefetch_metadata(const std::vector<std::string>& topics,
                                      std::chrono::milliseconds timeout) {
  for (const auto& topic : topics) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
    if (rkt == nullptr) return false;
    const rd_kafka_metadata_t* metadata = nullptr;
    const auto err = rd_kafka_metadata(rk_, 0, rkt, &metadata, static_cast<int>(timeout.count()));
    if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
    rd_kafka_topic_destroy(rkt);
    // A cluster that does not answer for one topic will not for the next.
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
  }
  return true;
}

void KafkaProducer::purge() {
  rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
}

std::optional<std::string> KafkaProducer::fatal_error() const {
  char errstr[512];
  if (rd_kafka_fatal_error(rk_, errstr, sizeof errstr) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  return std::string(errstr);
}

void KafkaProducer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  self->reports_.push_back(DeliveryReport{
      .tag = opaque_to_tag(message->_private),
      .error = message->err == RD_KAFKA_RESP_ERR_NO_ERROR ? std::error_code()
                                                          : make_kafka_error(message->err),
      .partition = message->partition,
      .offset = message->offset,
  });
}

}  // namespace keyflow
