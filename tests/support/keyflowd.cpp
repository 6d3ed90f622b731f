#include "tests/support/keyflowd.hpp"

#include <chrono>
#include <stdexcept>

#include "tests/support/test_database.hpp"

namespace keyflow::test {

RunningKeyflowd::RunningKeyflowd(const std::string& binary, const std::string& database_url,
                                 const std::vector<std::string>& roles,
                                 const std::map<std::string, std::string>& extra_env) {
  std::map<std::string, std::string> env = {
      {"KEYFLOW_DATABASE_URL", database_url}, {"KEYFLOW_KAFKA_BROKERS", "embedded"},
      {"KEYFLOW_HTTP_ADDR", "127.0.0.1:0"},   {"KEYFLOW_ADMIN_TOKEN", kKeyflowdAdminToken},
      {"KEYFLOW_MASTER_KEY", kTestMasterKey}, {"KEYFLOW_WEBHOOK_ALLOW_PRIVATE", "true"},
  };
  for (const auto& [name, value] : extra_env)
    env[name] = value;
  process_.emplace(binary, roles, env);
  using namespace std::chrono_literals;
  auto bootstrap = process_->wait_for_line("kafka bootstrap ", 30s);
  auto http = process_->wait_for_line("http listening on ", 30s);
  if (!bootstrap || !http) throw std::runtime_error("keyflowd did not start");
  bootstrap_ = *bootstrap;
  port_ = static_cast<unsigned short>(std::stoi(http->substr(http->rfind(':') + 1)));
}

}  // namespace keyflow::test
