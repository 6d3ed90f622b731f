// Crash safety of scheduled rotation with real processes: the `schedule` process is killed
// with SIGKILL after a rotation has committed and before its key has reached the owner (its
// first POST failed); after a restart the new key arrives, it works, and the key was rotated
// once.
#include <csignal>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "engine/core/time_format.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/keyflowd.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using test::eventually;
class RotationCrashTest : public ::testing::Test {
 protected:
  std::unique_ptr<test::RunningKeyflowd> start(const std::string& role) const {
    return std::make_unique<test::RunningKeyflowd>(KEYFLOWD_PATH, db_.url(),
                                                   std::vector<std::string>{role});
  }

  test::TestDatabase db_;
};

TEST_F(RotationCrashTest, ARotatedKeyReachesItsOwnerAfterTheSchedulerIsKilled) {
  auto migrate = start("migrate");
  ASSERT_EQ(migrate->process().wait(60s), std::optional<int>(0));
  const auto serve = start("serve");
  const auto api = serve->client();

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
      [&] { return db_.count("SELECT count(*) FROM rotation_deliveries WHERE attempts = 1") == 1; },
      30s))
      << "the rotation and its first attempt never happened";
  schedule->process().signal(SIGKILL);
  schedule->process().wait(10s);
  EXPECT_EQ(owner.count(), 1u);

  schedule = start("schedule");
  ASSERT_TRUE(owner.wait_for(2, 30s)) << "the new key never reached its owner after the restart";
  const auto delivered = json::parse(owner.requests().back().body).at("data");
  EXPECT_EQ(api.post("/v1/api-keys/verify", {{"key", delivered.at("key")}}).json().at("code"),
            "VALID");
  EXPECT_EQ(owner.requests()[0].header("webhook-id"), owner.requests()[1].header("webhook-id"));
  EXPECT_TRUE(eventually(
      [&] {
        return db_.count(
                   "SELECT count(*) FROM rotation_deliveries WHERE status = 'succeeded'"
                   " AND key_sealed IS NULL") == 1;
      },
      10s));
  EXPECT_EQ(db_.count("SELECT count(*) FROM api_keys"), 2) << "rotated once, not twice";
  std::printf("delivered after the restart; %zu POSTs in all\n", owner.count());
}

}  // namespace
}  // namespace keyflow
