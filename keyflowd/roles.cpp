#include "keyflowd/roles.hpp"

#include <csignal>
#include <cstdio>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include "consumers/key_cache_invalidator.hpp"
#include "consumers/rotation_scheduler.hpp"
#include "consumers/rotation_webhooks.hpp"
#include "consumers/webhook_deliverer.hpp"
#include "engine/cache_coherence.hpp"
#include "engine/key_service.hpp"
#include "engine/migrations.hpp"
#include "engine/organization_service.hpp"
#include "engine/subscription_service.hpp"
#include "http/api_routes.hpp"
#include "http/server.hpp"
#include "keyflowd/broker_probe.hpp"
#include "outbox/embedded_broker.hpp"
#include "outbox/outbox_relay.hpp"

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
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
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

}  // namespace

int run_role(const Config& config) {
  const sigset_t stop_signals = block_stop_signals();

  if (config.role == "migrate") {
    const auto applied = apply_migrations(require(config.database_url, "KEYFLOW_DATABASE_URL"));
    spdlog::info("database is up to date ({} migrations applied now)", applied.size());
    return 0;
  }

  // The embedded broker, when asked for, lives in this process; every role reaches it over
  // loopback like any Kafka cluster.
  std::optional<EmbeddedBroker> broker;
  std::string brokers = config.kafka_brokers;
  if (brokers == "embedded") {
    broker.emplace();
    brokers = broker->bootstrap_servers();
    announce("kafka bootstrap " + brokers);
    if (!config.kafka_bootstrap_file.empty())
      std::ofstream(config.kafka_bootstrap_file) << brokers << "\n";
  }
  if (config.role == "broker") {
    wait_for_stop_signal(stop_signals);
    return 0;
  }

  const std::string database_url = require(config.database_url, "KEYFLOW_DATABASE_URL");
  if (!config.master_key) throw std::invalid_argument("KEYFLOW_MASTER_KEY is not set");
  const MasterKey& master_key = *config.master_key;

  SystemClock clock;
  Metrics metrics;
  ConnectionPool pool(database_url, 16);
  // Verify answers from memory in serve processes; other roles read the database.
  std::optional<VerifyCache> verify_cache;
  UsageRecorder usage;
  // Serve processes keep their caches coherent with every key change through PostgreSQL.
  std::optional<CacheCoherence> coherence;
  if (runs(config, "serve")) {
    verify_cache.emplace(clock, std::chrono::seconds(10));
    coherence.emplace(database_url, pool, *verify_cache, clock);
  }
  KeyService keys(pool, master_key, clock, verify_cache ? &*verify_cache : nullptr, &usage,
                  coherence ? &*coherence : nullptr);
  // A role that cannot reach its database fails here, in one line, not later in a thread.
  try {
    pool.transact([](pqxx::work& txn) { txn.exec("SELECT 1"); });
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot reach the database: ") + e.what());
  }
  if (config.role == "all") apply_migrations(database_url);
  // A bad address fails before anything starts.
  const auto http_endpoint =
      runs(config, "serve") ? std::optional(http::parse_endpoint(config.http_addr)) : std::nullopt;

  std::optional<OutboxRelay> relay;
  std::optional<WebhookDeliverer> deliverer;
  std::optional<KeyLifecycleService> lifecycle;
  std::optional<RotationScheduler> scheduler;
  std::optional<RotationWebhooks> rotation_webhooks;
  std::optional<OrganizationService> organizations;
  std::optional<SubscriptionService> subscriptions;
  std::optional<EventLog> event_log;
  std::optional<ConnectionService> connections;
  std::optional<http::Authenticator> auth;
  std::optional<BrokerProbe> probe;
  std::optional<http::ApiContext> api;
  http::Router router;
  boost::asio::io_context io;
  boost::asio::thread_pool workers(8);
  std::optional<http::Server> server;
  // The threads come after everything they use, so that however run_role ends (a failed
  // start-up included) they are stopped and joined before what they use is destroyed: the
  // I/O loop is stopped first, then its thread and the roles are joined.
  std::vector<std::jthread> roles;
  std::jthread io_thread;
  struct StopIo {
    boost::asio::io_context& io;
    ~StopIo() { io.stop(); }
  } stop_io{io};

  if (runs(config, "relay")) {
    relay.emplace(
        RelayOptions{
            .database_url = database_url, .brokers = brokers, .retention = config.outbox_retention},
        clock);
    // Counters are read from the relay's stats, hence registered as gauges; the backlog ones
    // come from the active relay (zero on a standby), so sum or max them across relays.
    metrics.gauge("keyflow_relay_active",
                  "1 when this relay holds the lock and publishes, 0 on standby",
                  [&] { return relay->active() ? 1.0 : 0.0; });
    metrics.gauge("keyflow_relay_ready", "1 when Kafka acknowledges what the relay sends",
                  [&] { return relay->ready() ? 1.0 : 0.0; });
    metrics.gauge("keyflow_outbox_backlog_rows",
                  "Unpublished outbox rows, parked ones aside (exact up to 10000)",
                  [&] { return static_cast<double>(relay->stats().backlog); });
    metrics.gauge("keyflow_outbox_oldest_unpublished_age_seconds",
                  "Age of the oldest unpublished outbox row, 0 when there is none", [&] {
                    const auto oldest = relay->stats().oldest_unpublished;
                    if (!oldest) return 0.0;
                    const double age = std::chrono::duration<double>(clock.now() - *oldest).count();
                    return age > 0 ? age : 0.0;
                  });
    metrics.gauge("keyflow_outbox_parked_rows",
                  "Outbox rows Kafka refused for good, waiting for an operator",
                  [&] { return static_cast<double>(relay->stats().parked); });
    metrics.gauge("keyflow_relay_published_total", "Outbox rows published by this relay",
                  [&] { return static_cast<double>(relay->stats().published); });
    metrics.gauge("keyflow_relay_produce_errors_total", "Messages Kafka refused or failed",
                  [&] { return static_cast<double>(relay->stats().produce_errors); });
    metrics.gauge("keyflow_outbox_deleted_total",
                  "Published outbox rows deleted after the retention period by this relay",
                  [&] { return static_cast<double>(relay->stats().deleted); });
    roles.emplace_back([&](std::stop_token stop) { relay->run(stop); });
  }
  if (runs(config, "deliver")) {
    DeliverOptions options;
    options.database_url = database_url;
    options.brokers = brokers;
    options.allow_private = config.webhook_allow_private;
    deliverer.emplace(options, master_key, clock);
    roles.emplace_back([&](std::stop_token stop) { deliverer->run(stop); });
  }
  if (runs(config, "schedule")) {
    LifecycleOptions lifecycle_options;
    lifecycle_options.expiry_warning = config.expiry_warning;
    lifecycle_options.grace_extension = config.rotation_grace_extension;
    lifecycle.emplace(pool, lifecycle_options);
    ScheduleOptions schedule_options;
    schedule_options.grace_period = config.rotation_grace;
    scheduler.emplace(pool, keys, clock, schedule_options, &*lifecycle);
    roles.emplace_back([&](std::stop_token stop) { scheduler->run(stop); });
    RotationWebhookOptions webhook_options;
    webhook_options.allow_private = config.webhook_allow_private;
    rotation_webhooks.emplace(pool, master_key, clock, webhook_options);
    roles.emplace_back([&](std::stop_token stop) { rotation_webhooks->run(stop); });
  }

  // The HTTP API, with its I/O on one thread and database work on a pool.
  if (runs(config, "serve")) {
    if (config.admin_token.empty())
      spdlog::warn("KEYFLOW_ADMIN_TOKEN is not set: no caller can authenticate");
    organizations.emplace(pool, clock);
    subscriptions.emplace(pool, master_key, clock);
    auth.emplace(config.admin_token, [&keys](std::string_view key, std::string_view ip) {
      return keys.authenticate(key, ip);
    });
    roles.emplace_back([&](std::stop_token stop) { coherence->run(stop); });
    roles.emplace_back(
        [&](std::stop_token stop) { KeyCacheInvalidator(brokers, *verify_cache).run(stop); });
    // last_used_at, batched: one write a second however many verifies.
    roles.emplace_back([&](std::stop_token stop) {
      while (!stop.stop_requested()) {
        for (int i = 0; i < 10 && !stop.stop_requested(); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        try {
          keys.flush_usage();
        } catch (const std::exception& e) {
          spdlog::warn("could not record key usage: {}", e.what());
        }
      }
    });
    probe.emplace(brokers);
    event_log.emplace(pool);
    connections.emplace(pool, master_key, clock);
    api.emplace(http::ApiContext{keys, *organizations, *subscriptions, *connections, *event_log,
                                 *auth, metrics, [&pool] { return pool.reachable(); },
                                 [&] { return probe->reachable() && (!relay || relay->ready()); }});
    http::add_api_routes(router, *api);
    http::ServerOptions limits;
    limits.max_connections = config.http.max_connections;
    limits.body_limit = config.http.max_body_bytes;
    limits.header_limit = config.http.max_header_bytes;
    limits.max_header_count = config.http.max_headers;
    limits.max_target_bytes = config.http.max_target_bytes;
    limits.header_timeout = config.http.header_timeout;
    limits.idle_timeout = config.http.idle_timeout;
    server.emplace(io, workers, router, metrics, limits);
    server->listen(*http_endpoint);
    const auto ep = server->endpoint();
    io_thread = std::jthread([&io] { io.run(); });
    announce("http listening on " + ep.address().to_string() + ":" + std::to_string(ep.port()));
  }
  spdlog::info("keyflowd {} running", config.role);

  wait_for_stop_signal(stop_signals);

  // Stop taking requests first, then the background roles, then the broker they talk to.
  if (server) server->stop();
  for (auto& role : roles)
    role.request_stop();
  roles.clear();
  workers.join();
  try {
    keys.flush_usage();  // the last second's verifies
  } catch (const std::exception& e) {
    spdlog::warn("could not record key usage: {}", e.what());
  }
  io.stop();
  if (io_thread.joinable()) io_thread.join();
  spdlog::info("keyflowd stopped");
  return 0;
}

}  // namespace keyflow
