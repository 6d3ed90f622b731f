// Two serve processes share one database and one Kafka: a revoke through one reaches the
// other's verify cache through the key events, well before the cache's TTL.
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/support/http_test_client.hpp"
#include "tests/support/keyflowd.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/verify_race.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr const char* kAdminToken = "multi-serve-token";

class MultiServeTest : public ::testing::Test {
 protected:
  test::HttpTestClient first() const { return first_.client(kAdminToken); }
  test::HttpTestClient second() const { return second_.client(kAdminToken); }

  std::map<std::string, std::string> env() const {
    return {{"KEYFLOW_KAFKA_BROKERS", broker_.bootstrap()}, {"KEYFLOW_ADMIN_TOKEN", kAdminToken}};
  }

  json::object create_key(const std::string& project) {
    const auto r = first().post("/v1/api-keys", {{"project_id", project}, {"name", "k"}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().as_object();
  }
  std::string code_on_second(const json::value& key) {
    return std::string(
        second().post("/v1/api-keys/verify", {{"key", key}}).json().at("code").as_string());
  }
  // How long until the second process answers REVOKED for a key revoked through the first.
  std::optional<std::chrono::milliseconds> revoke_and_wait(const json::object& key,
                                                           std::chrono::milliseconds limit) {
    EXPECT_EQ(code_on_second(key.at("key")), "VALID");  // now cached in the second process
    EXPECT_EQ(code_on_second(key.at("key")), "VALID");
    const auto start = Clock::now();
    EXPECT_EQ(first().del("/v1/api-keys/" + std::string(key.at("id").as_string())).status, 204);
    while (Clock::now() - start < limit) {
      if (code_on_second(key.at("key")) == "REVOKED") {
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      }
      std::this_thread::sleep_for(20ms);
    }
    return std::nullopt;
  }

  test::TestDatabase db_;
  // A broker of its own; the first process runs every role (relay included), the second
  // only serves.
  test::RunningKeyflowd broker_{KEYFLOWD_PATH, "", {"broker"}};
  test::RunningKeyflowd first_{KEYFLOWD_PATH, db_.url(), {"all"}, env()};
  test::RunningKeyflowd second_{KEYFLOWD_PATH, db_.url(), {"serve"}, env()};
};

TEST_F(MultiServeTest, RevokeThroughOneServeProcessFailsVerifyOnAnotherWithinASecond) {
  const auto org = first().post("/v1/organizations", {{"name", "acme"}}).json();
  const auto project =
      first().post("/v1/projects", {{"organization_id", org.at("id")}, {"name", "p"}}).json();
  const std::string project_id(project.at("id").as_string());

  // Warm-up: the second process's cache follower joins its consumer group in a few seconds.
  ASSERT_TRUE(revoke_and_wait(create_key(project_id), 30s).has_value())
      << "invalidation never reached the second process";

  const auto took = revoke_and_wait(create_key(project_id), 10s);
  ASSERT_TRUE(took.has_value()) << "the second process kept answering VALID";
  EXPECT_LT(took->count(), 1000) << "revoke reached the other process after " << took->count()
                                 << " ms";
  std::printf("revoke visible on the other serve process after %lld ms\n",
              static_cast<long long>(took->count()));
}

// /metrics tells how many keys a serve process holds in its verify cache: a verified key is
// one of them.
TEST_F(MultiServeTest, MetricsCountTheKeysInTheVerifyCache) {
  const auto org = first().post("/v1/organizations", {{"name", "acme"}}).json();
  const auto project =
      first().post("/v1/projects", {{"organization_id", org.at("id")}, {"name", "p"}}).json();
  const auto cached = [&] {
    const auto body = second().get("/metrics").body;
    const auto at = body.find("\nkeyflow_verify_cache_keys ");
    EXPECT_NE(at, std::string::npos) << body;
    return at == std::string::npos ? -1 : std::stoi(body.substr(at + 27));
  };
  EXPECT_EQ(cached(), 0);
  const auto key = create_key(std::string(project.at("id").as_string()));
  // The cache keeps keys once the process has joined the coherence protocol, in a few seconds.
  int seen = 0;
  for (const auto until = Clock::now() + 30s; seen == 0 && Clock::now() < until;) {
    EXPECT_EQ(code_on_second(key.at("key")), "VALID");
    seen = cached();
    if (seen == 0) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(seen, 1);
}

// The strict form: once a PATCH {"enabled":false} or a revoke through one process has
// returned, no verify on either process answers VALID, while verifiers hammer both.
TEST_F(MultiServeTest, OnceADisablingChangeReturnsNoServeProcessAnswersValid) {
  const auto org = first().post("/v1/organizations", {{"name", "acme"}}).json();
  const auto project =
      first().post("/v1/projects", {{"organization_id", org.at("id")}, {"name", "p"}}).json();
  const std::string project_id(project.at("id").as_string());
  int stale_total = 0;
  int verifies_total = 0;
  for (int round = 0; round < 10; ++round) {
    const auto key = create_key(project_id);
    const std::string id(key.at("id").as_string());
    EXPECT_EQ(code_on_second(key.at("key")), "VALID");  // cached in the second process
    const auto race =
        test::race_verifies({first(), second(), second(), second()}, key.at("key"), [&] {
          const auto r = round % 2 == 0 ? first().request("PATCH", "/v1/api-keys/" + id,
                                                          R"({"enabled":false})")
                                        : first().del("/v1/api-keys/" + id);
          EXPECT_LT(r.status, 300) << r.body;
        });
    EXPECT_EQ(race.valid_after_change, 0) << "round " << round << ": VALID after the change";
    stale_total += race.valid_after_change;
    verifies_total += race.verifies;
  }
  std::printf("%d verifies raced 10 disabling changes; %d answered VALID after the change\n",
              verifies_total, stale_total);
}

}  // namespace
}  // namespace keyflow
