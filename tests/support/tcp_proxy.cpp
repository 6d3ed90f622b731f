#include "tests/support/tcp_proxy.hpp"

#include <array>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <pqxx/pqxx>

namespace keyflow::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// One client connection and its upstream, pumping bytes both ways.
struct Pipe : std::enable_shared_from_this<Pipe> {
  tcp::socket client;
  tcp::socket upstream_tcp;
  asio::local::stream_protocol::socket upstream_unix;
  bool unix_socket;
  std::array<char, 16384> up{}, down{};

  Pipe(tcp::socket c, asio::io_context& io, bool use_unix)
      : client(std::move(c)), upstream_tcp(io), upstream_unix(io), unix_socket(use_unix) {}

  template <class Upstream>
  void pump(Upstream& upstream) {
    auto self = shared_from_this();
    client.async_read_some(asio::buffer(up), [self, &upstream](auto ec, std::size_t n) {
      if (ec) return self->close();
      asio::async_write(upstream, asio::buffer(self->up, n), [self, &upstream](auto wec, auto) {
        if (wec) return self->close();
        self->pump(upstream);
      });
    });
  }
  template <class Upstream>
  void pump_back(Upstream& upstream) {
    auto self = shared_from_this();
    upstream.async_read_some(asio::buffer(down), [self, &upstream](auto ec, std::size_t n) {
      if (ec) return self->close();
      asio::async_write(self->client, asio::buffer(self->down, n),
                        [self, &upstream](auto wec, auto) {
                          if (wec) return self->close();
                          self->pump_back(upstream);
                        });
    });
  }
  void close() {
    boost::system::error_code ignored;
    client.close(ignored);
    upstream_tcp.close(ignored);
    upstream_unix.close(ignored);
  }
};

struct TcpProxy::State {
  asio::io_context io;
  tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
  Upstream upstream;
  std::mutex mutex;
  bool cut = false;
  std::set<std::shared_ptr<Pipe>> pipes;
  std::thread thread;

  void accept() {
    acceptor.async_accept([this](auto ec, tcp::socket socket) {
      if (ec) return;
      std::lock_guard lock(mutex);
      if (!cut) connect(std::move(socket));  // refused while cut: closed at once
      accept();
    });
  }

  // Under mutex.
  void connect(tcp::socket socket) {
    const bool use_unix = !upstream.host.empty() && upstream.host.front() == '/';
    auto pipe = std::make_shared<Pipe>(std::move(socket), io, use_unix);
    boost::system::error_code ec;
    if (use_unix) {
      pipe->upstream_unix.connect(asio::local::stream_protocol::endpoint(
                                      upstream.host + "/.s.PGSQL." + std::to_string(upstream.port)),
                                  ec);
    } else {
      pipe->upstream_tcp.connect({asio::ip::make_address(upstream.host), upstream.port}, ec);
    }
    if (ec) return pipe->close();
    pipes.insert(pipe);
    if (use_unix) {
      pipe->pump(pipe->upstream_unix);
      pipe->pump_back(pipe->upstream_unix);
    } else {
      pipe->pump(pipe->upstream_tcp);
      pipe->pump_back(pipe->upstream_tcp);
    }
  }
};

TcpProxy::TcpProxy(Upstream upstream) : state_(std::make_shared<State>()) {
  state_->upstream = std::move(upstream);
  state_->accept();
  state_->thread = std::thread([s = state_] { s->io.run(); });
}

TcpProxy::~TcpProxy() {
  asio::post(state_->io, [s = state_] {
    boost::system::error_code ignored;
    s->acceptor.close(ignored);
    std::lock_guard lock(s->mutex);
    for (const auto& pipe : s->pipes)
      pipe->close();
    s->pipes.clear();
  });
  state_->thread.join();
}

TcpProxy::Upstream TcpProxy::database_of(const std::string& conninfo) {
  pqxx::connection c(conninfo);
  Upstream u;
  const char* host = c.hostname();
  u.host = host == nullptr || *host == '\0' ? "/var/run/postgresql" : host;
  if (u.host == "localhost") u.host = "127.0.0.1";
  u.port = static_cast<std::uint16_t>(std::stoi(c.port()));
  return u;
}

std::uint16_t TcpProxy::port() const {
  return state_->acceptor.local_endpoint().port();
}

std::string TcpProxy::conninfo() const {
  return " host=127.0.0.1 port=" + std::to_string(port());
}

void TcpProxy::cut() {
  std::lock_guard lock(state_->mutex);
  state_->cut = true;
  for (const auto& pipe : state_->pipes)
    asio::post(state_->io, [pipe] { pipe->close(); });
  state_->pipes.clear();
}

void TcpProxy::restore() {
  std::lock_guard lock(state_->mutex);
  state_->cut = false;
}

}  // namespace keyflow::test
