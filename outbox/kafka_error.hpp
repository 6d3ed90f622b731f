#pragma once

#include <system_error>

#include <librdkafka/rdkafka.h>

namespace keyflow {

// librdkafka's error codes (rd_kafka_resp_err_t, both broker and local ones) as std::error_code,
// so that Kafka failures travel like every other error in keyflow.
const std::error_category& kafka_category() noexcept;

inline std::error_code make_kafka_error(rd_kafka_resp_err_t err) noexcept {
  return {static_cast<int>(err), kafka_category()};
}

}  // namespace keyflow
