#pragma once

#include <string>
#include <system_error>

#include <librdkafka/rdkafka.h>

namespace keyflow {

// librdkafka's error codes (rd_kafka_resp_err_t, both broker and local ones) as std::error_code,
// so that Kafka failures travel like every other error in keyflow.
const std::error_category& kafka_category() noexcept;

inline std::error_code make_kafka_error(rd_kafka_resp_err_t err) noexcept {
  return {static_cast<int>(err), kafka_category()};
}

// A message failed because the producer purged it (stopping, a deadline): no broker failure.
bool is_purged(const std::error_code& error) noexcept;

// "MSG_SIZE_TOO_LARGE: Broker: Message size too large", for last_error and the logs.
std::string describe_kafka_error(const std::error_code& error);

}  // namespace keyflow
