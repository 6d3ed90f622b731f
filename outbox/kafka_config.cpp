#include "outbox/kafka_config.hpp"

#include <stdexcept>

namespace keyflow {

void set_kafka_property(rd_kafka_conf_t* conf, const std::string& name, const std::string& value,
                        const std::string& client) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    throw std::invalid_argument(client + ": " + name + "=" + value + ": " + errstr);
  }
}

spdlog::level::level_enum kafka_log_level(int syslog_level) {
  return syslog_level <= 4   ? spdlog::level::warn
         : syslog_level <= 6 ? spdlog::level::info
                             : spdlog::level::debug;
}

}  // namespace keyflow
