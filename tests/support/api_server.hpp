#pragma once

#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>

#include "consumers/webhook_client.hpp"
#include "consumers/webhook_test_sender.hpp"
#include "http/api_routes.hpp"
#include "http/server.hpp"
#include "tests/support/engine_fixture.hpp"
#include "tests/support/http_test_client.hpp"

namespace keyflow::test {

inline constexpr const char* kAdminToken = "test-admin-token";

inline WebhookClient::Options client_options(const DestinationPolicy& destinations) {
  WebhookClient::Options options;
  options.destinations = destinations;
  return options;
}

// The HTTP API in-process, on a real loopback socket, over a fresh database: what a serve
// process does, minus Kafka. Keys authenticate as bearers like in keyflowd.
class ApiServer {
 public:
  ApiServer() {
    http::add_api_routes(router_, api_);
    server_.listen(http::parse_endpoint("127.0.0.1:0"));
    io_thread_ = std::jthread([this] { io_.run(); });
  }
  ~ApiServer() {
    server_.stop();
    work_.reset();
    io_.stop();
  }

  // The routes the server answers, from the router's own table.
  const std::vector<http::Router::Route>& routes() const { return router_.routes(); }

  HttpTestClient client(std::string bearer = kAdminToken) const {
    return {"127.0.0.1", server_.endpoint().port(), std::move(bearer)};
  }

  // POST as the admin; the body of a 201.
  boost::json::object create(const std::string& path, const boost::json::value& body) const {
    const auto r = client().post(path, body);
    if (r.status != 201) throw std::runtime_error(path + " answered " + r.body);
    return r.json().as_object();
  }

  EngineFixture f;
  VerifyCache cache{f.clock, std::chrono::seconds(10)};
  UsageRecorder usage;
  KeyService keys{f.pool, f.master_key, f.clock, &cache, &usage, nullptr, f.destinations};

 private:
  Metrics metrics_;
  http::Authenticator auth_{kAdminToken, [this](std::string_view key, std::string_view ip) {
                              return keys.authenticate(key, ip);
                            }};
  EventLog events_{f.pool};
  DeliveryLog deliveries_{f.pool, f.clock};
  boost::asio::io_context io_;
  // Test events go out as serve sends them, to receivers the fixture's policy lets through.
  WebhookClient webhook_client_{io_.get_executor(), client_options(f.destinations)};
  WebhookTestSender test_events_{f.pool, f.master_key, webhook_client_, f.clock, {}};
  ConnectionService connections_{f.pool, f.master_key, f.clock};
  // The database is probed as keyflowd probes it; there is no Kafka here, so it counts as up.
  http::ApiContext api_{keys,
                        f.organizations,
                        f.subscriptions,
                        deliveries_,
                        test_events_,
                        connections_,
                        events_,
                        auth_,
                        metrics_,
                        [this] { return f.pool.reachable(); },
                        [] { return true; }};
  http::Router router_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  boost::asio::thread_pool workers_{4};
  http::Server server_{io_, workers_, router_, metrics_};
  std::jthread io_thread_;
};

// Asserts the API's error body: status, code, a message, and the field when given.
void expect_error(const HttpResult& r, int status, const std::string& code,
                  const std::string& field = {});

}  // namespace keyflow::test
