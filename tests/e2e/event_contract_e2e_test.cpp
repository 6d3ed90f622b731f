// The event contract through the keyflowd binary: mutations over HTTP, the relay publishing to
// the embedded broker, and the deliverer POSTing webhooks. Every message read back from Kafka
// and every webhook body is validated against schemas/events with valijson.
#include <set>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "tests/support/event_schema.hpp"
#include "tests/support/http_test_client.hpp"
#include "tests/support/kafka_test_consumer.hpp"
#include "tests/support/keyflowd.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines)
    out += "\n  " + line;
  return out;
}

class EventContractE2eTest : public ::testing::Test {
 protected:
  test::HttpTestClient client(std::string bearer = test::kKeyflowdAdminToken) const {
    return keyflowd_.client(std::move(bearer));
  }

  json::object call(const test::HttpTestClient& c, const std::string& method,
                    const std::string& path, const json::value& body, int expected) {
    const auto r = c.request(method, path, body.is_null() ? "" : json::serialize(body),
                             {{"content-type", "application/json"}});
    EXPECT_EQ(r.status, expected) << method << " " << path << " " << r.body;
    return r.body.empty() ? json::object() : r.json().as_object();
  }

  // Outbox rows per aggregate type: what the relay must publish.
  std::map<std::string, std::size_t> outbox_counts() {
    pqxx::connection conn(db_.url());
    pqxx::nontransaction tx(conn);
    std::map<std::string, std::size_t> out;
    for (const auto& row : tx.exec("SELECT aggregate_type, count(*) FROM outbox GROUP BY 1")) {
      out[row[0].c_str()] = row[1].as<std::size_t>();
    }
    return out;
  }

  test::TestDatabase db_;
  test::RunningKeyflowd keyflowd_{KEYFLOWD_PATH, db_.url()};
};

TEST_F(EventContractE2eTest, EveryEventOnKafkaAndEveryWebhookMatchesItsSchema) {
  const test::EventSchemas schemas;
  test::WebhookReceiver receiver;
  const auto admin = client();
  // No filter and no tenant: every event, its own creation included.
  call(admin, "POST", "/v1/webhooks/subscriptions", json::object{{"url", receiver.url()}}, 201);

  const auto org = call(admin, "POST", "/v1/organizations", {{"name", "acme"}}, 201);
  const auto project = call(admin, "POST", "/v1/projects",
                            {{"organization_id", org.at("id")}, {"name", "payments"}}, 201);
  const std::string project_id(project.at("id").as_string());
  const auto live =
      call(admin, "POST", "/v1/projects/" + project_id + "/environments", {{"name", "live"}}, 201);
  const auto manager = call(
      admin, "POST", "/v1/api-keys",
      {{"project_id", project_id}, {"name", "automation"}, {"scopes", json::array{"MANAGE"}}}, 201);
  const auto as_key = client(std::string(manager.at("key").as_string()));

  const auto bare = call(admin, "POST", "/v1/api-keys",
                         {{"organization_id", org.at("id")}, {"name", "bare"}}, 201);
  const auto rich = call(as_key, "POST", "/v1/api-keys",
                         {{"project_id", project_id},
                          {"environment_id", live.at("id")},
                          {"name", "checkout"},
                          {"scopes", json::array{"READ", "orders:write"}},
                          {"expires_at", "2099-01-01T00:00:00Z"},
                          {"rotation_interval_days", 30},
                          {"rotation_webhook_url", "https://hooks.example.com/rotated"},
                          {"meta", {{"team", "payments"}}},
                          {"allowed_cidrs", json::array{"10.0.0.0/8"}}},
                         201);
  const std::string rich_id(rich.at("id").as_string());
  const std::string bare_id(bare.at("id").as_string());
  call(as_key, "PATCH", "/v1/api-keys/" + rich_id,
       {{"name", "checkout v2"}, {"enabled", false}, {"meta", nullptr}, {"expires_at", nullptr}},
       200);
  call(admin, "POST", "/v1/api-keys/" + bare_id + "/rotate", {{"grace_period_seconds", 60}}, 200);
  call(as_key, "DELETE", "/v1/api-keys/" + rich_id, nullptr, 204);

  // Connections and their write keys.
  const auto r = admin.request(
      "POST", "/v1/connections",
      json::serialize(json::object{{"project_id", project_id}, {"type", "sdk"}, {"name", "web"}}),
      {{"content-type", "application/json"}});
  ASSERT_EQ(r.status, 201) << r.body;
  const auto id = std::to_string(r.json().at("id").to_number<std::int64_t>());
  call(admin, "POST", "/v1/connections/" + id + "/event-write-keys", json::object{}, 201);
  call(admin, "DELETE", "/v1/connections/" + id, nullptr, 204);

  // Every row reaches its topic (at least once), and every message read matches its schema.
  const auto counts = outbox_counts();
  std::size_t total = 0;
  std::set<std::string> types;
  for (const auto& [aggregate, count] : counts) {
    total += count;
    const auto topic = "keyflow." + aggregate + "s";
    test::KafkaTestConsumer consumer(keyflowd_.bootstrap(), topic);
    const auto messages = consumer.wait_for(count, 30s);
    EXPECT_GE(messages.size(), count) << topic;
    for (const auto& m : messages) {
      types.insert(m.headers.count("ce_type") ? m.headers.at("ce_type") : "?");
      const auto problems = schemas.validate_kafka(m.topic, m.key, m.headers, m.value);
      EXPECT_TRUE(problems.empty())
          << topic << "@" << m.offset << " " << m.value << joined(problems);
    }
  }
  const std::vector<std::string> expected = {"webhook_subscription.created",
                                             "api_key.created",
                                             "api_key.updated",
                                             "api_key.rotated",
                                             "api_key.revoked",
                                             "connection.created",
                                             "connection.deleted",
                                             "event_write_key.created",
                                             "event_write_key.deleted"};
  for (const auto& t : expected) {
    EXPECT_TRUE(types.contains(t)) << t << " never reached Kafka";
  }

  // One webhook per event: the same contract, in the webhook envelope.
  ASSERT_TRUE(receiver.wait_for(total, 60s))
      << receiver.count() << " of " << total << " webhooks arrived";
  std::set<std::string> delivery_ids;
  for (const auto& request : receiver.requests()) {
    const auto problems = schemas.validate_webhook(request.body);
    EXPECT_TRUE(problems.empty()) << request.body << joined(problems);
    const auto body = json::parse(request.body);
    EXPECT_EQ(request.header("webhook-id"), body.at("id").as_string());
    delivery_ids.insert(request.header("webhook-id"));
  }
  EXPECT_GE(delivery_ids.size(), total);
}

}  // namespace
}  // namespace keyflow
