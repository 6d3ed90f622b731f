// compose.yaml and the Dockerfile are the deployment a newcomer copies: nothing checks them by
// running Docker here, so this reads them. Every service the stack needs is there with a
// health check, every keyflow service runs a role keyflowd has, and every KEYFLOW_* variable
// either names a setting or is a librdkafka property keyflowd accepts; the image is
// multi-stage and runs as a non-root user.
#include <regex>
#include <set>
#include <yaml-cpp/yaml.h>

#include <gtest/gtest.h>

#include "keyflowd/config.hpp"
#include "outbox/kafka_config.hpp"
#include "tests/support/source_tree.hpp"

namespace keyflow {
namespace {

const std::set<std::string> kRoles = {"serve", "relay", "deliver", "schedule", "migrate"};

// Why keyflowd would not take the variable, or "".
std::string unknown_variable(const std::string& name) {
  if (usage().find("  " + name + "  ") != std::string::npos) return {};
  const auto property = kafka_property_of_variable(name);
  if (!property.empty()) {
    const auto err = check_kafka_property(property, "x");
    // A property librdkafka knows is fine whatever this test's placeholder value.
    if (err.empty() || err.find("no property") == std::string::npos) return {};
    return err;
  }
  return name + " is not a keyflowd setting";
}

// The node with YAML merge keys ("<<: *anchor", which compose.yaml uses and yaml-cpp leaves
// as a plain key) applied, as Docker Compose applies them: the node's own keys win.
YAML::Node merged(const YAML::Node& node) {
  if (node.IsSequence()) {
    YAML::Node out(YAML::NodeType::Sequence);
    for (const auto& item : node)
      out.push_back(merged(item));
    return out;
  }
  if (!node.IsMap()) return node;
  YAML::Node out(YAML::NodeType::Map);
  for (const auto& entry : node) {
    const auto key = entry.first.as<std::string>();
    if (key != "<<") out[key] = merged(entry.second);
  }
  if (const auto base = node["<<"]) {
    for (const auto& entry : merged(base)) {
      const auto key = entry.first.as<std::string>();
      if (!out[key]) out[key] = entry.second;
    }
  }
  return out;
}

TEST(DeploymentFiles, ComposeRunsEveryRoleWithKnownSettingsAndHealthChecks) {
  const auto compose = merged(YAML::LoadFile(test::source_path("compose.yaml")));
  const auto services = compose["services"];
  ASSERT_TRUE(services.IsMap());
  for (const char* name :
       {"postgres", "kafka", "migrate", "serve", "relay", "deliver", "schedule"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(services[name]) << "no service " << name;
    // migrate runs once; everything else must say when it is healthy.
    if (std::string(name) != "migrate") {
      EXPECT_TRUE(services[name]["healthcheck"]);
    }
  }
  std::set<std::string> roles_run;
  for (const auto& service : services) {
    const auto name = service.first.as<std::string>();
    const auto& body = service.second;
    if (!body["image"] || body["image"].as<std::string>() != "keyflow:local") continue;
    SCOPED_TRACE(name);
    ASSERT_TRUE(body["command"] && body["command"].IsSequence());
    const auto role = body["command"][0].as<std::string>();
    EXPECT_TRUE(kRoles.contains(role)) << role;
    roles_run.insert(role);
    ASSERT_TRUE(body["environment"].IsMap());
    for (const auto& variable : body["environment"]) {
      const auto variable_name = variable.first.as<std::string>();
      if (!variable_name.starts_with("KEYFLOW_")) continue;
      EXPECT_EQ(unknown_variable(variable_name), "") << variable_name;
    }
    EXPECT_TRUE(body["environment"]["KEYFLOW_DATABASE_URL"]);
    EXPECT_TRUE(body["environment"]["KEYFLOW_MASTER_KEY"]);
    if (role != "migrate" && role != "schedule") {
      EXPECT_TRUE(body["environment"]["KEYFLOW_KAFKA_BROKERS"]);
    }
  }
  EXPECT_EQ(roles_run, kRoles);
  // Kafka in KRaft mode: the broker is its own controller, no ZooKeeper.
  const auto kafka = services["kafka"]["environment"];
  EXPECT_NE(kafka["KAFKA_PROCESS_ROLES"].as<std::string>().find("controller"), std::string::npos);
  EXPECT_FALSE(kafka["KAFKA_ZOOKEEPER_CONNECT"]);
}

TEST(DeploymentFiles, TheImageIsMultiStageAndRunsAsANonRootUser) {
  const auto dockerfile = test::read_source_file("Dockerfile");
  const std::regex from(R"(^FROM\s+\S+(\s+AS\s+(\S+))?)", std::regex::multiline);
  int stages = 0;
  for (auto it = std::sregex_iterator(dockerfile.begin(), dockerfile.end(), from);
       it != std::sregex_iterator(); ++it) {
    ++stages;
  }
  EXPECT_GE(stages, 2) << "the build tools must stay out of the runtime image";
  EXPECT_NE(dockerfile.find("FROM debian:bookworm-slim"), std::string::npos);
  std::smatch user;
  ASSERT_TRUE(std::regex_search(dockerfile, user, std::regex(R"(\nUSER\s+(\S+))")));
  EXPECT_NE(user[1].str().substr(0, 4), "root");
  EXPECT_NE(user[1].str().substr(0, 1), "0");
  const std::regex env(R"(\nENV\s+(KEYFLOW_[A-Z_]+)=)");
  for (auto it = std::sregex_iterator(dockerfile.begin(), dockerfile.end(), env);
       it != std::sregex_iterator(); ++it) {
    EXPECT_EQ(unknown_variable((*it)[1].str()), "") << (*it)[1].str();
  }
  std::smatch cmd;
  ASSERT_TRUE(std::regex_search(dockerfile, cmd, std::regex(R"re(\nCMD \["([a-z]+)"\])re")));
  EXPECT_TRUE(kRoles.contains(cmd[1].str()));
}

}  // namespace
}  // namespace keyflow
