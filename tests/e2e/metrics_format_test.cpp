// /metrics as Prometheus reads it: the page parses with the Prometheus client library's own
// parser (tests/tools/check_metrics.py), every family has a type, counters are counters, and
// the families an operator watches are there after a short end-to-end run.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/support/keyflowd.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// The checker's exit code and what it printed.
std::pair<int, std::string> check(const std::string& page, const std::vector<std::string>& want) {
  const auto file = (std::filesystem::temp_directory_path() /
                     ("keyflow-metrics-" + std::to_string(::getpid()) + ".txt"))
                        .string();
  std::ofstream(file) << page;
  std::string command =
      // Debian's Python, which has Debian's python3-prometheus-client (scripts/lib/packages).
      "/usr/bin/python3 " + std::string(KEYFLOW_SOURCE_DIR) + "/tests/tools/check_metrics.py " +
      file;
  for (const auto& w : want)
    command += " " + w;
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "cannot run " + command};
  char buffer[4096];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr)
    out += buffer;
  const int status = pclose(pipe);
  std::filesystem::remove(file);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(MetricsFormatTest, APrometheusParserReadsEveryFamilyWithItsType) {
  test::TestDatabase db;
  test::RunningKeyflowd keyflowd(KEYFLOWD_PATH, db.url());
  test::WebhookReceiver receiver;
  const auto admin = keyflowd.client();
  const auto org = admin.post("/v1/organizations", {{"name", "acme"}}).json();
  const auto project =
      admin.post("/v1/projects", {{"organization_id", org.at("id")}, {"name", "p"}}).json();
  ASSERT_EQ(admin.post("/v1/webhooks/subscriptions", {{"url", receiver.url()}}).status, 201);
  const auto key = admin.post("/v1/api-keys", {{"project_id", project.at("id")}, {"name", "k"}});
  ASSERT_EQ(key.status, 201) << key.body;
  EXPECT_EQ(admin.post("/v1/api-keys/verify", {{"key", key.json().at("key")}})
                .json()
                .at("code")
                .as_string(),
            "VALID");
  EXPECT_EQ(admin.post("/v1/api-keys/verify", {{"key", "kf_live_nosuchkey"}})
                .json()
                .at("code")
                .as_string(),
            "MALFORMED");
  ASSERT_TRUE(receiver.wait_for(1, 30s)) << "no webhook arrived";
  std::string page;
  // The attempt is recorded, and counted, just after the receiver answers.
  for (int i = 0; i < 100; ++i) {
    page = admin.get("/metrics").body;
    if (page.find("keyflow_webhook_attempts_total{queue=\"deliver\",outcome=\"succeeded\"} 0\n") ==
        std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  const auto [code, out] = check(
      page,
      {"keyflow_http_requests:counter", "keyflow_http_request_duration_seconds:histogram",
       "keyflow_verify:counter", "keyflow_outbox_backlog_rows:gauge",
       "keyflow_outbox_oldest_unpublished_age_seconds:gauge", "keyflow_relay_published:counter",
       "keyflow_relay_produce_errors:counter", "keyflow_relay_publish_latency_seconds:histogram",
       "keyflow_webhook_attempts:counter", "keyflow_webhook_attempt_duration_seconds:histogram",
       "keyflow_webhook_disabled_subscriptions:gauge"});
  EXPECT_EQ(code, 0) << out << "\n" << page;
  EXPECT_NE(page.find("keyflow_verify_total{code=\"VALID\"} 1"), std::string::npos) << page;
  EXPECT_NE(page.find("keyflow_verify_total{code=\"MALFORMED\"} 1"), std::string::npos);
  EXPECT_EQ(page.find("keyflow_relay_publish_latency_seconds_count 0"), std::string::npos)
      << "no publication was timed";
  std::printf("%s", out.c_str());
}

// relay, deliver and schedule alone have /metrics too, on KEYFLOW_METRICS_ADDR, each with
// its own figures, in a page the parser reads.
TEST(MetricsFormatTest, EveryRoleAloneAnswersMetricsOnItsOwnAddress) {
  test::TestDatabase db;
  {
    test::RunningKeyflowd migrate(KEYFLOWD_PATH, db.url(), {"migrate"});
    ASSERT_EQ(migrate.process().wait(60s), 0);
  }
  const std::map<std::string, std::vector<std::string>> families = {
      {"relay", {"keyflow_relay_published:counter", "keyflow_outbox_backlog_rows:gauge"}},
      {"deliver", {"keyflow_webhook_attempts:counter"}},
      {"schedule", {"keyflow_scheduler_lag_seconds:gauge"}},
  };
  for (const auto& [role, want] : families) {
    SCOPED_TRACE(role);
    test::RunningKeyflowd process(KEYFLOWD_PATH, db.url(), {role},
                                  {{"KEYFLOW_METRICS_ADDR", "127.0.0.1:0"}});
    const auto line = process.process().wait_for_line("metrics listening on ", 30s);
    ASSERT_TRUE(line) << "no metrics address announced";
    const auto port = static_cast<unsigned short>(std::stoi(line->substr(line->rfind(':') + 1)));
    const test::HttpTestClient client("127.0.0.1", port);
    EXPECT_EQ(client.get("/healthz").status, 200);
    const auto page = client.get("/metrics");
    ASSERT_EQ(page.status, 200);
    const auto [code, out] = check(page.body, want);
    EXPECT_EQ(code, 0) << out << "\n" << page.body;
  }
}

}  // namespace
}  // namespace keyflow
