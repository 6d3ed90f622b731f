#pragma once

#include <string>

#include <librdkafka/rdkafka.h>
#include <spdlog/common.h>

namespace keyflow {

// Sets one librdkafka property; on failure destroys conf and throws std::invalid_argument
// naming the client (e.g. "kafka producer") and the property.
void set_kafka_property(rd_kafka_conf_t* conf, const std::string& name, const std::string& value,
                        const std::string& client);

// librdkafka logs with syslog levels and reports a refused connection at LOG_ERR on every
// reconnect; for keyflow that is a warning, the failing operation says the rest.
spdlog::level::level_enum kafka_log_level(int syslog_level);

}  // namespace keyflow
