#pragma once

#include <map>
#include <string>
#include <string_view>

#include <librdkafka/rdkafka.h>
#include <spdlog/common.h>

namespace keyflow {

// Sets one librdkafka property; on failure destroys conf and throws std::invalid_argument
// naming the client (e.g. "kafka producer") and the property.
void set_kafka_property(rd_kafka_conf_t* conf, const std::string& name, const std::string& value,
                        const std::string& client);

// What every librdkafka handle keyflow makes sets first (producers, consumers, the broker
// probe, the embedded broker's host): a broker that comes back is found within a second, and
// no Nagle's algorithm, so that a small request written while another waits for its answer is
// not held for the peer's delayed ACK (40 ms on Linux; librdkafka's own default from 2.10,
// Debian 12 has 2.0). Operator properties, set afterwards, may change either.
void set_kafka_client_defaults(rd_kafka_conf_t* conf, const std::string& client);

// Operator-chosen librdkafka properties (TLS, SASL, timeouts...), given to every producer and
// consumer keyflow makes, after its own settings.
using KafkaProperties = std::map<std::string, std::string>;

// The librdkafka property a KEYFLOW_KAFKA_* variable names, as Confluent's images spell
// them: the rest of the name lowercased, "_" for a dot, "__" for an underscore and "___" for
// a dash (KEYFLOW_KAFKA_SASL_MECHANISMS is sasl.mechanisms, KEYFLOW_KAFKA_SSL__KEY is
// ssl_key). Empty when the variable does not start with KEYFLOW_KAFKA_.
std::string kafka_property_of_variable(std::string_view variable);

// Why librdkafka, or keyflow, refuses name=value; empty when accepted. Never shows the value,
// which may be a password. Properties keyflow's delivery guarantees rest on (acks,
// idempotence, offset commits, the group) and those with a setting of their own (the brokers,
// compression) are refused.
std::string check_kafka_property(const std::string& name, const std::string& value);

// librdkafka logs with syslog levels and reports a refused connection at LOG_ERR on every
// reconnect; for keyflow that is a warning, the failing operation says the rest.
spdlog::level::level_enum kafka_log_level(int syslog_level);

}  // namespace keyflow
