#include "outbox/kafka_config.hpp"

#include <array>
#include <cctype>
#include <stdexcept>

namespace keyflow {
namespace {

constexpr std::string_view kPropertyPrefix = "KEYFLOW_KAFKA_";

// What keyflow sets itself and must not be changed from outside: at-least-once and ordering
// rest on the first ones, the others have a setting of their own.
constexpr std::array<std::string_view, 11> kReserved = {"acks",
                                                        "request.required.acks",
                                                        "enable.idempotence",
                                                        "enable.auto.commit",
                                                        "enable.auto.offset.store",
                                                        "group.id",
                                                        "enable.partition.eof",
                                                        "max.in.flight.requests.per.connection",
                                                        "bootstrap.servers",
                                                        "metadata.broker.list",
                                                        "compression.type"};

}  // namespace

std::string kafka_property_of_variable(std::string_view variable) {
  if (!variable.starts_with(kPropertyPrefix)) return {};
  variable.remove_prefix(kPropertyPrefix.size());
  std::string property;
  for (std::size_t i = 0; i < variable.size();) {
    if (variable[i] != '_') {
      property += static_cast<char>(std::tolower(static_cast<unsigned char>(variable[i])));
      ++i;
      continue;
    }
    std::size_t run = 0;
    while (i + run < variable.size() && variable[i + run] == '_' && run < 3)
      ++run;
    property += run == 1 ? '.' : run == 2 ? '_' : '-';
    i += run;
  }
  return property;
}

std::string check_kafka_property(const std::string& name, const std::string& value) {
  for (const auto reserved : kReserved) {
    if (name == reserved) return "keyflow sets " + name + " itself";
  }
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const auto result = rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr);
  rd_kafka_conf_destroy(conf);
  if (result == RD_KAFKA_CONF_UNKNOWN) return "librdkafka has no property " + name;
  if (result == RD_KAFKA_CONF_OK) return {};
  // librdkafka's explanation quotes the value: shown only for what cannot be a secret.
  for (const std::string_view secret : {"password", "secret", "pem", "key"}) {
    if (name.find(secret) != std::string::npos) return "librdkafka refuses the value of " + name;
  }
  return "librdkafka refuses the value of " + name + ": " + errstr;
}

void set_kafka_property(rd_kafka_conf_t* conf, const std::string& name, const std::string& value,
                        const std::string& client) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    // The value stays out: it may be a password.
    throw std::invalid_argument(client + ": " + name + ": " + errstr);
  }
}

void set_kafka_client_defaults(rd_kafka_conf_t* conf, const std::string& client) {
  set_kafka_property(conf, "reconnect.backoff.max.ms", "1000", client);
  set_kafka_property(conf, "socket.nagle.disable", "true", client);
}

spdlog::level::level_enum kafka_log_level(int syslog_level) {
  return syslog_level <= 4   ? spdlog::level::warn
         : syslog_level <= 6 ? spdlog::level::info
                             : spdlog::level::debug;
}

}  // namespace keyflow
