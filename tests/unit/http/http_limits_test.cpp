// The HTTP server's limits, over real loopback sockets: oversized headers, too many headers
// and long targets are refused with their status; a slow header is cut off at the header
// timeout while an idle keep-alive connection is not; the connection cap holds further
// clients back; health answers while every worker is busy; a saturated worker pool answers
// 503 at once; a cache_first route answers on the I/O thread unless it would block.
#include <atomic>
#include <future>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "engine/core/metrics.hpp"
#include "engine/core/non_blocking.hpp"
#include "http/router.hpp"
#include "http/server.hpp"

namespace keyflow::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::beast::http::status;
using boost::beast::http::verb;
using namespace std::chrono_literals;

class HttpLimitsTest : public ::testing::Test {
 protected:
  void start(ServerOptions options) {
    router_.add(verb::get, "/ok", [](Request&) {
      return Response::of(status::ok, boost::json::object{{"ok", true}});
    });
    router_.add(verb::get, "/blocks", [this](Request&) {
      while (!released_)
        std::this_thread::sleep_for(5ms);
      return Response::of(status::ok, boost::json::object{});
    });
    // Answers from "memory" unless asked for ?miss, when it needs the "database" as verify
    // does for a key not cached yet.
    router_.add(
        verb::get, "/cached",
        [this](Request& req) {
          ++cached_runs_;
          if (req.query.contains("miss")) NonBlockingScope::check();
          return Response::of(status::ok, boost::json::object{{"runs", cached_runs_.load()}});
        },
        Router::Runs::cache_first);
    router_.add(
        verb::get, "/healthz",
        [](Request&) {
          return Response::of(status::ok, boost::json::object{{"status", "ok"}});
        },
        Router::Runs::inline_);
    server_.emplace(io_, workers_, router_, metrics_, options);
    server_->listen(parse_endpoint("127.0.0.1:0"));
    io_thread_ = std::jthread([this] { io_.run(); });
  }
  ~HttpLimitsTest() override {
    released_ = true;
    if (server_) server_->stop();
    work_.reset();
    io_.stop();
  }

  tcp::socket connect() {
    tcp::socket socket(client_io_);
    socket.connect({asio::ip::make_address("127.0.0.1"), server_->endpoint().port()});
    return socket;
  }
  // Everything the server sends until it closes, or until `within` passes.
  static std::string read_all(tcp::socket& socket, std::chrono::milliseconds within = 5s) {
    std::string out;
    const auto until = std::chrono::steady_clock::now() + within;
    socket.non_blocking(true);
    char buffer[4096];
    while (std::chrono::steady_clock::now() < until) {
      boost::system::error_code ec;
      const auto n = socket.read_some(asio::buffer(buffer), ec);
      if (ec == asio::error::would_block) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      if (ec) break;
      out.append(buffer, n);
    }
    return out;
  }
  static bool closed_by_server(tcp::socket& socket, std::chrono::milliseconds within) {
    const auto until = std::chrono::steady_clock::now() + within;
    socket.non_blocking(true);
    char byte;
    while (std::chrono::steady_clock::now() < until) {
      boost::system::error_code ec;
      socket.read_some(asio::buffer(&byte, 1), ec);
      if (ec == asio::error::eof || ec == asio::error::connection_reset) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  // A new connection that has sent `request`.
  tcp::socket connect_and_send(const std::string& request) {
    auto socket = connect();
    asio::write(socket, asio::buffer(request));
    return socket;
  }
  // A kept-alive connection whose request takes the only worker until released_.
  tcp::socket block_the_worker() {
    auto socket = connect_and_send("GET /blocks HTTP/1.1\r\nHost: x\r\n\r\n");
    std::this_thread::sleep_for(100ms);  // the worker now waits
    return socket;
  }
  std::string exchange(const std::string& request) {
    auto socket = connect();
    asio::write(socket, asio::buffer(request));
    return read_all(socket);
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  asio::thread_pool workers_{1};
  Metrics metrics_;
  Router router_;
  std::atomic<bool> released_{false};
  std::atomic<int> cached_runs_{0};
  std::optional<Server> server_;
  std::jthread io_thread_;
  asio::io_context client_io_;
};

TEST_F(HttpLimitsTest, OversizedHeadersAndTargetsGetTheirStatus) {
  ServerOptions options;
  options.header_limit = 4096;
  options.max_header_count = 10;
  options.max_target_bytes = 512;
  start(options);

  EXPECT_TRUE(exchange("GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                  .starts_with("HTTP/1.1 200"));
  const auto big =
      exchange("GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(5000, 'a') + "\r\n\r\n");
  EXPECT_TRUE(big.starts_with("HTTP/1.1 431")) << big;
  EXPECT_NE(big.find("headers_too_large"), std::string::npos) << big;

  std::string many = "GET /ok HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 11; ++i)
    many += "X-H" + std::to_string(i) + ": v\r\n";
  const auto counted = exchange(many + "\r\n");
  EXPECT_TRUE(counted.starts_with("HTTP/1.1 431")) << counted;

  const auto long_target =
      exchange("GET /ok?q=" + std::string(1000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(long_target.starts_with("HTTP/1.1 414")) << long_target;
  EXPECT_NE(long_target.find("uri_too_long"), std::string::npos) << long_target;
}

TEST_F(HttpLimitsTest, ASlowHeaderIsCutOffButAnIdleConnectionIsNot) {
  ServerOptions options;
  options.header_timeout = 1s;
  options.idle_timeout = 4s;
  start(options);

  auto slow = connect();
  asio::write(slow, asio::buffer(std::string("GET /ok HTTP/1.1\r\nHost: x\r\n")));  // never ends
  auto idle = connect();
  EXPECT_TRUE(closed_by_server(slow, 2500ms)) << "a header trickling in was not cut off";
  // The idle connection outlived the header timeout and still serves a request.
  asio::write(
      idle, asio::buffer(std::string("GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")));
  EXPECT_TRUE(read_all(idle).starts_with("HTTP/1.1 200"));
}

TEST_F(HttpLimitsTest, TheConnectionCapHoldsFurtherClientsUntilOneLeaves) {
  ServerOptions options;
  options.max_connections = 2;
  start(options);

  auto first = connect();
  auto second = connect();
  const std::string request = "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  asio::write(first, asio::buffer(std::string("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")));
  asio::write(second, asio::buffer(std::string("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")));
  std::this_thread::sleep_for(200ms);  // both accepted and served, both kept alive

  auto third = connect();  // completes in the kernel's backlog
  asio::write(third, asio::buffer(request));
  EXPECT_TRUE(read_all(third, 500ms).empty()) << "a third connection was served over the cap";
  first.close();
  EXPECT_TRUE(read_all(third).starts_with("HTTP/1.1 200")) << "not served once a slot was free";
}

TEST_F(HttpLimitsTest, HealthAnswersWhileEveryWorkerIsBusy) {
  start({});
  auto blocked = block_the_worker();
  const auto health = exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(health.starts_with("HTTP/1.1 200")) << health;
  released_ = true;
}

TEST_F(HttpLimitsTest, ASaturatedWorkerPoolAnswers503AtOnceAndRecovers) {
  ServerOptions options;
  options.max_queued = 1;
  start(options);
  auto blocked = block_the_worker();

  auto refused = connect_and_send("GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const auto busy = read_all(refused, 500ms);
  EXPECT_TRUE(busy.starts_with("HTTP/1.1 503")) << "not refused at once: " << busy;
  EXPECT_NE(busy.find("Retry-After: 1"), std::string::npos) << busy;
  EXPECT_NE(busy.find("\"code\":\"overloaded\""), std::string::npos) << busy;

  released_ = true;
  EXPECT_TRUE(read_all(blocked, 1s).starts_with("HTTP/1.1 200"));
  EXPECT_TRUE(exchange("GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                  .starts_with("HTTP/1.1 200"))
      << "still refusing once the pool had room again";
}

TEST_F(HttpLimitsTest, ACacheFirstRouteAnswersOnTheIoThreadUnlessItWouldBlock) {
  start({});
  auto blocked = block_the_worker();

  // From memory: answered on the I/O thread, though no worker is free.
  const auto hit = exchange("GET /cached HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(hit.starts_with("HTTP/1.1 200")) << hit;
  EXPECT_EQ(cached_runs_.load(), 1);

  // Needing the database: handed to the worker pool, so it waits for the worker, and is then
  // run again from the start where it may block.
  auto miss = connect_and_send("GET /cached?miss HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(read_all(miss, 300ms).empty()) << "answered while it would have blocked";
  released_ = true;
  const auto answered = read_all(miss);
  EXPECT_TRUE(answered.starts_with("HTTP/1.1 200")) << answered;
  EXPECT_NE(answered.find("\"runs\":3"), std::string::npos) << answered;
}

TEST(ParseEndpoint, RefusesWhatIsNotAnAddressAndPort) {
  EXPECT_EQ(parse_endpoint("127.0.0.1:8080").port(), 8080);
  EXPECT_EQ(parse_endpoint("[::1]:0").address().to_string(), "::1");
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:-1",
                          "127.0.0.1:80x", "999.0.0.1:80", "localhost:80"}) {
    EXPECT_THROW(parse_endpoint(bad), std::invalid_argument) << bad;
  }
}

}  // namespace
}  // namespace keyflow::http
