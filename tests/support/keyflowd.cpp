#include "tests/support/keyflowd.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "tests/support/test_database.hpp"

namespace keyflow::test {

RunningKeyflowd::RunningKeyflowd(const std::string& binary, const std::string& database_url,
                                 const std::vector<std::string>& roles,
                                 const std::map<std::string, std::string>& extra_env,
                                 const std::string& stderr_path) {
  std::map<std::string, std::string> env = {
      {"KEYFLOW_DATABASE_URL", database_url}, {"KEYFLOW_KAFKA_BROKERS", "embedded"},
      {"KEYFLOW_HTTP_ADDR", "127.0.0.1:0"},   {"KEYFLOW_ADMIN_TOKEN", kKeyflowdAdminToken},
      {"KEYFLOW_MASTER_KEY", kTestMasterKey}, {"KEYFLOW_WEBHOOK_ALLOW_PRIVATE", "true"},
  };
  for (const auto& [name, value] : extra_env)
    env[name] = value;
  admin_token_ = env["KEYFLOW_ADMIN_TOKEN"];
  process_.emplace(binary, roles, env, stderr_path);
  using namespace std::chrono_literals;
  const auto runs = [&](const char* role) {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
  };
  if (env["KEYFLOW_KAFKA_BROKERS"] == "embedded" && !runs("migrate")) {
    const auto bootstrap = process_->wait_for_line("kafka bootstrap ", 30s);
    if (!bootstrap) throw std::runtime_error("keyflowd did not announce its broker");
    bootstrap_ = *bootstrap;
  }
  if (runs("all") || runs("serve")) {
    const auto http = process_->wait_for_line("http listening on ", 30s);
    if (!http) throw std::runtime_error("keyflowd did not start serving");
    port_ = static_cast<unsigned short>(std::stoi(http->substr(http->rfind(':') + 1)));
  }
}

}  // namespace keyflow::test
