#include "keyflowd/serve_role.hpp"

#include <algorithm>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <spdlog/spdlog.h>

#include "consumers/key_cache_invalidator.hpp"
#include "engine/core/interruptible_wait.hpp"

namespace keyflow {
namespace {

http::ServerOptions server_options(const Config& config) {
  http::ServerOptions limits;
  limits.max_connections = config.http.max_connections;
  limits.body_limit = config.http.max_body_bytes;
  limits.header_limit = config.http.max_header_bytes;
  limits.max_header_count = config.http.max_headers;
  limits.max_target_bytes = config.http.max_target_bytes;
  limits.header_timeout = config.http.header_timeout;
  limits.idle_timeout = config.http.idle_timeout;
  limits.max_queued = config.http.max_queued;
  return limits;
}

std::vector<std::unique_ptr<boost::asio::io_context>> io_contexts(const Config& config) {
  const std::size_t n = config.http.threads > 0 ? config.http.threads
                                                : std::max(1U, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts;
  for (std::size_t i = 0; i < n; ++i)
    contexts.push_back(std::make_unique<boost::asio::io_context>(1));  // one thread runs each
  return contexts;
}

std::vector<boost::asio::io_context*> pointers(
    const std::vector<std::unique_ptr<boost::asio::io_context>>& contexts) {
  std::vector<boost::asio::io_context*> out;
  for (const auto& c : contexts)
    out.push_back(c.get());
  return out;
}

WebhookClient::Options webhook_client_options(const Config& config) {
  WebhookClient::Options options;
  options.destinations = config.webhook_destinations();
  return options;
}

WebhookTestSender::Options test_event_options(const Config& config, DeliveryMetrics& metrics) {
  WebhookTestSender::Options options;
  options.metrics = &metrics;
  options.retry = config.webhook_retry;
  options.disable_after = config.webhook_disable_after;
  return options;
}

void flush_usage(KeyService& keys) {
  try {
    keys.flush_usage();
  } catch (const std::exception& e) {
    spdlog::warn("could not record key usage: {}", e.what());
  }
}

}  // namespace

ServeRole::ServeRole(const Config& config, const boost::asio::ip::tcp::endpoint& endpoint,
                     const std::string& brokers, EngineCore& core,
                     std::function<bool()> relay_ready)
    : core_(core),
      organizations_(core.pool, core.clock),
      subscriptions_(core.pool, core.keyring, core.clock, config.webhook_destinations(),
                     config.webhook_max_subscriptions),
      deliveries_(core.pool, core.clock),
      event_log_(core.pool),
      connections_(core.pool, core.keyring, core.clock),
      auth_(config.admin_token,
            [&keys = core.keys](std::string_view key, std::string_view ip) {
              return keys.authenticate(key, ip);
            }),
      probe_(brokers, config.kafka_properties),
      api_{core.keys,
           organizations_,
           subscriptions_,
           deliveries_,
           test_events_,
           connections_,
           event_log_,
           auth_,
           core.metrics,
           [&pool = core.pool] { return pool.reachable(); },
           [this, relay_ready = std::move(relay_ready)] {
             return probe_.reachable() && relay_ready();
           }},
      io_(io_contexts(config)),
      webhook_client_(io_.front()->get_executor(), webhook_client_options(config)),
      webhook_metrics_(core.metrics, "deliver"),
      test_events_(core.pool, core.keyring, webhook_client_, core.clock,
                   test_event_options(config, webhook_metrics_)),
      server_(pointers(io_), workers_, router_, core.metrics, server_options(config)) {
  if (config.admin_token.empty())
    spdlog::warn("KEYFLOW_ADMIN_TOKEN is not set: no caller can authenticate");
  http::add_api_routes(router_, api_);
  if (core.verify_cache) {
    core.metrics.gauge("keyflow_verify_cache_keys",
                       "Keys and unknown key hashes in serve's verify cache",
                       [&cache = *core.verify_cache] { return static_cast<double>(cache.size()); });
  }
  server_.listen(endpoint);
  coherence_thread_ = std::jthread([this](std::stop_token stop) { core_.coherence->run(stop); });
  invalidator_thread_ =
      std::jthread([this, brokers, properties = config.kafka_properties](std::stop_token stop) {
        KeyCacheInvalidator(brokers, properties, *core_.verify_cache).run(stop);
      });
  // last_used_at, batched: one write a second however many verifies.
  usage_thread_ = std::jthread([this](std::stop_token stop) {
    while (sleep_unless_stopped(stop, std::chrono::seconds(1)))
      flush_usage(core_.keys);
  });
  // Every core answers requests: connections take turns among the I/O contexts. Each runs
  // until stopped, also while no connection of its own is open yet.
  for (auto& context : io_) {
    io_threads_.emplace_back([&context = *context] {
      const auto work = boost::asio::make_work_guard(context);
      context.run();
    });
  }
}

ServeRole::~ServeRole() {
  request_stop();
  // SIGTERM finishes what callers already sent: every request read gets its answer (those on
  // the worker pool included) before the I/O loops stop, within a bound.
  if (!server_.wait_answered(std::chrono::seconds(10)))
    spdlog::warn("stopping with requests still unanswered after 10 s");
  coherence_thread_ = {};
  invalidator_thread_ = {};
  usage_thread_ = {};
  workers_.join();
  flush_usage(core_.keys);  // the last second's verifies
}

void ServeRole::request_stop() {
  server_.stop();
  coherence_thread_.request_stop();
  invalidator_thread_.request_stop();
  usage_thread_.request_stop();
}

std::string ServeRole::address() const {
  const auto ep = server_.endpoint();
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace keyflow
