// Secrets stay secret wherever keyflow writes: after an end-to-end run that makes every kind
// of secret (API keys, one of them rotated, a rotation webhook secret, a webhook signing
// secret and its rotation, an Ed25519 signing key, event write keys), none of them appears in
// plaintext in a pg_dump of the database, in any line keyflowd logged (debug level, librdkafka
// included), or in any Kafka message of any topic, headers included.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>
#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "outbox/topics.hpp"
#include "tests/support/kafka_test_consumer.hpp"
#include "tests/support/keyflowd.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[65536];
  std::size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0)
    out.append(buffer, n);
  pclose(pipe);
  return out;
}

// Every secret a response hands out: the values of its members named for one, at any depth.
void collect_secrets(const json::value& v, std::set<std::string>& out) {
  static const std::set<std::string> names = {"key", "secret", "rotation_webhook_secret",
                                              "write_key", "signing_key"};
  if (v.is_object()) {
    for (const auto& [name, member] : v.as_object()) {
      if (member.is_string() && names.contains(std::string(name))) {
        const std::string s(member.as_string());
        out.insert(s);
        // whsec_<base64>: the key material alone, too.
        if (s.starts_with("whsec_")) out.insert(s.substr(6));
      }
      collect_secrets(member, out);
    }
  } else if (v.is_array()) {
    for (const auto& item : v.as_array())
      collect_secrets(item, out);
  }
}

TEST(SecretsAtRestTest, NoSecretInTheDatabaseDumpTheLogsOrKafka) {
  test::TestDatabase db;
  const auto log = (std::filesystem::temp_directory_path() /
                    ("keyflow-secrets-test-" + std::to_string(::getpid()) + ".log"))
                       .string();
  std::filesystem::remove(log);
  test::WebhookReceiver subscriber;
  test::WebhookReceiver owner;
  std::set<std::string> secrets;
  std::string bootstrap;
  std::string kafka;  // every message of every topic, key, value and headers
  std::size_t messages = 0;
  {
    test::RunningKeyflowd keyflowd(KEYFLOWD_PATH, db.url(), {"all"},
                                   {{"KEYFLOW_LOG_LEVEL", "debug"}}, log);
    bootstrap = keyflowd.bootstrap();
    const auto admin = keyflowd.client();
    const auto post = [&](const std::string& path, const json::value& body, int status = 201) {
      const auto r = admin.post(path, body);
      EXPECT_EQ(r.status, status) << path << " " << r.body;
      auto parsed = r.body.empty() ? json::value() : r.json();
      collect_secrets(parsed, secrets);
      return parsed;
    };
    const auto org = post("/v1/organizations", {{"name", "acme"}});
    const auto project = post("/v1/projects", {{"organization_id", org.at("id")}, {"name", "p"}});
    const auto subscription =
        post("/v1/webhooks/subscriptions", {{"url", subscriber.url()}, {"ed25519", true}});
    const auto id_of = [](const json::value& v) {
      return v.at("id").is_string() ? std::string(v.at("id").as_string())
                                    : json::serialize(v.at("id"));
    };
    const auto subscription_id = id_of(subscription);
    post("/v1/webhooks/subscriptions/" + subscription_id + "/rotate-secret",
         {{"overlap_seconds", 3600}}, 200);
    collect_secrets(admin.get("/v1/webhooks/subscriptions/" + subscription_id + "/secret").json(),
                    secrets);

    const auto key = post("/v1/api-keys", {{"project_id", project.at("id")},
                                           {"name", "rotating"},
                                           {"rotation_webhook_url", owner.url("/rotated")}});
    const std::string key_id(key.at("id").as_string());
    post("/v1/api-keys/" + key_id + "/rotate", {{"grace_period_seconds", 3600}}, 200);
    post("/v1/api-keys/" + key_id + "/rotation-secret", json::object{}, 200);
    post("/v1/api-keys/verify", {{"key", key.at("key")}}, 200);

    const auto connection =
        post("/v1/connections", {{"project_id", project.at("id")}, {"type", "sdk"}, {"name", "w"}});
    const auto connection_id = id_of(connection);
    post("/v1/connections/" + connection_id + "/event-write-keys", json::object{});

    // The rotation webhook carries the new key to its owner (the one place it may go), and
    // the subscriber gets the events.
    ASSERT_TRUE(owner.wait_for(1, 30s)) << "the rotation webhook never arrived";
    ASSERT_TRUE(subscriber.wait_for(3, 30s)) << "the webhooks never arrived";

    // Every event on Kafka, read back while the broker (in this process) runs.
    for (int i = 0; i < 300 && db.count("SELECT count(*) FROM outbox WHERE published_at IS NULL");
         ++i) {
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(all_topics().size(), 5u) << "a topic this test does not read";
    for (const std::string aggregate :
         {"api_key", "event_write_key", "connection", "webhook_subscription", "webhook"}) {
      const auto published = static_cast<std::size_t>(
          db.count("SELECT count(*) FROM outbox WHERE aggregate_type = '" + aggregate + "'"));
      if (published == 0) continue;
      test::KafkaTestConsumer consumer(bootstrap, topic_for_aggregate(aggregate));
      for (const auto& m : consumer.wait_for(published, 30s)) {
        ++messages;
        kafka += m.key + "\n" + m.value + "\n";
        for (const auto& [name, value] : m.headers)
          kafka += name + ": " + value + "\n";
      }
    }
    keyflowd.process().signal(SIGTERM);
    EXPECT_EQ(keyflowd.process().wait(30s), 0);
  }
  // Fewer than this would mean the collection above missed the responses' secrets.
  ASSERT_GE(secrets.size(), 8u);
  for (const auto& s : secrets)
    ASSERT_GE(s.size(), 16u) << "not a secret: " << s;

  const auto dump = run("pg_dump --no-owner '" + db.url() + "' 2>&1");
  ASSERT_NE(dump.find("CREATE TABLE public.api_keys"), std::string::npos) << dump.substr(0, 500);
  const auto logged = read_file(log);
  ASSERT_NE(logged.find("[debug]"), std::string::npos) << "the log is not at debug level";

  EXPECT_EQ(static_cast<long>(messages), db.count("SELECT count(*) FROM outbox"));
  EXPECT_GE(messages, 8u);
  std::filesystem::remove(log);
  for (const auto& secret : secrets) {
    SCOPED_TRACE(secret.substr(0, 12) + "...");
    EXPECT_EQ(dump.find(secret), std::string::npos) << "in the database dump";
    EXPECT_EQ(logged.find(secret), std::string::npos) << "in the log";
    EXPECT_EQ(kafka.find(secret), std::string::npos) << "in a Kafka message";
  }
  std::printf("checked %zu secrets against a %zu-byte dump, %zu bytes of log, %zu messages\n",
              secrets.size(), dump.size(), logged.size(), messages);
}

}  // namespace
}  // namespace keyflow
