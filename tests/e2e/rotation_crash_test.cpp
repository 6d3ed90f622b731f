// Crash safety of scheduled rotation with real processes: the `schedule` process is killed
// with SIGKILL after a rotation has committed and before its key has reached the owner (its
// first POST failed); after a restart the new key arrives, it works, and the key was rotated
// once.
#include <csignal>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "engine/core/time_format.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/http_test_client.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using test::eventually;
constexpr const char* kAdminToken = "rotation-crash-token";

class RotationCrashTest : public ::testing::Test {
 protected:
  std::map<std::string, std::string> env() const {
    return {{"KEYFLOW_DATABASE_URL", db_.url()},          {"KEYFLOW_KAFKA_BROKERS", "embedded"},
            {"KEYFLOW_HTTP_ADDR", "127.0.0.1:0"},         {"KEYFLOW_ADMIN_TOKEN", kAdminToken},
            {"KEYFLOW_MASTER_KEY", test::kTestMasterKey}, {"KEYFLOW_WEBHOOK_ALLOW_PRIVATE", "1"}};
  }
  std::unique_ptr<test::ChildProcess> start(const std::string& role) const {
    return std::make_unique<test::ChildProcess>(KEYFLOWD_PATH, std::vector<std::string>{role},
                                                env());
  }
  long count(const std::string& sql) {
    pqxx::connection conn(db_.url());
    return pqxx::nontransaction(conn).exec1(sql)[0].as<long>();
  }

  test::TestDatabase db_;
};

TEST_F(RotationCrashTest, ARotatedKeyReachesItsOwnerAfterTheSchedulerIsKilled) {
  test::ChildProcess migrate(KEYFLOWD_PATH, {"migrate"}, env());
  ASSERT_EQ(migrate.wait(60s), std::optional<int>(0));
  auto serve = start("serve");
  const auto address = serve->wait_for_line("http listening on ", 30s);
  ASSERT_TRUE(address);
  const test::HttpTestClient api(
      "127.0.0.1", static_cast<unsigned short>(std::stoi(address->substr(address->rfind(':') + 1))),
      kAdminToken);

  test::WebhookReceiver owner;
  owner.fail_next(1, 503);  // the first POST fails: the key is committed, not delivered
  const auto org = api.post("/v1/organizations", {{"name", "acme"}}).json();
  const auto project =
      api.post("/v1/projects", {{"organization_id", org.at("id")}, {"name", "p"}}).json();
  const auto key =
      api.post("/v1/api-keys",
               {{"project_id", project.at("id")},
                {"name", "rotating"},
                {"rotation_interval_days", 30},
                {"next_rotation_at", format_timestamp(std::chrono::system_clock::now() + 1s)},
                {"rotation_webhook_url", owner.url("/rotated")}})
          .json();
  ASSERT_TRUE(key.as_object().contains("id")) << json::serialize(key);

  auto schedule = start("schedule");
  ASSERT_TRUE(eventually(
      [&] { return count("SELECT count(*) FROM rotation_deliveries WHERE attempts = 1") == 1; },
      30s))
      << "the rotation and its first attempt never happened";
  schedule->signal(SIGKILL);
  schedule->wait(10s);
  EXPECT_EQ(owner.count(), 1u);

  schedule = start("schedule");
  ASSERT_TRUE(owner.wait_for(2, 30s)) << "the new key never reached its owner after the restart";
  const auto delivered = json::parse(owner.requests().back().body).at("data");
  EXPECT_EQ(api.post("/v1/api-keys/verify", {{"key", delivered.at("key")}}).json().at("code"),
            "VALID");
  EXPECT_EQ(owner.requests()[0].header("webhook-id"), owner.requests()[1].header("webhook-id"));
  EXPECT_TRUE(eventually(
      [&] {
        return count(
                   "SELECT count(*) FROM rotation_deliveries WHERE status = 'succeeded'"
                   " AND key_sealed IS NULL") == 1;
      },
      10s));
  EXPECT_EQ(count("SELECT count(*) FROM api_keys"), 2) << "rotated once, not twice";
  std::printf("delivered after the restart; %zu POSTs in all\n", owner.count());
}

}  // namespace
}  // namespace keyflow
