#include "keyflowd/roles.hpp"

#include <csignal>
#include <cstdio>
#include <fstream>
#include <optional>

#include <spdlog/spdlog.h>

#include "engine/crypto/master_key_rotation.hpp"
#include "engine/store/migrations.hpp"
#include "keyflowd/background_roles.hpp"
#include "keyflowd/engine_core.hpp"
#include "keyflowd/metrics_listener.hpp"
#include "keyflowd/serve_role.hpp"
#include "outbox/embedded_broker.hpp"

namespace keyflow {
namespace {

bool runs(const Config& c, std::string_view role) {
  return c.role == role || c.role == "all";
}

// Blocks SIGINT and SIGTERM in every thread (call before starting any), so that the main
// thread can wait for them with sigwait and shut down in order.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  // The broker role's controls (run_broker), blocked before its threads start.
  sigset_t blocked = set;
  sigaddset(&blocked, SIGUSR1);
  sigaddset(&blocked, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  return set;
}

// The broker role until SIGINT or SIGTERM. SIGUSR1 takes the embedded brokers down (their
// connections close, new ones are refused) and SIGUSR2 brings them back, so that losing Kafka
// can be rehearsed against real processes.
void run_broker(EmbeddedBroker& broker) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  for (;;) {
    int signal = 0;
    sigwait(&set, &signal);
    if (signal == SIGUSR1 || signal == SIGUSR2) {
      broker.set_down(signal == SIGUSR1);
      spdlog::warn("embedded broker: {}", signal == SIGUSR1 ? "down" : "up again");
      continue;
    }
    spdlog::info("received {}, stopping", signal == SIGINT ? "SIGINT" : "SIGTERM");
    return;
  }
}

void wait_for_stop_signal(const sigset_t& set) {
  int signal = 0;
  sigwait(&set, &signal);
  spdlog::info("received {}, stopping", signal == SIGINT ? "SIGINT" : "SIGTERM");
}

// Lines other programs read (scripts/run, the end-to-end tests): flushed at once.
void announce(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

std::string require(const std::string& value, const char* name) {
  if (value.empty()) throw std::invalid_argument(std::string(name) + " is not set");
  return value;
}

// The embedded broker, when asked for, lives in this process; every role reaches it over
// loopback like any Kafka cluster. The bootstrap servers to use either way.
std::string start_brokers(const Config& config, std::optional<EmbeddedBroker>& broker) {
  if (config.role != "broker" && config.kafka_brokers != "embedded") return config.kafka_brokers;
  broker.emplace();
  const auto brokers = broker->bootstrap_servers();
  announce("kafka bootstrap " + brokers);
  if (!config.kafka_bootstrap_file.empty())
    std::ofstream(config.kafka_bootstrap_file) << brokers << "\n";
  return brokers;
}

// A role that cannot reach its database fails here, in one line, not later in a thread.
void require_database(const std::string& database_url) {
  try {
    ConnectionPool(database_url, 1).acquire();
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot reach the database: ") + e.what());
  }
}

// keyflowd rekey: every secret at rest re-sealed under KEYFLOW_MASTER_KEY; what the previous
// keys (KEYFLOW_PREVIOUS_MASTER_KEYS) sealed is opened with them. Exits 1 when something could
// not be opened (it is left as it was, and named).
int run_rekey(const Config& config) {
  const std::string database_url = require(config.database_url, "KEYFLOW_DATABASE_URL");
  if (!config.master_key) throw std::invalid_argument("KEYFLOW_MASTER_KEY is not set");
  require_database(database_url);
  ConnectionPool pool(database_url, 2);
  const auto keys = load_keyring(pool, config.master_keys());
  spdlog::info("rekey: sealing every secret under master key {}",
               to_hex(master_key_id(keys.current())));
  const auto report = rekey(pool, keys);
  for (const auto& [column, count] : report.resealed) {
    if (count > 0) spdlog::info("rekey: {} re-sealed in {}", count, column);
  }
  for (const auto& what : report.unopened)
    spdlog::error("rekey: no master key given opens {}", what);
  announce("rekey resealed " + std::to_string(report.total()) + " unopened " +
           std::to_string(report.unopened.size()));
  return report.unopened.empty() ? 0 : 1;
}

}  // namespace

int run_role(const Config& config) {
  const sigset_t stop_signals = block_stop_signals();
  if (config.role == "migrate") {
    const auto applied = apply_migrations(require(config.database_url, "KEYFLOW_DATABASE_URL"));
    spdlog::info("database is up to date ({} migrations applied now)", applied.size());
    return 0;
  }
  if (config.role == "rekey") return run_rekey(config);
  // An embedded broker must be asked for: a production relay that fell back to one would mark
  // rows published into memory, and separate serve processes would miss each other's changes.
  if (config.kafka_brokers.empty() && config.role != "broker" && config.role != "schedule") {
    throw std::invalid_argument(
        "KEYFLOW_KAFKA_BROKERS is not set: give the brokers (host:port,...), or \"embedded\" "
        "for an in-process development broker whose messages are gone when it exits");
  }
  std::optional<EmbeddedBroker> broker;
  const std::string brokers = start_brokers(config, broker);
  if (config.role == "broker") {
    run_broker(*broker);
    return 0;
  }

  const std::string database_url = require(config.database_url, "KEYFLOW_DATABASE_URL");
  if (!config.master_key) throw std::invalid_argument("KEYFLOW_MASTER_KEY is not set");
  require_database(database_url);
  // all migrates first: the engine reads the keyring from the database.
  if (config.role == "all") apply_migrations(database_url);
  EngineCore core(database_url, config.master_keys(), runs(config, "serve"),
                  config.webhook_destinations(),
                  {config.verify_cache_ttl, static_cast<std::size_t>(config.verify_cache_keys)});
  // A bad address fails before anything starts.
  const auto http_endpoint =
      runs(config, "serve") ? std::optional(http::parse_endpoint(config.http_addr)) : std::nullopt;
  const auto metrics_endpoint = !http_endpoint && !config.metrics_addr.empty()
                                    ? std::optional(http::parse_endpoint(config.metrics_addr))
                                    : std::nullopt;

  // Declared in start order: destroyed the other way round, serve first, however run_role
  // ends (a role that fails to start included).
  std::optional<RelayRole> relay;
  std::optional<DeliverRole> deliver;
  std::optional<ScheduleRole> schedule;
  std::optional<ServeRole> serve;
  std::optional<MetricsListener> metrics;
  if (runs(config, "relay")) relay.emplace(config, brokers, core);
  if (runs(config, "deliver")) deliver.emplace(config, brokers, core);
  if (runs(config, "schedule")) schedule.emplace(config, core);
  if (http_endpoint) {
    serve.emplace(config, *http_endpoint, brokers, core,
                  [&relay] { return !relay || relay->ready(); });
    announce("http listening on " + serve->address());
  }
  if (metrics_endpoint) {
    metrics.emplace(*metrics_endpoint, core.metrics);
    announce("metrics listening on " + metrics->endpoint().address().to_string() + ":" +
             std::to_string(metrics->endpoint().port()));
  }
  spdlog::info("keyflowd {} running", config.role);

  wait_for_stop_signal(stop_signals);
  // Every role stops at once; serve stops taking requests before the others go.
  if (serve) serve->request_stop();
  if (schedule) schedule->request_stop();
  if (deliver) deliver->request_stop();
  if (relay) relay->request_stop();
  serve.reset();
  metrics.reset();
  schedule.reset();
  deliver.reset();
  relay.reset();
  spdlog::info("keyflowd stopped");
  return 0;
}

}  // namespace keyflow
