#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include "engine/core/metrics.hpp"
#include "http/router.hpp"

namespace keyflow::http {

// HTTP limits; keyflowd reads each from its KEYFLOW_HTTP_* variable (README, Configuration).
struct ServerOptions {
  std::size_t body_limit = 64 * 1024;       // larger bodies get 413
  std::size_t header_limit = 16 * 1024;     // request line and headers together; 431 beyond
  std::size_t max_header_count = 100;       // 431 beyond
  std::size_t max_target_bytes = 8 * 1024;  // the request line's target; 414 beyond
  std::size_t max_connections = 10000;      // further clients wait in the listen backlog
  std::chrono::seconds header_timeout{10};  // from a request's first byte to its last header
  std::chrono::seconds idle_timeout{30};    // waiting for the next request, or for a body
};

// The Beast HTTP/1.1 server: one coroutine per connection on the I/O context; handlers
// (which block on the database) run on the worker pool, and the connection resumes on its
// own executor when the response is ready.
class Server {
 public:
  Server(boost::asio::io_context& io, boost::asio::thread_pool& workers, const Router& router,
         Metrics& metrics, ServerOptions options = {});
  ~Server();

  // Binds and starts accepting; port 0 picks a free port (read it back with endpoint()).
  void listen(const boost::asio::ip::tcp::endpoint& endpoint);
  boost::asio::ip::tcp::endpoint endpoint() const;
  // Stops accepting; open connections finish their current request.
  void stop();

  struct State;  // shared with the connection coroutines, which may outlive a stop()

 private:
  std::shared_ptr<State> state_;
};

// "127.0.0.1:8080" or "[::1]:8080" → endpoint; throws std::invalid_argument.
boost::asio::ip::tcp::endpoint parse_endpoint(const std::string& address);

}  // namespace keyflow::http
