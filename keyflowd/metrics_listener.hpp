#pragma once

#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "engine/core/metrics.hpp"
#include "http/router.hpp"
#include "http/server.hpp"

namespace keyflow {

// GET /metrics and GET /healthz on KEYFLOW_METRICS_ADDR for a process that does not serve the
// API (relay, deliver, schedule run alone), so that Prometheus scrapes every process: one I/O
// thread, both answered on it. Constructing it listens (a taken port throws); destroying it
// stops.
class MetricsListener {
 public:
  MetricsListener(const boost::asio::ip::tcp::endpoint& endpoint, Metrics& metrics);
  ~MetricsListener();
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;

  boost::asio::ip::tcp::endpoint endpoint() const { return server_.endpoint(); }

 private:
  boost::asio::io_context io_{1};
  boost::asio::thread_pool workers_{1};  // unused: both routes answer on the I/O thread
  http::Router router_;
  Metrics& metrics_;
  http::Server server_;
  std::thread thread_;
};

}  // namespace keyflow
