// The topics as a stock Kafka client reads them: kafka-python from Debian, in a consumer
// group, with no codec plugin (tests/tools/stock_consumer.py). It reads every event keyflow
// publishes by default, CloudEvents headers and all; and it cannot read what a relay set to
// lz4 publishes, which is why none is the default.
#include <cstdio>
#include <set>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/support/keyflowd.hpp"
#include "tests/support/test_database.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;

struct Read {
  int exit_code = -1;
  std::vector<json::object> messages;
  std::string errors;
};

Read read_topic(const std::string& bootstrap, const std::string& topic, int messages) {
  const auto command = "/usr/bin/python3 " + std::string(KEYFLOW_SOURCE_DIR) +
                       "/tests/tools/stock_consumer.py " + bootstrap + " " + topic + " " +
                       std::to_string(messages) + " 30 2>&1";
  Read out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char line[65536];
  while (fgets(line, sizeof line, pipe) != nullptr) {
    json::error_code ec;
    auto value = json::parse(line, ec);
    if (!ec && value.is_object()) {
      out.messages.push_back(std::move(value.as_object()));
    } else {
      out.errors += line;
    }
  }
  const int status = pclose(pipe);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Three keys created: three api_key.created events to read.
std::vector<std::string> make_keys(const test::RunningKeyflowd& keyflowd) {
  const auto admin = keyflowd.client();
  const auto org = admin.post("/v1/organizations", {{"name", "acme"}}).json();
  const auto project =
      admin.post("/v1/projects", {{"organization_id", org.at("id")}, {"name", "p"}}).json();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    const auto key =
        admin.post("/v1/api-keys", {{"project_id", project.at("id")}, {"name", "k"}}).json();
    ids.emplace_back(key.at("id").as_string());
  }
  return ids;
}

TEST(StockConsumerTest, AStockClientReadsEveryEventUncompressed) {
  test::TestDatabase db;
  test::RunningKeyflowd keyflowd(KEYFLOWD_PATH, db.url());
  const auto ids = make_keys(keyflowd);
  const auto read = read_topic(keyflowd.bootstrap(), "keyflow.api_keys", 3);
  ASSERT_EQ(read.exit_code, 0) << read.errors;
  ASSERT_EQ(read.messages.size(), 3u) << read.errors;
  std::set<std::string> seen;
  for (const auto& m : read.messages) {
    const auto& headers = m.at("headers").as_object();
    EXPECT_EQ(headers.at("ce_specversion"), "1.0");
    EXPECT_EQ(headers.at("ce_type"), "api_key.created");
    EXPECT_EQ(headers.at("content-type"), "application/json");
    EXPECT_EQ(headers.at("ce_sequence").as_string().size(), 20u);
    const auto value = json::parse(m.at("value").as_string());
    EXPECT_EQ(value.at("id"), m.at("key"));
    seen.insert(std::string(m.at("key").as_string()));
  }
  EXPECT_EQ(seen, std::set<std::string>(ids.begin(), ids.end()));
}

TEST(StockConsumerTest, AStockClientCannotReadLz4WhichIsWhyItIsNotTheDefault) {
  test::TestDatabase db;
  test::RunningKeyflowd keyflowd(KEYFLOWD_PATH, db.url(), {"all"},
                                 {{"KEYFLOW_KAFKA_COMPRESSION", "lz4"}});
  make_keys(keyflowd);
  const auto read = read_topic(keyflowd.bootstrap(), "keyflow.api_keys", 3);
  EXPECT_EQ(read.exit_code, 2) << read.errors;
  EXPECT_TRUE(read.messages.empty());
  EXPECT_NE(read.errors.find("Codec"), std::string::npos) << read.errors;
}

}  // namespace
}  // namespace keyflow
