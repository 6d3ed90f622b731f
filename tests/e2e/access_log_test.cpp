// keyflowd's log as a collector reads it: with KEYFLOW_LOG_FORMAT=json every line on stderr
// is one JSON object; serve writes an access line per request (method, route pattern, status,
// duration, request id) and answers with the same id in X-Request-Id, taking the caller's
// when it sends one. No line holds a credential or a key.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/support/keyflowd.hpp"
#include "tests/support/test_database.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

TEST(AccessLogTest, JsonLinesCarryAnAccessLineAndRequestIdPerRequestAndNoSecret) {
  test::TestDatabase db;
  const auto log = (std::filesystem::temp_directory_path() /
                    ("keyflow-logging-test-" + std::to_string(::getpid()) + ".log"))
                       .string();
  std::filesystem::remove(log);
  std::string key;
  std::string created_id;
  {
    test::RunningKeyflowd keyflowd(KEYFLOWD_PATH, db.url(), {"all"},
                                   {{"KEYFLOW_LOG_FORMAT", "json"}}, log);
    const auto admin = keyflowd.client();
    const auto org = admin.post("/v1/organizations", {{"name", "acme"}});
    ASSERT_EQ(org.status, 201) << org.body;
    const auto project =
        admin.post("/v1/projects", {{"organization_id", org.json().at("id")}, {"name", "p"}});
    ASSERT_EQ(project.status, 201) << project.body;
    const auto created =
        admin.post("/v1/api-keys", {{"project_id", project.json().at("id")}, {"name", "k"}});
    ASSERT_EQ(created.status, 201) << created.body;
    key = std::string(created.json().at("key").as_string());
    created_id = created.headers.at("x-request-id");
    EXPECT_EQ(created_id.size(), 24u) << created_id;

    const auto verified =
        admin.request("POST", "/v1/api-keys/verify", json::serialize(json::object{{"key", key}}),
                      {{"X-Request-Id", "caller-chosen.id-1"}});
    EXPECT_EQ(verified.status, 200) << verified.body;
    EXPECT_EQ(verified.headers.at("x-request-id"), "caller-chosen.id-1");
    // An id that is not a plain token is replaced, never echoed.
    const auto odd = admin.request("GET", "/healthz", {}, {{"X-Request-Id", "a b\"c"}});
    EXPECT_NE(odd.headers.at("x-request-id"), "a b\"c");
    EXPECT_EQ(admin.get("/v1/api-keys/no-such-key").status / 100, 4);

    const auto metrics = admin.get("/metrics");
    EXPECT_NE(metrics.body.find("keyflow_http_requests_total{method=\"POST\",route=\"/v1/api-keys/"
                                "verify\",code=\"200\"} 1"),
              std::string::npos)
        << metrics.body;
    EXPECT_NE(metrics.body.find("keyflow_http_request_duration_seconds_count{method=\"POST\","
                                "route=\"/v1/api-keys/verify\"} 1"),
              std::string::npos);
    keyflowd.process().signal(SIGTERM);
    EXPECT_EQ(keyflowd.process().wait(30s), 0);
  }

  const auto lines = lines_of(log);
  ASSERT_FALSE(lines.empty());
  std::vector<json::object> access;
  for (const auto& line : lines) {
    SCOPED_TRACE(line);
    json::error_code ec;
    const auto value = json::parse(line, ec);
    ASSERT_FALSE(ec) << "not JSON";
    ASSERT_TRUE(value.is_object());
    const auto& o = value.as_object();
    EXPECT_TRUE(o.contains("time") && o.contains("level") && o.contains("logger"));
    EXPECT_EQ(line.find(key), std::string::npos) << "the key is in the log";
    EXPECT_EQ(line.find(test::kKeyflowdAdminToken), std::string::npos) << "the admin token is";
    if (o.at("logger") == "access") access.push_back(o);
  }
  const auto find = [&](std::string_view request_id) -> const json::object* {
    for (const auto& a : access) {
      if (a.at("request_id").as_string() == request_id) return &a;
    }
    return nullptr;
  };
  const auto* verify = find("caller-chosen.id-1");
  ASSERT_NE(verify, nullptr);
  EXPECT_EQ(verify->at("method"), "POST");
  EXPECT_EQ(verify->at("route"), "/v1/api-keys/verify");
  EXPECT_EQ(verify->at("status"), 200);
  EXPECT_TRUE(verify->at("duration_ms").is_double());
  const auto* create = find(created_id);
  ASSERT_NE(create, nullptr);
  EXPECT_EQ(create->at("route"), "/v1/api-keys");
  EXPECT_EQ(create->at("status"), 201);
  // The pattern, not the path: ids in paths stay out of the log.
  bool pattern_seen = false;
  for (const auto& a : access)
    pattern_seen = pattern_seen || a.at("route") == "/v1/api-keys/{id}";
  EXPECT_TRUE(pattern_seen);
  EXPECT_GE(access.size(), 7u);
  std::filesystem::remove(log);
}

}  // namespace
}  // namespace keyflow
