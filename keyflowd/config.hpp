#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "consumers/retry_schedule.hpp"
#include "engine/core/logging.hpp"
#include "engine/crypto/keyring.hpp"
#include "engine/webhooks/destination_policy.hpp"
#include "outbox/kafka_config.hpp"
#include "outbox/outbox_retention.hpp"

namespace keyflow {

// keyflowd's configuration: each setting from an environment variable, or its matching flag,
// the flag winning.
struct Config {
  std::string role;          // serve, relay, deliver, ...
  std::string database_url;  // KEYFLOW_DATABASE_URL, --database-url
  // KEYFLOW_KAFKA_BROKERS, --kafka-brokers: host:port,... or "embedded" (an in-process broker
  // for development and tests). No default: serve, relay, deliver and all refuse to start
  // without it, rather than publish into memory that vanishes with the process.
  std::string kafka_brokers;
  // KEYFLOW_KAFKA_COMPRESSION: how the relay compresses what it publishes (none, gzip,
  // snappy, lz4, zstd). None by default, which every client reads.
  std::string kafka_compression = "none";
  // Every other KEYFLOW_KAFKA_* variable: a librdkafka property (outbox/kafka_config.hpp has
  // how names map) for every producer and consumer, TLS and SASL among them.
  KafkaProperties kafka_properties;
  std::string http_addr = "127.0.0.1:8080";
  // KEYFLOW_METRICS_ADDR: where a process that does not serve the API (relay, deliver,
  // schedule alone) answers GET /metrics and /healthz; empty: nowhere. serve and all have
  // them on the API's address.
  std::string metrics_addr;             // KEYFLOW_HTTP_ADDR, --http-addr
  std::string admin_token;              // KEYFLOW_ADMIN_TOKEN, --admin-token
  std::optional<MasterKey> master_key;  // KEYFLOW_MASTER_KEY, --master-key
  // KEYFLOW_PREVIOUS_MASTER_KEYS (or _FILE): master keys replaced by master_key, comma
  // separated, base64. What they sealed still opens; `keyflowd rekey` re-seals it.
  std::vector<MasterKey> previous_master_keys;
  // The master keys as the engine takes them (the pepper comes from the database).
  Keyring master_keys() const { return Keyring(*master_key, previous_master_keys, *master_key); }
  bool webhook_allow_private = false;  // KEYFLOW_WEBHOOK_ALLOW_PRIVATE
  // KEYFLOW_WEBHOOK_ALLOW_CIDRS: ranges webhooks may target besides public addresses.
  std::vector<std::string> webhook_allow_cidrs;
  // KEYFLOW_WEBHOOK_MAX_SUBSCRIPTIONS: live webhook subscriptions per organization.
  long webhook_max_subscriptions = 100;
  // KEYFLOW_VERIFY_CACHE_TTL: how long serve answers verify from a cached key. Revocations
  // and changes reach every serve's cache at once (engine/keys/cache_coherence.hpp); the TTL
  // only bounds what a missed one could cost. 0: every verify reads the database.
  std::chrono::seconds verify_cache_ttl{60};
  // KEYFLOW_VERIFY_CACHE_KEYS: how many keys the cache holds (unknown keys have a tier of a
  // tenth of that).
  long verify_cache_keys = 200000;
  // KEYFLOW_WEBHOOK_RETRY_SCHEDULE: when webhook and rotation webhook attempts are retried.
  RetrySchedule webhook_retry;
  // KEYFLOW_WEBHOOK_RETENTION: how long finished deliveries and their attempts are kept.
  std::chrono::seconds webhook_retention{30 * 24 * 3600};
  // KEYFLOW_WEBHOOK_DISABLE_AFTER: a subscription whose receiver fails every attempt this long
  // is disabled.
  std::chrono::seconds webhook_disable_after{5 * 24 * 3600};
  std::string kafka_bootstrap_file;  // KEYFLOW_KAFKA_BOOTSTRAP_FILE
  std::string log_level = "info";    // KEYFLOW_LOG_LEVEL, --log-level
  // KEYFLOW_LOG_FORMAT: text, or json (one object a line, engine/core/logging.hpp).
  LogFormat log_format = LogFormat::text;
  // KEYFLOW_ACCESS_LOG: serve's line per request (method, route, status, duration, id).
  bool access_log = true;
  // KEYFLOW_OUTBOX_RETENTION, --outbox-retention: how long published outbox rows are kept
  // ("7d", "36h", "90m", "45s" or seconds; 0 keeps them for ever).
  std::chrono::seconds outbox_retention = kDefaultOutboxRetention;
  // The schedule role: api_key.expiring this long before expires_at (KEYFLOW_EXPIRY_WARNING),
  // the old key's grace after a scheduled rotation unless the key sets rotation_grace_seconds
  // (KEYFLOW_ROTATION_GRACE), and the one extension of that grace when the new key has not
  // reached its owner an hour before it ends (KEYFLOW_ROTATION_GRACE_EXTENSION).
  std::chrono::seconds expiry_warning{7 * 24 * 3600};
  std::chrono::seconds rotation_grace{24 * 3600};
  std::chrono::seconds rotation_grace_extension{24 * 3600};
  // HTTP limits of serve (http/server.hpp has what each bounds and its default).
  struct HttpLimits {
    std::size_t max_connections = 10000;       // KEYFLOW_HTTP_MAX_CONNECTIONS
    std::size_t max_body_bytes = 64 * 1024;    // KEYFLOW_HTTP_MAX_BODY_BYTES
    std::size_t max_header_bytes = 16 * 1024;  // KEYFLOW_HTTP_MAX_HEADER_BYTES
    std::size_t max_headers = 100;             // KEYFLOW_HTTP_MAX_HEADERS
    std::size_t max_target_bytes = 8 * 1024;   // KEYFLOW_HTTP_MAX_TARGET_BYTES
    std::chrono::seconds header_timeout{10};   // KEYFLOW_HTTP_HEADER_TIMEOUT
    std::chrono::seconds idle_timeout{30};     // KEYFLOW_HTTP_IDLE_TIMEOUT
    std::size_t threads = 0;                   // KEYFLOW_HTTP_THREADS; 0: one per core
    std::size_t max_queued = 512;              // KEYFLOW_HTTP_MAX_QUEUED
  } http;

  DestinationPolicy webhook_destinations() const {
    return DestinationPolicy(webhook_allow_private, webhook_allow_cidrs);
  }
};

struct ConfigResult {
  std::optional<Config> config;
  std::string error;  // set when config is empty; "help" when help was asked for
};

// Reads the environment (through getenv) and then argv; argv[1] is the role.
ConfigResult load_config(int argc, const char* const* argv, const char* const* envp);

std::string usage();

}  // namespace keyflow
