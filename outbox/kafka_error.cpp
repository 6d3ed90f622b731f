#include "outbox/kafka_error.hpp"

#include <string>

namespace keyflow {
namespace {

class KafkaCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "kafka"; }
  std::string message(int code) const override {
    return rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(code));
  }
};

}  // namespace

const std::error_category& kafka_category() noexcept {
  static const KafkaCategory category;
  return category;
}

bool is_purged(const std::error_code& error) noexcept {
  return error == make_kafka_error(RD_KAFKA_RESP_ERR__PURGE_QUEUE) ||
         error == make_kafka_error(RD_KAFKA_RESP_ERR__PURGE_INFLIGHT);
}

std::string describe_kafka_error(const std::error_code& error) {
  if (error.category() == kafka_category()) {
    return std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(error.value()))) + ": " +
           error.message();
  }
  return error.message();
}

}  // namespace keyflow
