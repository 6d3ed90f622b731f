#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "consumers/webhook_client.hpp"
#include "consumers/webhook_test_sender.hpp"
#include "engine/connections/connection_service.hpp"
#include "engine/events/event_log.hpp"
#include "engine/tenancy/organization_service.hpp"
#include "engine/webhooks/subscription_service.hpp"
#include "http/api_routes.hpp"
#include "http/authenticator.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "keyflowd/broker_probe.hpp"
#include "keyflowd/config.hpp"
#include "keyflowd/engine_core.hpp"

namespace keyflow {

// serve: the HTTP API, its I/O on one thread and database work on a pool, and what keeps this
// process's verify cache true (coherence, the key-change consumer, the batched last_used_at).
// Constructing it listens (a taken port or a bad address throws before any thread starts);
// destroying it stops taking requests, finishes the ones in flight, records the last second's
// key usage and joins every thread it started.
class ServeRole {
 public:
  // relay_ready: whether this process's relay, if it runs one, has Kafka acknowledging.
  ServeRole(const Config& config, const boost::asio::ip::tcp::endpoint& endpoint,
            const std::string& brokers, EngineCore& core, std::function<bool()> relay_ready);
  ~ServeRole();
  ServeRole(const ServeRole&) = delete;
  ServeRole& operator=(const ServeRole&) = delete;

  // Where it listens, as "address:port".
  std::string address() const;
  void request_stop();

 private:
  EngineCore& core_;
  OrganizationService organizations_;
  SubscriptionService subscriptions_;
  DeliveryLog deliveries_;
  EventLog event_log_;
  ConnectionService connections_;
  http::Authenticator auth_;
  BrokerProbe probe_;
  http::ApiContext api_;
  http::Router router_;
  // One I/O context per I/O thread (http/server.hpp); the first also runs the webhook client.
  std::vector<std::unique_ptr<boost::asio::io_context>> io_;
  // Test events are POSTed from here, on the server's I/O threads.
  WebhookClient webhook_client_;
  DeliveryMetrics webhook_metrics_;
  WebhookTestSender test_events_;
  boost::asio::thread_pool workers_{8};
  http::Server server_;
  std::jthread coherence_thread_;
  std::jthread invalidator_thread_;
  std::jthread usage_thread_;
  std::vector<std::jthread> io_threads_;
  // Last, so destroyed first: stops the I/O loops so that io_threads_ can be joined.
  struct StopIo {
    std::vector<std::unique_ptr<boost::asio::io_context>>& io;
    ~StopIo() {
      for (auto& context : io)
        context->stop();
    }
  } stop_io_{io_};
};

}  // namespace keyflow
