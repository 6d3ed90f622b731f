#pragma once

#include <string>
#include <vector>

namespace keyflow::test {

// A PostgreSQL server of one test's own, in a temporary directory, listening on a Unix socket
// only, that the test may stop and start again: a real restart, with every session ended by
// the server and no server at all in between. PostgreSQL refuses to run as root, so run as
// root the server runs as the `postgres` system user (Debian's postgresql package makes it).
// For tests/faults; other tests share the suite's server (test_database.hpp).
class PrivatePostgres {
 public:
  PrivatePostgres();   // initdb and start; throws when either fails
  ~PrivatePostgres();  // immediate shutdown, directory removed
  PrivatePostgres(const PrivatePostgres&) = delete;
  PrivatePostgres& operator=(const PrivatePostgres&) = delete;

  // "host=<socket directory> port=<port> user=postgres", for TestDatabase::OnServer.
  const std::string& conninfo() const { return conninfo_; }

  // A fast shutdown, as a restart begins: every session is ended, then the server is gone.
  void stop();
  void start();

 private:
  // A program of the server's installation, as the cluster's owner, from its directory.
  void run(const std::string& program, const std::vector<std::string>& args) const;

  std::string bin_;  // /usr/lib/postgresql/<newest>/bin
  std::string dir_;  // the socket directory; the cluster in dir_/data
  std::string conninfo_;
  bool as_postgres_ = false;
};

}  // namespace keyflow::test
