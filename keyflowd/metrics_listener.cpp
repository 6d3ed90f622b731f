#include "keyflowd/metrics_listener.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/json/object.hpp>

namespace keyflow {

using boost::beast::http::status;
using boost::beast::http::verb;

MetricsListener::MetricsListener(const boost::asio::ip::tcp::endpoint& endpoint, Metrics& metrics)
    : metrics_(metrics), server_(io_, workers_, router_, metrics) {
  router_.add(
      verb::get, "/healthz",
      [](http::Request&) {
        return http::Response::of(status::ok, boost::json::object{{"status", "ok"}});
      },
      http::Router::Runs::inline_);
  router_.add(
      verb::get, "/metrics",
      [this](http::Request&) {
        http::Response r;
        r.content_type = "text/plain; version=0.0.4";
        r.text = metrics_.render();
        return r;
      },
      http::Router::Runs::inline_);
  server_.listen(endpoint);
  thread_ = std::thread([this] {
    const auto work = boost::asio::make_work_guard(io_);
    io_.run();
  });
}

MetricsListener::~MetricsListener() {
  server_.stop();
  io_.stop();
  thread_.join();
  workers_.join();
}

}  // namespace keyflow
