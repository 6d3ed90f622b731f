#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/child_process.hpp"
#include "tests/support/http_test_client.hpp"

namespace keyflow::test {

inline constexpr const char* kKeyflowdAdminToken = "e2e-admin-token";

// The keyflowd binary as a child process on a test database and its embedded broker, with
// private webhook targets allowed (receivers are on loopback), returned once it has announced
// its Kafka bootstrap and HTTP port. Throws when it does not start within 30 s.
//
//   RunningKeyflowd keyflowd(KEYFLOWD_PATH, db.url());
//   keyflowd.client().post("/v1/organizations", {{"name", "acme"}});
class RunningKeyflowd {
 public:
  RunningKeyflowd(const std::string& binary, const std::string& database_url,
                  const std::vector<std::string>& roles = {"all"},
                  const std::map<std::string, std::string>& extra_env = {});

  HttpTestClient client(std::string bearer = kKeyflowdAdminToken) const {
    return {"127.0.0.1", port_, std::move(bearer)};
  }
  unsigned short port() const { return port_; }
  const std::string& bootstrap() const { return bootstrap_; }
  ChildProcess& process() { return *process_; }

 private:
  std::optional<ChildProcess> process_;
  std::string bootstrap_;
  unsigned short port_ = 0;
};

}  // namespace keyflow::test
