#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

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
  // Requests handed to the worker pool and not yet answered, beyond which a request that
  // needs a worker gets 503 at once: under overload the queue stays bounded, and callers
  // learn of it fast instead of timing out.
  std::size_t max_queued = 512;
};

// The Beast HTTP/1.1 server: one coroutine per connection, on one of the I/O contexts, each
// of which one thread runs (an I/O context per core: connections take turns among them, and
// a connection's work never crosses threads or takes a lock). Handlers that never block answer
// on the I/O thread; a verify answered from the cache too (Router::Runs::cache_first). The
// rest, which block on the database, run on the worker pool, at most max_queued at once, and
// the connection resumes on its own I/O thread when the response is ready.
class Server {
 public:
  // contexts: at least one, each run by exactly one thread; the first also accepts.
  Server(std::vector<boost::asio::io_context*> contexts, boost::asio::thread_pool& workers,
         const Router& router, Metrics& metrics, ServerOptions options = {});
  Server(boost::asio::io_context& io, boost::asio::thread_pool& workers, const Router& router,
         Metrics& metrics, ServerOptions options = {})
      : Server(std::vector{&io}, workers, router, metrics, options) {}
  ~Server();

  // Binds and starts accepting; port 0 picks a free port (read it back with endpoint()).
  void listen(const boost::asio::ip::tcp::endpoint& endpoint);
  boost::asio::ip::tcp::endpoint endpoint() const;
  // Stops accepting; open connections finish their current request, then close.
  void stop();
  // After stop(): waits until every request read so far is answered; false at timeout.
  bool wait_answered(std::chrono::milliseconds timeout) const;

  struct State;  // shared with the connection coroutines, which may outlive a stop()

 private:
  std::shared_ptr<State> state_;
};

// "127.0.0.1:8080" or "[::1]:8080" → endpoint; throws std::invalid_argument.
boost::asio::ip::tcp::endpoint parse_endpoint(const std::string& address);

}  // namespace keyflow::http
