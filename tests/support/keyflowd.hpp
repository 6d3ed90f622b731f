#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/child_process.hpp"
#include "tests/support/http_test_client.hpp"

namespace keyflow::test {

inline constexpr const char* kKeyflowdAdminToken = "e2e-admin-token-for-tests";

// The keyflowd binary as a child process on a test database, with private webhook targets
// allowed (receivers are on loopback), returned once it has announced what its roles announce:
// the embedded broker's bootstrap (KEYFLOW_KAFKA_BROKERS=embedded, the default here) and the
// HTTP port (roles all and serve). Throws when that does not come within 30 s. extra_env
// overrides the defaults (another broker, another admin token).
//
//   RunningKeyflowd keyflowd(KEYFLOWD_PATH, db.url());
//   keyflowd.client().post("/v1/organizations", {{"name", "acme"}});
//   RunningKeyflowd serve(KEYFLOWD_PATH, db.url(), {"serve"}, {{"KEYFLOW_KAFKA_BROKERS", b}});
class RunningKeyflowd {
 public:
  // stderr_path: where its log goes (appended), instead of the test's stderr.
  RunningKeyflowd(const std::string& binary, const std::string& database_url,
                  const std::vector<std::string>& roles = {"all"},
                  const std::map<std::string, std::string>& extra_env = {},
                  const std::string& stderr_path = {});

  // As the admin, with the admin token of the environment.
  HttpTestClient client() const { return {"127.0.0.1", port_, admin_token_}; }
  HttpTestClient client(std::string bearer) const {
    return {"127.0.0.1", port_, std::move(bearer)};
  }
  unsigned short port() const { return port_; }
  const std::string& bootstrap() const { return bootstrap_; }
  ChildProcess& process() { return *process_; }

 private:
  std::optional<ChildProcess> process_;
  std::string admin_token_;
  std::string bootstrap_;
  unsigned short port_ = 0;
};

}  // namespace keyflow::test
