#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace keyflow::test {

// A TCP proxy on 127.0.0.1 in front of a server (a TCP host and port, or a Unix socket path),
// on its own thread, that a test can cut: cut() drops every connection and refuses new ones,
// as a crashed or unreachable server would, until restore(). For database outages:
//
//   TcpProxy proxy(TcpProxy::database_of(db.url()));
//   run keyflowd with db.url() + proxy.conninfo()
//   proxy.cut(); ...; proxy.restore();
class TcpProxy {
 public:
  struct Upstream {
    std::string host;  // an address, or a directory holding a Unix socket
    std::uint16_t port = 0;
  };
  explicit TcpProxy(Upstream upstream);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // Where a libpq conninfo reaches the server whose URL is given (its host and port, as libpq
  // resolves them, the PG* environment included).
  static Upstream database_of(const std::string& conninfo);

  std::uint16_t port() const;
  // " host=127.0.0.1 port=<port>", to append to a conninfo (the later keywords win).
  std::string conninfo() const;

  void cut();
  void restore();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace keyflow::test
